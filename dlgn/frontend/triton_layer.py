"""Fused Triton kernels for the relaxed logic layer (IWP k = 1..6, OP as k = 2 soft tables).

``logic_forward_triton(x[B, in], idx[out, k], omega[out, 2**k]) -> y[B, out]`` computes the
multilinear extension ``y = sum_u omega_u prod_i x_i^{u_i} (1 - x_i)^{1 - u_i}`` (x_0 is the
most significant bit of u, DESIGN.md s.2), differentiable in x and omega, as in
:func:`dlgn.frontend.functional.logic_forward_torch`.

Kernels (one straight-line Triton kernel per arity, generated from a template):

* forward -- a program owns a tile of ``BG`` gates x ``BB`` samples: it gathers the k input
  rows, loads the gates' 2**k table entries and evaluates the form as a depth-first tree of
  ``2**k - 1`` linear interpolations (x_0 at the root).  Interpolation keeps every
  intermediate a convex combination of table entries, so the fp32 error stays ~k ulp (the
  monomial / Horner form has cancellations of size 2**(k-1)).  Only O(k) values per sample
  are live at a time.
* backward -- a program owns ``BG`` gates and walks the whole batch: it recomputes the
  gathers, gets ``dy/dx_i`` as the interpolation over the other k - 1 inputs of the table
  differences ``omega[u | bit_i] - omega[u]`` and scatters ``g * dy/dx_i`` with float32
  atomics; ``grad_omega[g, u] = sum_b g_b * minterm_u(x_b)`` is built depth-first
  (``2**(k+1) - 2`` products) and reduced over the batch in registers, so nothing per-sample
  is written to memory.  grad_omega never uses atomics: it is always deterministic.
* deterministic grad_x (``deterministic=True``) -- a reverse index (CSR of each input's
  consumers ``(gate, slot)``, in gate order, :func:`build_reverse_index`) and one program
  per (input feature, batch block) that sums the recomputed contributions of its consumers
  in that fixed order: bit-reproducible, no atomics, no per-edge buffer; it costs a gather
  of the k inputs per edge.

Layout.  Kernels read and write activations **feature-major** (``[features, B]``, batch
contiguous), as difflogic does: a gate's input is then a contiguous row, so a warp's gather
of one input for consecutive samples is one coalesced transaction; with ``[B, features]``
every gathered element would be a separate 32-byte sector (idx is random).  The public
``[B, feat]`` function transposes *views* only: it returns ``y`` as the transposed view of a
contiguous ``[out, B]`` tensor, so in a chain of layers the next layer's ``x.t()`` is
contiguous again and nothing is copied; only a batch-major input (the first layer's) is
copied once to feature-major.  The kernels themselves take arbitrary strides:
``layout="as_is"`` runs them on batch-major activations without any copy, which is how
``benchmarks/train_gpu_bench.py`` (method ``triton_iwp_bm``) measures the choice on a GPU.

Tiles: 4 warps, up to 128 samples per block; gates per tile by arity (``_FWD_TILE``,
``_BWD_TILE``), chosen so that every kernel builds for sm_90 with <= 96 registers and no
spills (checked in the tests through Triton's ahead-of-time compiler, no GPU needed).

Precision.  Activations float32 or bfloat16; table entries, accumulation and all
arithmetic float32; y and grad_x are returned in x's dtype (grad_x accumulated in float32,
then rounded once); grad_omega in omega's dtype.

Triton is imported lazily (``import dlgn`` works without it).  On CPU tensors the kernels
run only under ``TRITON_INTERPRET=1`` (Triton's interpreter; used by the tests).
"""
from __future__ import annotations

import functools
import linecache
import logging
import os
from typing import NamedTuple

import torch

__all__ = ["logic_forward_triton", "logic_forward_triton_fm", "triton_available",
           "build_reverse_index", "ReverseIndex", "kernel_source", "MAX_ARITY"]

log = logging.getLogger(__name__)

