"""CUDA for the weight-shared form of a convolutional logic net (:mod:`dlgn.compiler.shared`).

The same ``.cu`` conventions, host API and loader as :mod:`dlgn.backends.cuda` (``_pack``,
``_eval_packed``, ``_run``, the byte-size helpers and cudart wrappers of
:data:`dlgn.backends.cuda.API`), so :mod:`dlgn.runtime.cuda_build` and the CPU shim
(``cuda_shim.h``) take it unchanged; only the evaluation differs:

* every conv stage is **one kernel device function** (straight-line code over the receptive
  field, its inputs at constant offsets from a base pointer), launched once per stage with
  one thread per (output position, word of samples): the code is the size of the kernel,
  not of the positions, and the positions run in parallel;
* OR pooling is one thread per (channel, position, word);
* the tail (dense layers and the GroupSum head) is :class:`~dlgn.backends.cuda.CudaEmitter`'s
  kernel over the last stage's features.

Buffers live in the scratch workspace, laid out as :func:`dlgn.compiler.shared.buffer_layout`
says, each as ``[tile][cells][DLGN_BLOCK]`` words (consecutive threads read consecutive
words); their zero borders are cleared by one ``cudaMemsetAsync`` per launch.  Threads never
communicate, so the same text runs on the CPU through the shim (CI checks it there).

Deterministic: the same SharedNet emits the same bytes.
"""
from __future__ import annotations

from pathlib import Path

from ..compiler.shared import ConvStage, SharedNet, buffer_layout
from .cfamily import CFamilyEmitter
from .cuda import DEFAULT_CHUNK_GATES, SHIM_HEADER, CudaEmitter, c_name, shim_path

__all__ = ["emit_shared", "write_files", "SharedCudaEmitter"]


class _KernelEmitter(CFamilyEmitter):
    """A kernel netlist as one device function: input ``i`` is ``x[offsets[i] * BLOCK]``,
    output ``k`` is stored at ``o[k * out_stride * BLOCK]``; one chunk, so no scratch."""

    WORD = "W"
    ZERO = "W0"
    ONES = "W1"
    RESTRICT = "__restrict__"
    CHUNK_QUAL = "static __device__ __forceinline__"
    BLOCK_QUAL = "static __device__ __forceinline__"

    def __init__(self, net, prefix, offsets, out_stride):
        self._offsets = offsets
        self._ostride = out_stride
        super().__init__(net, chunk_gates=max(1, net.n_gates + 1), prefix=prefix, head=False)

    def in_ref(self, i: int) -> str:
        return f"x[{self._offsets[i]} * DLGN_BLOCK]"

    def out_store(self, k: int, expr: str) -> str:
        return f"o[{k * self._ostride} * DLGN_BLOCK] = {expr};"

    def chunk_params(self) -> str:
        return ("const W* __restrict__ x, W* __restrict__ s, W* __restrict__ o, "
                "W* __restrict__ r")


