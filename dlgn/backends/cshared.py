"""C for the weight-shared form of a convolutional logic net (:mod:`dlgn.compiler.shared`).

The same portable C99 file and API as :mod:`dlgn.backends.c` (``dlgn_outputs``,
``dlgn_scores``, ``dlgn_predict``, ``dlgn_predict_packed`` and their ``_mt`` forms, the same
packing and threading runtime); only the evaluation of one word of samples differs:

* every conv stage is **one kernel function** (straight-line code over the receptive field,
  its inputs at constant offsets from a base pointer) called in a loop over the output
  positions, so the code size is that of the kernel, not of the positions;
* a stage reads a zero-bordered copy of its input (``[C][H + 2p][W + 2p]`` words: the
  padding is a constant 0 word), and writes its outputs straight into the next stage's
  buffer (or the tail's feature words);
* OR pooling is a loop over windows;
* the tail (dense layers and the GroupSum head) is the straight-line code of
  :class:`dlgn.backends.c.CEmitter` over the last stage's features.

Deterministic: the same SharedNet emits the same bytes.
"""
from __future__ import annotations

from types import SimpleNamespace

from ..compiler.shared import ConvStage, SharedNet, buffer_layout
from .c import _DEFAULT_WB, _PROLOGUE, DEFAULT_CHUNK_GATES, CEmitter, _consts_runtime, cdef, \
    emit_header

__all__ = ["emit_shared", "emit_shared_header", "shared_cdef", "write_files"]


class _KernelEmitter(CEmitter):
    """A kernel netlist as one function of a base pointer: input cell ``i`` is
    ``x[offsets[i]]``, output ``k`` is stored at ``o[k * out_stride]``."""

    def __init__(self, net, prefix, offsets, out_stride):
        self._offsets = offsets
        self._ostride = out_stride
        super().__init__(net, chunk_gates=max(1, net.n_gates + 1), prefix=prefix, head=False)

    def in_ref(self, i: int) -> str:
        return f"x[{self._offsets[i]}]"

    def out_store(self, k: int, expr: str) -> str:
        return f"o[{k * self._ostride}] = {expr};"


class _TailEmitter(CEmitter):
    """The tail with its own chunk names (``<prefix>_t_chunk_N``)."""


def _stage_code(sn: SharedNet, prefix: str) -> tuple[str, str, int]:
    """(kernel functions, the stage loops of the block evaluation, buffer words)."""
    geo = buffer_layout(sn)
    funcs, body = [], []
    ni = sn.n_inputs
    if sn.stages:
        g0 = geo[0]
        n = getattr(sn.stages[0], "interleave", 1)
        body.append(f"    memset(a, 0, sizeof(dlgn_word) * {geo[-1]['off']});")
        C, H, W, p, Hp, Wp = (g0[k] for k in ("C", "H", "W", "p", "Hp", "Wp"))
        body.append(
            f"    for (c = 0; c < {C}; c++)  /* the input planes -> stage 0's buffer */\n"
            f"        for (y = 0; y < {H}; y++)\n"
            f"            for (xx = 0; xx < {W}; xx++)\n"
            f"                a[{g0['off']} + (c * {Hp} + y + {p}) * {Wp} + xx + {p}] = "
            f"x[(((c / {n}) * {H} + y) * {W} + xx) * {n} + c % {n}];")
    else:
        body.append(f"    memcpy(a, x, sizeof(dlgn_word) * {ni});")
    for i, st in enumerate(sn.stages):
        src, dst = geo[i], geo[i + 1]
        (Ho, Wo), q = st.out_hw, dst["p"]
        dbase = dst["off"] + q * dst["Wp"] + q
        cstride = dst["Hp"] * dst["Wp"]
        if isinstance(st, ConvStage):
            k = st.kernel
            C = st.in_shape[0]
            offs = [(c * src["Hp"] + dy) * src["Wp"] + dx
                    for c in range(C) for dy in range(k) for dx in range(k)]
            em = _KernelEmitter(st.net, f"{prefix}_k{i}", offs, cstride)
            funcs.append(f"/* stage {i}: the kernel of a {k}x{k} conv, {st.net.n_gates} gates, "
                         f"{st.net.n_outputs} channels */\n" + em.emit_eval())
            body.append(
                f"    for (y = 0; y < {Ho}; y++)  /* stage {i}: conv {st.in_shape} -> "
                f"{st.out_shape} */\n"
                f"        for (xx = 0; xx < {Wo}; xx++)\n"
                f"            {prefix}_k{i}_eval_block(a + {src['off']} + y * {st.stride * src['Wp']}"
                f" + xx * {st.stride}, NULL, a + {dbase} + y * {dst['Wp']} + xx, NULL);")
        else:
            k, s = st.kernel, st.stride
            terms = " | ".join(f"w[{dy * src['Wp'] + dx}]" for dy in range(k) for dx in range(k))
            body.append(
                f"    for (c = 0; c < {st.in_shape[0]}; c++)  /* stage {i}: OR pool {k}x{k} */\n"
                f"        for (y = 0; y < {Ho}; y++)\n"
                f"            for (xx = 0; xx < {Wo}; xx++) {{\n"
                f"                const dlgn_word *w = a + {src['off']} + (c * {src['Hp']} + y * {s})"
                f" * {src['Wp']} + xx * {s};\n"
                f"                a[{dbase} + c * {cstride} + y * {dst['Wp']} + xx] = {terms};\n"
                f"            }}")
    words = geo[-1]["off"] + sn.tail.n_inputs
    return "\n".join(funcs), "\n".join(body), words