MAX_ARITY = 6
_ACT_DTYPES = (torch.float32, torch.bfloat16)
# Elements per tile (gates x samples) by arity, with 4 warps and 128 samples per block.
# Chosen from ptxas resource usage of the sm_90 build (compiled without a GPU): the largest
# tile that stays at <= ~96 registers per thread with no spills (the backward at k = 6
# needs 96 at 1 x 128; 2 x 128 would take 168).  Not yet timed on a GPU.
_FWD_TILE = {1: 2048, 2: 1024, 3: 512, 4: 256, 5: 512, 6: 512}
_BWD_TILE = {1: 1024, 2: 512, 3: 256, 4: 256, 5: 128, 6: 128}
_MAX_BB = 128


def _interpret() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0").strip().lower() in ("1", "true", "yes", "on")


def triton_available(device=None) -> bool:
    """True when Triton imports; with ``device``, when the kernels can run on that device
    (CUDA with a GPU, or any device under ``TRITON_INTERPRET=1``)."""
    try:
        import triton  # noqa: F401
    except Exception:  # ImportError, or a broken install
        return False
    if device is None:
        return True
    dev = torch.device(device)
    if _interpret():
        return True
    return dev.type == "cuda" and torch.cuda.is_available()


# ----------------------------------------------------------------------------------------
# Kernel source generation: straight-line code per arity.

def _lerp_tree(vals: list[str], xs: list[str], lines: list[str], tmp: list[int], ind: str) -> str:
    """Depth-first interpolation of ``vals`` (2**m names, x_0 = MSB) over ``xs`` (m names)."""
    if not xs:
        return vals[0]
    h = len(vals) // 2
    lo = _lerp_tree(vals[:h], xs[1:], lines, tmp, ind)
    hi = _lerp_tree(vals[h:], xs[1:], lines, tmp, ind)
    tmp[0] += 1
    name = f"t{tmp[0]}"
    lines.append(f"{ind}{name} = {lo} + {xs[0]} * ({hi} - {lo})")
    return name


def _minterm_tree(node: str, d: int, u: int, k: int, lines: list[str], tmp: list[int], ind: str):
    """Depth-first minterms times ``node``: leaf u adds its batch sum into acc{u}."""
    if d == k:
        lines.append(f"{ind}acc{u} += tl.sum({node}, axis=1)")
        return
    tmp[0] += 1
    n1 = f"m{tmp[0]}"
    tmp[0] += 1
    n0 = f"m{tmp[0]}"
    lines.append(f"{ind}{n1} = {node} * x{d}")
    lines.append(f"{ind}{n0} = {node} - {n1}")
    _minterm_tree(n0, d + 1, 2 * u, k, lines, tmp, ind)
    _minterm_tree(n1, d + 1, 2 * u + 1, k, lines, tmp, ind)


def _split_index(v: int, pos: int) -> int:
    """Insert a 0 bit at position ``pos`` (from the LSB) into ``v``."""
    return ((v >> pos) << (pos + 1)) | (v & ((1 << pos) - 1))