class SharedCudaEmitter:
    """The ``.cu`` of a SharedNet (see the module docstring).  ``word_bits``, ``name``,
    ``chunk_gates``, ``storage`` and ``min_blocks`` are :class:`CudaEmitter`'s options,
    applied to the tail; ``storage`` is set once :meth:`emit` has run."""

    def __init__(self, sn: SharedNet, word_bits: int = 32, name: str = "model",
                 chunk_gates: int = DEFAULT_CHUNK_GATES, storage: str = "auto",
                 min_blocks: int = 0):
        if not isinstance(sn, SharedNet):
            raise TypeError(f"expected a dlgn SharedNet, got {type(sn).__name__}")
        self.sn = sn.check()
        self.prefix = c_name(name)
        self.tail = CudaEmitter(sn.tail, word_bits=word_bits, name=f"{self.prefix}_t",
                                chunk_gates=chunk_gates, storage=storage,
                                min_blocks=min_blocks)
        self.word_bits = self.tail.word_bits
        self.storage = None
        self.geo = buffer_layout(sn)
        self.buffer_cells = self.geo[-1]["off"] + sn.tail.n_inputs if sn.stages else 0

    # ---- device code
    def _scatter(self) -> list[str]:
        """The packed input planes -> stage 0's zero-bordered buffer (one thread a word)."""
        st, g = self.sn.stages[0], self.geo[0]
        n = getattr(st, "interleave", 1)
        C, H, W, p, Hp, Wp = (g[k] for k in ("C", "H", "W", "p", "Hp", "Wp"))
        cells = C * Hp * Wp
        return [
            "/* the packed inputs P[tile][NIN][BLOCK] -> stage 0's buffer "
            f"[tile][{C}][{Hp}][{Wp}][BLOCK] */",
            f"__global__ void __launch_bounds__(DLGN_BLOCK) {self.prefix}_scatter_kernel("
            "const W* __restrict__ P, W* __restrict__ A, long long nw)",
            "{",
            "    const long long w = (long long)blockIdx.x * DLGN_BLOCK + threadIdx.x;",
            "    if (w >= nw) return;",
            "    const W* p = P + (long long)blockIdx.x * (DLGN_NIN * DLGN_BLOCK) + threadIdx.x;",
            f"    W* a = A + (long long)blockIdx.x * ({cells}LL * DLGN_BLOCK) + threadIdx.x;",
            f"    for (int c = 0; c < {C}; ++c)",
            f"        for (int y = 0; y < {H}; ++y)",
            f"            for (int xx = 0; xx < {W}; ++xx)",
            f"                a[(long long)((c * {Hp} + y + {p}) * {Wp} + xx + {p}) * DLGN_BLOCK] ="
            f" p[(long long)((((c / {n}) * {H} + y) * {W} + xx) * {n} + c % {n}) * DLGN_BLOCK];",
            "}",
            ""]

    def _stage(self, i: int) -> tuple[list[str], str]:
        """(the device code of stage ``i``, the host statement launching it)."""
        st, src, dst, pre = self.sn.stages[i], self.geo[i], self.geo[i + 1], self.prefix
        (Ho, Wo), q = st.out_hw, dst["p"]
        cin = src["C"] * src["Hp"] * src["Wp"]
        cout = dst["C"] * dst["Hp"] * dst["Wp"]
        cstride = dst["Hp"] * dst["Wp"]
        s = st.stride
        head = [f"__global__ void __launch_bounds__(DLGN_BLOCK) {pre}_stage{i}_kernel("
                "const W* __restrict__ A, W* __restrict__ B, long long nw)",
                "{"]
        if isinstance(st, ConvStage):
            k, C = st.kernel, st.in_shape[0]
            offs = [(c * src["Hp"] + dy) * src["Wp"] + dx
                    for c in range(C) for dy in range(k) for dx in range(k)]
            em = _KernelEmitter(st.net, f"{pre}_k{i}", offs, cstride)
            body = em.body_chunks()
            if len(body) != 1 or em.n_slots:      # a kernel is one chunk: no scratch slots
                raise RuntimeError(f"internal: stage {i}'s kernel took {len(body)} chunks and "
                                   f"{em.n_slots} slots")
            npos = Ho * Wo
            L = [f"/* stage {i}: the kernel of a {k}x{k} conv {tuple(st.in_shape)} -> "
                 f"{tuple(st.out_shape)}, {st.net.n_gates} gates */", em.emit_eval(), *head,
                 f"    const long long tile = blockIdx.x / {npos}, pos = blockIdx.x % {npos};",
                 "    const long long w = tile * DLGN_BLOCK + threadIdx.x;",
                 "    if (w >= nw) return;",
                 f"    const long long y = pos / {Wo}, xx = pos % {Wo};",
                 f"    const W* x = A + tile * ({cin}LL * DLGN_BLOCK) + threadIdx.x"
                 f" + (y * {s * src['Wp']} + xx * {s}) * DLGN_BLOCK;",
                 f"    W* o = B + tile * ({cout}LL * DLGN_BLOCK) + threadIdx.x"
                 f" + ((y + {q}) * {dst['Wp']} + xx + {q}) * DLGN_BLOCK;",
                 f"    {pre}_k{i}_eval_block(x, 0, o, 0);",
                 "}", ""]
            per_tile = npos
        else:
            k, C = st.kernel, st.in_shape[0]
            terms = " | ".join(f"x[{dy * src['Wp'] + dx} * DLGN_BLOCK]"
                               for dy in range(k) for dx in range(k))
            per_tile = C * Ho * Wo
            L = [f"/* stage {i}: OR pool {k}x{k} stride {s}, {tuple(st.in_shape)} -> "
                 f"{tuple(st.out_shape)} */", *head,
                 f"    const long long tile = blockIdx.x / {per_tile}, "
                 f"rest = blockIdx.x % {per_tile};",
                 "    const long long w = tile * DLGN_BLOCK + threadIdx.x;",
                 "    if (w >= nw) return;",
                 f"    const long long c = rest / {Ho * Wo}, y = rest % {Ho * Wo} / {Wo}, "
                 f"xx = rest % {Wo};",
                 f"    const W* x = A + tile * ({cin}LL * DLGN_BLOCK) + threadIdx.x"
                 f" + ((c * {src['Hp']} + y * {s}) * {src['Wp']} + xx * {s}) * DLGN_BLOCK;",
                 f"    B[tile * ({cout}LL * DLGN_BLOCK) + threadIdx.x + (c * {cstride}"
                 f" + (y + {q}) * {dst['Wp']} + xx + {q}) * DLGN_BLOCK] = {terms};",
                 "}", ""]
        launch = (f"    DLGN_LAUNCH({pre}_stage{i}_kernel, tiles * {per_tile}LL, DLGN_BLOCK, st, "
                  f"S + tiles * ({src['off']}LL * DLGN_BLOCK), "
                  f"S + tiles * ({dst['off']}LL * DLGN_BLOCK), nw);")
        return L, launch

    def _host(self, launches: list[str]) -> list[str]:
        pre, t = self.prefix, self.tail.prefix
        cells = self.buffer_cells
        feat = (f"S + tiles * ({self.geo[-1]['off']}LL * DLGN_BLOCK)" if self.sn.stages
                else "P")
        prep = []
        if self.sn.stages:
            prep = [f"    {{ const cudaError_t e = cudaMemsetAsync(S, 0, (size_t)(tiles * "
                    f"({cells}LL * DLGN_BLOCK) * (long long)sizeof(W)), st); if (e) return "
                    "(int)e; }",
                    f"    DLGN_LAUNCH({pre}_scatter_kernel, tiles, DLGN_BLOCK, st, P, S, nw);"]
        return [
            'extern "C" {',
            "",
            f"static long long {pre}_tiles(long long n)",
            "{",
            "    const long long nw = (n + DLGN_WB - 1) / DLGN_WB;",
            "    return (nw + DLGN_BLOCK - 1) / DLGN_BLOCK;",
            "}",
            f"long long {pre}_packed_bytes(long long n) {{ return n <= 0 ? 0 : {pre}_tiles(n) * "
            "DLGN_BLOCK * DLGN_NIN * (long long)sizeof(W); }",
            f"long long {pre}_scratch_bytes(long long n) {{ return n <= 0 ? 0 : {pre}_tiles(n) * "
            "DLGN_BLOCK * (DLGN_BUFW + DLGN_GSLOTS) * (long long)sizeof(W); }",
            f"long long {pre}_outputs_bytes(long long n) {{ return n <= 0 ? 0 : {pre}_tiles(n) * "
            "DLGN_BLOCK * DLGN_NOUT * (long long)sizeof(W); }",
            f"long long {pre}_workspace_bytes(long long n) {{ return {pre}_packed_bytes(n) + "
            f"{pre}_scratch_bytes(n); }}",
            f"int {pre}_word_bits(void) {{ return DLGN_WB; }}",
            f"int {pre}_block(void) {{ return DLGN_BLOCK; }}",
            "",
            f"int {pre}_pack(const unsigned char* X, long long n, W* P, void* stream)",
            "{",
            "    const long long nw = (n + DLGN_WB - 1) / DLGN_WB, total = DLGN_NIN * nw;",
            "    if (n <= 0 || total == 0) return 0;",
            f"    DLGN_LAUNCH({t}_pack_kernel, (total + 255) / 256, 256, (cudaStream_t)stream, "
            "X, n, nw, P);",
            "    return (int)cudaGetLastError();",
            "}",
            "",
            "/* P: packed inputs; S: scratch_bytes(n) (the stage buffers, then the tail's slots);"
            " cls: int64[n]; sc: int32[n][C] or 0; ow: outputs_bytes(n) or 0 */",
            f"int {pre}_eval_packed(const W* P, long long n, W* S, long long* cls, int* sc, W* ow,"
            " void* stream)",
            "{",
            "    if (n <= 0) return 0;",
            "    const long long nw = (n + DLGN_WB - 1) / DLGN_WB;",
            f"    const long long tiles = {pre}_tiles(n);",
            "    cudaStream_t st = (cudaStream_t)stream;",
            "    (void)st;",
            *prep,
            *launches,
            f"    DLGN_LAUNCH({t}_eval_kernel, tiles, DLGN_BLOCK, st, {feat}, "
            "S + tiles * (DLGN_BUFW * DLGN_BLOCK), nw, n, cls, sc, ow);",
            "    return (int)cudaGetLastError();",
            "}",
            "",
            "/* X: uint8/bool rows [n][n_inputs] in device memory; ws: workspace_bytes(n) */",
            f"int {pre}_run(const unsigned char* X, long long n, void* ws, long long* cls, int* sc,"
            " W* ow, void* stream)",
            "{",
            "    if (n <= 0) return 0;",
            "    W* P = (W*)ws;",
            f"    W* S = (W*)((char*)ws + {pre}_packed_bytes(n));",
            f"    const int e = {pre}_pack(X, n, P, stream);",
            f"    return e ? e : {pre}_eval_packed(P, n, S, cls, sc, ow, stream);",
            "}",
            "",
            *self.tail.wrappers(pre),
            "",
            '}  /* extern "C" */',
        ]

    def emit(self) -> str:
        sn, tail = self.sn, self.tail
        storage = self.storage = tail.choose_storage()
        kinds = ", ".join(("conv" if isinstance(s, ConvStage) else "pool") + str(tuple(s.out_shape))
                          for s in sn.stages)
        comment = [
            f"/* Generated by dlgn (CUDA backend, weight-shared form): {sn.n_inputs} inputs, "
            f"stages {kinds or 'none'},",
            f" * {sn.n_kernel_gates} gates written once ({sn.n_gates} evaluated per sample), "
            f"{sn.n_outputs} outputs, {sn.n_classes} classes;",
            f" * {self.word_bits}-sample words; tail slots: {tail.n_slots} in {storage} memory; "
            f"{self.buffer_cells} buffer words a thread."]
        L = tail.preamble(storage, sn.n_inputs, comment)
        L += [f"#define DLGN_BUFW {self.buffer_cells}LL", ""]
        L += tail.pack_kernel()
        launches = []
        if sn.stages:
            L += self._scatter()
            for i in range(len(sn.stages)):
                code, launch = self._stage(i)
                L += code
                launches.append(launch)
        L.append("/* ---- the tail: dense layers and head ---- */")
        L.append(tail.emit_eval())
        L += tail.eval_kernel(storage, tail.n_slots, n_inputs=f"{sn.tail.n_inputs}LL")
        L += self._host(launches)
        return "\n".join(L) + "\n"


def emit_shared(sn: SharedNet, word_bits: int = 32, name: str = "model",
                chunk_gates: int = DEFAULT_CHUNK_GATES, storage: str = "auto",
                min_blocks: int = 0) -> str:
    """The ``.cu`` source of a SharedNet (deterministic text); options as
    :func:`dlgn.backends.cuda.emit`."""
    return SharedCudaEmitter(sn, word_bits, name, chunk_gates, storage, min_blocks).emit()


def write_files(sn: SharedNet, outdir, name: str = "model", **options) -> list[Path]:
    """Write ``<name>.cu`` of the shared form and the shim header into ``outdir`` (atomic)."""
    from ..compiler.atomic import write_text_atomic
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    cu, shim = outdir / f"{name}.cu", outdir / SHIM_HEADER
    write_text_atomic(cu, emit_shared(sn, name=name, **options))
    write_text_atomic(shim, shim_path().read_text())
    return [cu, shim]