def _api_net(sn: SharedNet):
    return SimpleNamespace(n_inputs=sn.n_inputs, n_outputs=sn.n_outputs,
                           n_classes=sn.n_classes, n_gates=min(sn.n_gates, (1 << 31) - 1),
                           tau=sn.tau)


def shared_cdef(sn: SharedNet, prefix: str = "dlgn") -> str:
    """Declarations for the glue (the same API as a plain netlist's)."""
    return cdef(_api_net(sn), prefix)


def emit_shared_header(sn: SharedNet, prefix: str = "dlgn") -> str:
    """The ``.h`` matching :func:`emit_shared`."""
    return emit_header(sn, prefix=prefix)


def emit_shared(sn: SharedNet, word_bits: int | None = None, prefix: str = "dlgn",
                chunk_gates: int = DEFAULT_CHUNK_GATES) -> str:
    """The ``.c`` of a SharedNet (one file, deterministic text)."""
    if not isinstance(sn, SharedNet):
        raise TypeError(f"expected a dlgn SharedNet, got {type(sn).__name__}")
    if not prefix.isidentifier():
        raise ValueError(f"prefix {prefix!r} is not a C identifier")
    sn.check()
    if word_bits is not None and int(word_bits) not in (64, 128, 256, 512):
        raise ValueError(f"word_bits must be one of (64, 128, 256, 512) or None, got {word_bits!r}")
    funcs, stages, words = _stage_code(sn, prefix)
    geo_off = buffer_layout(sn)[-1]["off"]
    tail = _TailEmitter(sn.tail, chunk_gates=chunk_gates, prefix=f"{prefix}_t")
    tail_ev = tail.emit_eval()
    n_slots = tail.n_slots + words
    consts, rt = _consts_runtime(_api_net(sn), tail.program, prefix, n_slots)
    wb = _DEFAULT_WB if word_bits is None else f"#define DLGN_WORD_BITS {int(word_bits)}"
    kinds = ", ".join(("conv" if isinstance(s, ConvStage) else "pool") + str(tuple(s.out_shape))
                      for s in sn.stages)
    hdr = (f"/* Generated by dlgn: bit-parallel C for a convolutional logic gate network in\n"
           f" * weight-shared form: {sn.n_inputs} inputs, stages {kinds or 'none'},\n"
           f" * {sn.n_kernel_gates} gates written once ({sn.n_gates} evaluated per sample), "
           f"{sn.n_outputs} outputs, {sn.n_classes} classes;\n"
           f" * {n_slots} scratch words.  Portable C99 (GCC/Clang vector words when "
           f"DLGN_WORD_BITS > 64).  No dlgn\n * runtime needed; see the matching .h for the "
           f"API. */\n")
    block = (f"static void {prefix}_eval_block(const dlgn_word *DLGN_RESTRICT x, "
             f"dlgn_word *DLGN_RESTRICT s, dlgn_word *DLGN_RESTRICT o, "
             f"dlgn_word *DLGN_RESTRICT r)\n{{\n"
             f"    dlgn_word *a = s + {tail.n_slots};\n"
             f"    size_t c, y, xx;\n"
             f"    (void)c; (void)y; (void)xx;\n"
             f"{stages}\n"
             f"    {prefix}_t_eval_block(a + {geo_off}, s, o, r);\n}}\n")
    return (hdr + _PROLOGUE.replace("@DEFAULT_WB@", wb) + "\n" + consts + "\n\n"
            + "/* ---- the kernels of the conv stages ---- */\n" + funcs + "\n"
            + "/* ---- the tail: dense layers and head ---- */\n" + tail_ev + "\n"
            + "/* ---- one word of samples through the stages and the tail ---- */\n"
            + block + rt)


def write_files(sn: SharedNet, outdir, name: str = "model", prefix: str = "dlgn") -> list:
    """Write ``<name>.c`` and ``<name>.h`` of the shared form into ``outdir`` (atomic)."""
    from pathlib import Path

    from ..compiler.atomic import write_text_atomic
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    c, h = outdir / f"{name}.c", outdir / f"{name}.h"
    write_text_atomic(c, emit_shared(sn, prefix=prefix))
    write_text_atomic(h, emit_shared_header(sn, prefix=prefix))
    return [c, h]