def _src_forward(k: int) -> str:
    nu = 1 << k
    i4 = " " * 4
    lines = [
        f"def logic_fwd_k{k}(x_ptr, idx_ptr, w_ptr, y_ptr, G, B, sxf, sxb, syg, syb,",
        "                BG: tl.constexpr, BB: tl.constexpr):",
        f"{i4}og = tl.program_id(0) * BG + tl.arange(0, BG)",
        f"{i4}ob = tl.program_id(1) * BB + tl.arange(0, BB)",
        f"{i4}mg = og < G",
        f"{i4}m = mg[:, None] & (ob < B)[None, :]",
        f"{i4}og64 = og.to(tl.int64)",
        f"{i4}cb = ob.to(tl.int64)[None, :] * sxb",
    ]
    for i in range(k):
        lines.append(f"{i4}a{i} = tl.load(idx_ptr + og64 * {k} + {i}, mask=mg, other=0).to(tl.int64)")
        lines.append(f"{i4}x{i} = tl.load(x_ptr + a{i}[:, None] * sxf + cb, mask=m, other=0.0)"
                     ".to(tl.float32)")
    for u in range(nu):
        lines.append(f"{i4}w{u} = tl.load(w_ptr + og64 * {nu} + {u}, mask=mg, other=0.0)[:, None]")
    tmp = [0]
    y = _lerp_tree([f"w{u}" for u in range(nu)], [f"x{i}" for i in range(k)], lines, tmp, i4)
    lines.append(f"{i4}yp = y_ptr + og64[:, None] * syg + ob.to(tl.int64)[None, :] * syb")
    lines.append(f"{i4}tl.store(yp, {y}.to(y_ptr.dtype.element_ty), mask=m)")
    return "\n".join(lines) + "\n"


def _src_backward(k: int) -> str:
    nu = 1 << k
    i4, i8, i12 = " " * 4, " " * 8, " " * 12
    lines = [
        f"def logic_bwd_k{k}(x_ptr, idx_ptr, w_ptr, gy_ptr, gx_ptr, gw_ptr, G, B,",
        "                sxf, sxb, sgg, sgb, sgxf, sgxb,",
        "                BG: tl.constexpr, BB: tl.constexpr,",
        "                NEED_GX: tl.constexpr, NEED_GW: tl.constexpr):",
        f"{i4}og = tl.program_id(0) * BG + tl.arange(0, BG)",
        f"{i4}mg = og < G",
        f"{i4}og64 = og.to(tl.int64)",
    ]
    for i in range(k):
        lines.append(f"{i4}a{i} = tl.load(idx_ptr + og64 * {k} + {i}, mask=mg, other=0).to(tl.int64)")
    lines.append(f"{i4}wp = w_ptr + og64 * {nu}")
    for u in range(nu):
        lines.append(f"{i4}acc{u} = tl.zeros([BG], dtype=tl.float32)")
    lines += [
        f"{i4}for b0 in range(0, B, BB):",
        f"{i8}ob = b0 + tl.arange(0, BB)",
        f"{i8}m = mg[:, None] & (ob < B)[None, :]",
        f"{i8}ob64 = ob.to(tl.int64)[None, :]",
    ]
    for i in range(k):
        lines.append(f"{i8}x{i} = tl.load(x_ptr + a{i}[:, None] * sxf + ob64 * sxb, mask=m, "
                     "other=0.0).to(tl.float32)")
    lines.append(f"{i8}gy = tl.load(gy_ptr + og64[:, None] * sgg + ob64 * sgb, mask=m, "
                 "other=0.0).to(tl.float32)")
    lines.append(f"{i8}if NEED_GX:")
    tmp = [0]
    for i in range(k):
        pos = k - 1 - i  # table differences along input i, loaded where they are used
        for v in range(nu // 2):  # (per-gate values held for the whole loop would spill)
            u0 = _split_index(v, pos)
            lines.append(f"{i12}d{i}_{v} = (tl.load(wp + {u0 | (1 << pos)}, mask=mg, other=0.0) - "
                         f"tl.load(wp + {u0}, mask=mg, other=0.0))[:, None]")
        dx = _lerp_tree([f"d{i}_{v}" for v in range(nu // 2)],
                        [f"x{j}" for j in range(k) if j != i], lines, tmp, i12)
        lines.append(f"{i12}tl.atomic_add(gx_ptr + a{i}[:, None] * sgxf + ob64 * sgxb, gy * {dx}, "
                     "mask=m, sem='relaxed')")
    lines.append(f"{i8}if NEED_GW:")
    _minterm_tree("gy", 0, 0, k, lines, tmp, i12)
    lines.append(f"{i4}if NEED_GW:")
    for u in range(nu):
        lines.append(f"{i8}tl.store(gw_ptr + og64 * {nu} + {u}, acc{u}, mask=mg)")
    return "\n".join(lines) + "\n"


def _src_grad_x_csr(k: int) -> str:
    nu = 1 << k
    i4, i8 = " " * 4, " " * 8
    lines = [
        f"def logic_gx_csr_k{k}(x_ptr, idx_ptr, w_ptr, gy_ptr, gx_ptr, rowptr_ptr, edge_ptr, B,",
        "                     sxf, sxb, sgg, sgb, sof, sob, BB: tl.constexpr):",
        f"{i4}f = tl.program_id(0)",
        f"{i4}ob = tl.program_id(1) * BB + tl.arange(0, BB)",
        f"{i4}mb = ob < B",
        f"{i4}ob64 = ob.to(tl.int64)",
        f"{i4}start = tl.load(rowptr_ptr + f)",
        f"{i4}end = tl.load(rowptr_ptr + f + 1)",
        f"{i4}acc = tl.zeros([BB], dtype=tl.float32)",
        f"{i4}for e in range(start, end):",
        f"{i8}code = tl.load(edge_ptr + e).to(tl.int64)",
        f"{i8}g = code // {k}",
        f"{i8}s = code % {k}",
    ]
    for j in range(k):
        lines.append(f"{i8}a{j} = tl.load(idx_ptr + g * {k} + {j}).to(tl.int64)")
        lines.append(f"{i8}x{j} = tl.load(x_ptr + a{j} * sxf + ob64 * sxb, mask=mb, other=0.0)"
                     ".to(tl.float32)")
    lines.append(f"{i8}gy = tl.load(gy_ptr + g * sgg + ob64 * sgb, mask=mb, other=0.0).to(tl.float32)")
    lines.append(f"{i8}pos = {k - 1} - s")
    lines.append(f"{i8}bit = (1 << pos).to(tl.int64)")
    lines.append(f"{i8}low = bit - 1")
    lines.append(f"{i8}wg = w_ptr + g * {nu}")
    for v in range(nu // 2):
        lines.append(f"{i8}u{v} = (({v} >> pos) << (pos + 1)) | ({v} & low)")
        lines.append(f"{i8}d{v} = tl.load(wg + u{v} + bit) - tl.load(wg + u{v})")
    for t in range(k - 1):  # the inputs other than slot s, in order
        lines.append(f"{i8}r{t} = tl.where({t} < s, x{t}, x{t + 1})")
    tmp = [0]
    dx = _lerp_tree([f"d{v}" for v in range(nu // 2)], [f"r{t}" for t in range(k - 1)],
                    lines, tmp, i8)
    lines.append(f"{i8}acc += gy * {dx}")
    lines.append(f"{i4}tl.store(gx_ptr + f * sof + ob64 * sob, acc.to(gx_ptr.dtype.element_ty), "
                 "mask=mb)")
    return "\n".join(lines) + "\n"


_SOURCES = {"fwd": _src_forward, "bwd": _src_backward, "gx_csr": _src_grad_x_csr}


def kernel_source(kind: str, k: int) -> str:
    """The generated Triton source of kernel ``kind`` ('fwd', 'bwd', 'gx_csr') for arity k."""
    if kind not in _SOURCES:
        raise ValueError(f"unknown kernel kind {kind!r}; expected one of {sorted(_SOURCES)}")
    if not 1 <= int(k) <= MAX_ARITY:
        raise ValueError(f"arity must be 1..{MAX_ARITY}, got {k}")
    return "@triton.jit\n" + _SOURCES[kind](int(k))


@functools.lru_cache(maxsize=None)
def _kernel(kind: str, k: int, interpret: bool):
    """Define a generated kernel: a Triton JIT function, or the interpreter's stand-in when
    ``interpret``.  Its source is registered in ``linecache`` under a pseudo file name, which
    is where Triton (jit and interpreter) reads it from."""
    import triton
    import triton.language as tl
    from triton.runtime.jit import JITFunction

    kernel_source(kind, k)  # validates
    src = "import triton\nimport triton.language as tl\n\n" + _SOURCES[kind](int(k))
    fname = f"<dlgn-triton-{kind}-k{k}-{'interp' if interpret else 'jit'}>"
    linecache.cache[fname] = (len(src), None, src.splitlines(True), fname)
    namespace = {"triton": triton, "tl": tl, "__name__": f"dlgn.frontend.triton_layer._gen_{kind}_k{k}"}
    exec(compile(src, fname, "exec"), namespace)
    name = {"fwd": "logic_fwd", "bwd": "logic_bwd", "gx_csr": "logic_gx_csr"}[kind]
    log.debug("defined Triton kernel %s_k%d (interpret=%s)", name, k, interpret)
    if interpret:
        from triton.runtime.interpreter import InterpretedFunction
        return InterpretedFunction(namespace[f"{name}_k{k}"])
    return JITFunction(namespace[f"{name}_k{k}"])


# ----------------------------------------------------------------------------------------
# Reverse index (CSR of consumers) for the deterministic input gradient.

class ReverseIndex(NamedTuple):
    """Consumers of each input feature: edges ``rowptr[f]:rowptr[f+1]`` of ``edges`` hold
    ``g * k + slot`` codes in increasing order (int32)."""
    rowptr: torch.Tensor  # int32 [n_in + 1]
    edges: torch.Tensor   # int32 [out * k]
    n_in: int
    n_gates: int
    arity: int


def build_reverse_index(idx: torch.Tensor, n_in: int) -> ReverseIndex:
    """The CSR of consumers of each of ``n_in`` inputs for connections ``idx[out, k]``.
    Build it once per layer (connections are fixed) and pass it as ``reverse_index=``."""
    if idx.dim() != 2 or idx.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"idx must be an integer tensor [out, k], got {idx.dtype} {tuple(idx.shape)}")
    n_in = int(n_in)
    flat = idx.reshape(-1).to(torch.int64)
    if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= n_in):
        raise ValueError(f"idx has entries outside [0, {n_in})")
    if flat.numel() >= 2**31:
        raise ValueError("too many connections for an int32 reverse index")
    order = torch.sort(flat, stable=True).indices  # stable: equal features keep g*k+slot order
    counts = torch.bincount(flat, minlength=n_in)
    rowptr = torch.zeros(n_in + 1, dtype=torch.int64, device=idx.device)
    rowptr[1:] = torch.cumsum(counts, 0)
    return ReverseIndex(rowptr.to(torch.int32), order.to(torch.int32), n_in,
                        int(idx.shape[0]), int(idx.shape[1]))


# ----------------------------------------------------------------------------------------
# The autograd Function (feature-major tensors).

def _next_pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


def _blocks(k: int, B: int, table: dict, block_g, block_b) -> tuple[int, int]:
    bb = block_b or max(16, min(_MAX_BB, _next_pow2(B)))
    bg = block_g or max(1, table[k] // bb)
    for name, v in (("block_b", bb), ("block_g", bg)):
        if v < 1 or v & (v - 1):
            raise ValueError(f"{name} must be a power of two, got {v}")
    return bg, bb


class _LogicFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xt, idx32, w32, deterministic, rev, block_g, block_b, as_is):
        n_in, B = xt.shape
        G, k = idx32.shape
        if B > 1 and xt.stride(1) != 1 and not as_is:
            xt = xt.contiguous()  # batch-major input: one copy to feature-major (coalesced gathers)
        y = _alloc(G, B, xt.dtype, xt.device, zero=False, like=xt if as_is else None)
        if G and B:
            bg, bb = _blocks(k, B, _FWD_TILE, block_g, block_b)
            grid = (_cdiv(G, bg), _cdiv(B, bb))
            _kernel("fwd", k, _interpret())[grid](
                xt, idx32, w32, y, G, B, xt.stride(0), xt.stride(1), y.stride(0), y.stride(1),
                BG=bg, BB=bb)
        ctx.save_for_backward(xt, idx32, w32)
        ctx.opts = (deterministic, rev, block_g, block_b, as_is)
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gy):
        xt, idx32, w32 = ctx.saved_tensors
        deterministic, rev, block_g, block_b, as_is = ctx.opts
        need_gx, need_gw = ctx.needs_input_grad[0], ctx.needs_input_grad[2]
        n_in, B = xt.shape
        G, k = idx32.shape
        if B > 1 and gy.stride(1) != 1 and not as_is:
            gy = gy.contiguous()
        like = xt if as_is else None
        gx = gw = None
        atomic_gx = need_gx and not deterministic
        if atomic_gx:
            gx = _alloc(n_in, B, torch.float32, xt.device, zero=True, like=like)
        if need_gw:
            gw = torch.zeros(G, 1 << k, dtype=torch.float32, device=xt.device)
        if G and B and (atomic_gx or need_gw):
            bg, bb = _blocks(k, B, _BWD_TILE, block_g, block_b)
            dummy = gw if gw is not None else gx
            _kernel("bwd", k, _interpret())[(_cdiv(G, bg),)](
                xt, idx32, w32, gy, gx if atomic_gx else dummy, gw if need_gw else dummy,
                G, B, xt.stride(0), xt.stride(1), gy.stride(0), gy.stride(1),
                *(gx.stride() if atomic_gx else (0, 0)),
                BG=bg, BB=bb, NEED_GX=bool(atomic_gx), NEED_GW=bool(need_gw))
        if need_gx and deterministic:
            if rev is None:
                rev = build_reverse_index(idx32, n_in)
            gx = _alloc(n_in, B, xt.dtype, xt.device, zero=False, like=like)
            if n_in and B:
                _, bb = _blocks(k, B, _BWD_TILE, block_g, block_b)
                _kernel("gx_csr", k, _interpret())[(n_in, _cdiv(B, bb))](
                    xt, idx32, w32, gy, gx, rev.rowptr, rev.edges, B,
                    xt.stride(0), xt.stride(1), gy.stride(0), gy.stride(1),
                    gx.stride(0), gx.stride(1), BB=bb)
        if gx is not None and gx.dtype != xt.dtype:
            gx = gx.to(xt.dtype)
        return gx, None, gw, None, None, None, None, None


def _alloc(rows, cols, dtype, device, zero, like=None):
    """A [rows, cols] tensor, feature-major (contiguous) unless ``like`` is batch-major."""
    make = torch.zeros if zero else torch.empty
    if like is not None and cols > 1 and like.stride(1) != 1:
        return make(cols, rows, dtype=dtype, device=device).t()
    return make(rows, cols, dtype=dtype, device=device)


def _cdiv(a: int, b: int) -> int:
    return -(-int(a) // int(b))


# ----------------------------------------------------------------------------------------
# Public entry points.

def _prepare(xt: torch.Tensor, idx: torch.Tensor, omega: torch.Tensor, reverse_index,
             check_index) -> tuple[torch.Tensor, torch.Tensor]:
    for name, t in (("x", xt), ("idx", idx), ("omega", omega)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if xt.dim() != 2:
        raise ValueError(f"x must be 2-D, got shape {tuple(xt.shape)}")
    if xt.dtype not in _ACT_DTYPES:
        raise TypeError(f"x must be float32 or bfloat16 for the Triton kernels, got {xt.dtype}")
    if idx.dim() != 2 or idx.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"idx must be an integer tensor [out, k], got {idx.dtype} {tuple(idx.shape)}")
    k = idx.shape[1]
    if not 1 <= k <= MAX_ARITY:
        raise ValueError(f"arity must be 1..{MAX_ARITY}, got {k}")
    if omega.dim() != 2 or omega.shape[0] != idx.shape[0] or omega.shape[1] != (1 << k):
        raise ValueError(f"omega must be [out={idx.shape[0]}, 2**k={1 << k}], got {tuple(omega.shape)}")
    if not omega.dtype.is_floating_point:
        raise TypeError(f"omega must be floating point, got {omega.dtype}")
    dev = xt.device
    if idx.device != dev or omega.device != dev:
        raise ValueError(f"x, idx and omega must be on one device, got {dev}, {idx.device}, {omega.device}")
    if not triton_available(dev):
        raise RuntimeError(f"the Triton kernels cannot run on {dev}: they need triton and a CUDA "
                           "device (or TRITON_INTERPRET=1 for the CPU interpreter)")
    if xt.shape[0] >= 2**31 or idx.shape[0] >= 2**31:
        raise ValueError("too many features for int32 indices")
    if check_index is None:
        check_index = dev.type != "cuda"  # on CUDA a range check would synchronize the stream
    if check_index and idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= xt.shape[0]):
        raise ValueError(f"idx has entries outside [0, {xt.shape[0]})")
    if reverse_index is not None:
        ri = reverse_index
        if not isinstance(ri, ReverseIndex) or (ri.n_in, ri.n_gates, ri.arity) != (
                xt.shape[0], idx.shape[0], k):
            raise ValueError("reverse_index does not match (n_in, out, k) of this call; build it "
                             "with build_reverse_index(idx, n_in)")
    idx32 = idx.to(torch.int32).contiguous()
    return idx32, omega.to(torch.float32).contiguous()


_LAYOUTS = ("feature_major", "as_is")


def logic_forward_triton_fm(xt: torch.Tensor, idx: torch.Tensor, omega: torch.Tensor, *,
                            deterministic: bool = False, reverse_index: ReverseIndex | None = None,
                            check_index: bool | None = None, layout: str = "feature_major",
                            block_g: int | None = None, block_b: int | None = None) -> torch.Tensor:
    """Feature-major form: ``xt[in, B] -> y[out, B]`` (contiguous).  See the module doc.

    ``deterministic``: grad_x through the reverse index (bit-reproducible) instead of atomics;
    ``reverse_index``: a precomputed :func:`build_reverse_index` (else built per backward);
    ``check_index``: range-check idx (default: on the CPU only; on CUDA it would sync);
    ``layout``: "feature_major" (default: a batch-major ``xt`` or incoming gradient is copied
    to feature-major once, y is feature-major) or "as_is" (no copies: the kernels read the
    given strides and y, grad_x follow x's layout; for measuring the layouts);
    ``block_g`` / ``block_b``: tile sizes (powers of two), for tuning and tests."""
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be one of {_LAYOUTS}, got {layout!r}")
    idx32, w32 = _prepare(xt, idx, omega, reverse_index, check_index)
    return _LogicFunction.apply(xt, idx32, w32, bool(deterministic), reverse_index, block_g,
                                block_b, layout == "as_is")


def logic_forward_triton(x: torch.Tensor, idx: torch.Tensor, omega: torch.Tensor, *,
                         deterministic: bool = False, reverse_index: ReverseIndex | None = None,
                         check_index: bool | None = None, layout: str = "feature_major",
                         block_g: int | None = None, block_b: int | None = None) -> torch.Tensor:
    """Relaxed logic layer on Triton: ``x[B, in] -> y[B, out]``, returned as the transposed
    view of a contiguous ``[out, B]`` tensor (so chained layers never copy).  Options as in
    :func:`logic_forward_triton_fm` (with ``layout="as_is"`` a batch-major x gives a
    batch-major y)."""
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        raise ValueError("x must be a 2-D tensor [batch, in_features]")
    return logic_forward_triton_fm(x.t(), idx, omega, deterministic=deterministic,
                                   reverse_index=reverse_index, check_index=check_index,
                                   layout=layout, block_g=block_g, block_b=block_b).t()
