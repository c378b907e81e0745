"""C backend: one portable C99 file (plus a header) that evaluates a netlist bit-parallel.

The ``.c`` needs no dlgn runtime: a firmware user compiles it with any C99 compiler.
Build-time macros (all optional):

* ``DLGN_WORD_BITS`` = 64 | 128 | 256 | 512 -- samples per word.  The default is 512 with
  AVX-512F, 256 with AVX2, 128 with another GCC/Clang, 64 (plain ``uint64_t``) elsewhere.
  Wider than 64 uses GCC/Clang ``vector_size`` types.
* ``DLGN_NO_THREADS`` -- compile out pthreads (the ``*_mt`` entry points then run on the
  calling thread).

Entry points (``dlgn`` is the ``prefix``; all return 0, -1 when memory ran out, or -2 when
an input byte was neither 0 nor 1 -- the outputs are then unspecified):

* ``int dlgn_outputs(const uint8_t *x, size_t n, uint8_t *out)`` -- raw output bits,
  polarity applied, ``out`` is ``n x dlgn_n_outputs`` bytes 0/1;
* ``int dlgn_scores(const uint8_t *x, size_t n, int32_t *scores_out)`` -- GroupSum counts,
  ``n x dlgn_n_classes`` (divide by ``dlgn_tau`` for the model's real scores);
* ``int dlgn_predict(const uint8_t *x, size_t n, int32_t *class_out)`` -- first maximum;
* ``int dlgn_predict_packed(const uint8_t *xp, size_t n, int32_t *class_out)`` -- the same
  on pre-packed rows: ``ceil(n_inputs / 8)`` bytes each, input ``i`` in bit ``i % 8`` of byte
  ``i / 8`` (numpy ``packbits(X, axis=1, bitorder="little")``), 8x less input to read;
* the same with ``_mt`` and a last ``int threads`` argument (sample blocks per thread).

``x`` is ``n`` rows of ``dlgn_n_inputs`` bytes, each 0 or 1 (C-order, as a numpy
bool/uint8 array).  ``dlgn_scores``/``dlgn_predict`` exist only for nets with a head.

Packing (GCC/Clang, little-endian): 64 rows x 32 inputs at a time -- 8 rows shifted and
OR-ed give 32 bytes of 8 samples each, an 8x8 byte transpose per 64-bit lane gives 64
samples of one input, stored as one 64-bit store; the next 64 rows are prefetched into L2
(64 interleaved row streams defeat the hardware prefetcher).  The same loop ORs the bytes
it reads, which is how the 0/1 check costs nothing.  ``scores``/``predict`` skip the
output-word stores (``o`` is NULL), so only the scratch array and the inputs occupy the
cache.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from ..compiler.netlist import Netlist
from ..compiler.shared import SharedNet
from .cfamily import CFamilyEmitter
from .cprogram import emit_code, gate_program

__all__ = ["emit", "emit_sources", "auto_parts", "PART_GATES", "emit_header", "write_files",
           "cdef", "CEmitter", "DEFAULT_CHUNK_GATES", "PROGRAM_GATES", "MODES", "resolve_mode"]

DEFAULT_CHUNK_GATES = 128
_WORD_BITS = (64, 128, 256, 512)


def _check_word_bits(word_bits):
    if word_bits is not None and int(word_bits) not in _WORD_BITS:
        raise ValueError(f"word_bits must be one of {_WORD_BITS} or None, got {word_bits!r}")


class CEmitter(CFamilyEmitter):
    """The C flavour of the core: vector words, malloc'd scratch, pthreads.

    Output words are stored only when ``o`` is not NULL: ``scores``/``predict`` read the
    head's result words alone, and skipping the n_outputs stores per block keeps them
    from evicting the scratch array from the cache."""

    def out_store(self, k: int, expr: str) -> str:
        return f"if (o) o[{k}] = {expr};"


def _api(prefix: str, head: bool) -> list[str]:
    p = prefix
    protos = [f"int {p}_outputs(const uint8_t *x, size_t n, uint8_t *out)",
              f"int {p}_outputs_mt(const uint8_t *x, size_t n, uint8_t *out, int threads)"]
    if head:
        protos += [f"int {p}_scores(const uint8_t *x, size_t n, int32_t *scores_out)",
                   f"int {p}_scores_mt(const uint8_t *x, size_t n, int32_t *scores_out, int threads)",
                   f"int {p}_predict(const uint8_t *x, size_t n, int32_t *class_out)",
                   f"int {p}_predict_mt(const uint8_t *x, size_t n, int32_t *class_out, int threads)",
                   f"int {p}_predict_packed(const uint8_t *xp, size_t n, int32_t *class_out)",
                   f"int {p}_predict_packed_mt(const uint8_t *xp, size_t n, int32_t *class_out, int threads)"]
    return protos


_CONSTS = ("n_inputs", "n_outputs", "n_classes", "n_gates", "word_bits")


def cdef(netlist: Netlist, prefix: str = "dlgn") -> str:
    """Declarations for ``cffi.FFI.cdef`` (no preprocessor lines)."""
    lines = [f"extern const int32_t {prefix}_{c};" for c in _CONSTS]
    lines.append(f"extern const double {prefix}_tau;")
    lines += [s + ";" for s in _api(prefix, netlist.n_classes > 0)]
    return "\n".join(lines) + "\n"


def emit_header(netlist: Netlist, prefix: str = "dlgn", **_ignored) -> str:
    """The ``.h`` matching :func:`emit` (same ``prefix``)."""
    if not isinstance(netlist, (Netlist, SharedNet)):
        raise TypeError(f"expected a dlgn Netlist, got {type(netlist).__name__}")
    P = prefix.upper()
    head = netlist.n_classes > 0
    body = "\n".join(
        [f"#define {P}_N_INPUTS {netlist.n_inputs}",
         f"#define {P}_N_OUTPUTS {netlist.n_outputs}",
         f"#define {P}_N_CLASSES {netlist.n_classes}",
         f"#define {P}_HAS_HEAD {int(head)}", ""]
        + [f"extern const int32_t {prefix}_{c};" for c in _CONSTS]
        + [f"extern const double {prefix}_tau;", ""]
        + [s + ";" for s in _api(prefix, head)])
    return (f"/* Generated by dlgn: bit-parallel evaluation of a logic gate network. */\n"
            f"#ifndef {P}_MODEL_H\n#define {P}_MODEL_H\n\n#include <stddef.h>\n#include <stdint.h>\n\n"
            f"#ifdef __cplusplus\nextern \"C\" {{\n#endif\n\n{body}\n\n"
            f"#ifdef __cplusplus\n}}\n#endif\n\n#endif /* {P}_MODEL_H */\n")


_PROLOGUE = r"""#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifndef DLGN_NO_THREADS
#include <pthread.h>
#endif

#ifndef DLGN_WORD_BITS
@DEFAULT_WB@
#endif
#if !defined(__GNUC__) && DLGN_WORD_BITS != 64
#undef DLGN_WORD_BITS
#define DLGN_WORD_BITS 64
#endif
#if DLGN_WORD_BITS != 64 && DLGN_WORD_BITS != 128 && DLGN_WORD_BITS != 256 && DLGN_WORD_BITS != 512
#error "DLGN_WORD_BITS must be 64, 128, 256 or 512"
#endif
#if DLGN_WORD_BITS == 64
typedef uint64_t dlgn_word;
#define DLGN_ZERO ((uint64_t)0)
#else
typedef uint64_t dlgn_word __attribute__((vector_size(DLGN_WORD_BITS / 8)));
#define DLGN_ZERO ((dlgn_word){0})
#endif
#define DLGN_ONES (~DLGN_ZERO)
#define DLGN_WB8 (DLGN_WORD_BITS / 8)
#if defined(__GNUC__)
#define DLGN_NOINLINE __attribute__((noinline))
#else
#define DLGN_NOINLINE
#endif
#define DLGN_RESTRICT restrict
#define DLGN_MAX_THREADS 256
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define DLGN_BYTE_SHIFT(k) (8 * (7 - (k)))
#else
#define DLGN_BYTE_SHIFT(k) (8 * (k))
#endif
#if defined(__GNUC__)
typedef uint64_t dlgn_pack_v __attribute__((vector_size(32)));
#define DLGN_PACK_ZERO ((dlgn_pack_v){0})
#define DLGN_PACK_SPLAT(c) ((dlgn_pack_v){(c), (c), (c), (c)})
#define DLGN_PACK_LOW DLGN_PACK_SPLAT(UINT64_C(0x0101010101010101))
#if !(defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
#define DLGN_PACK_FAST
#endif
#endif
#define DLGN_BIT(w, j) ((((const unsigned char *)(w))[(j) >> 3] >> ((j) & 7)) & 1u)
"""

_DEFAULT_WB = """# if defined(__AVX512F__)
#  define DLGN_WORD_BITS 512
# elif defined(__AVX2__)
#  define DLGN_WORD_BITS 256
# elif defined(__GNUC__)
#  define DLGN_WORD_BITS 128
# else
#  define DLGN_WORD_BITS 64
# endif"""

# @P@ prefix; @NI@ inputs; @NO@ outputs; @NS@ slots; @NR@ result words
_RUNTIME = r"""
/* ---- input packing: rows of n_inputs bytes 0/1 -> one bit-plane word per input.
 * Each returns nonzero when a byte read was neither 0 nor 1 (validation rides along). ---- */
/* rows [g, g + nr) (g a multiple of 8, nr <= 8) of inputs [i, ni) -> byte g/8 of each plane */
static unsigned @P@_pack8(const uint8_t *row, size_t nr, size_t g, size_t i, unsigned char *p, size_t ni)
{
    size_t r, k;
    unsigned bad = 0;
    for (; i + 8 <= ni; i += 8) {
        uint64_t t = 0, acc = 0;
        for (r = 0; r < nr; r++) {
            uint64_t v;
            memcpy(&v, row + r * ni + i, 8);
            acc |= v;
            t |= (v & UINT64_C(0x0101010101010101)) << r;
        }
        bad |= (acc & ~UINT64_C(0x0101010101010101)) != 0;
        for (k = 0; k < 8; k++)
            p[(i + k) * DLGN_WB8 + (g >> 3)] = (unsigned char)(t >> DLGN_BYTE_SHIFT(k));
    }
    for (; i < ni; i++) {
        unsigned b = 0;
        for (r = 0; r < nr; r++) {
            unsigned v = row[r * ni + i];
            bad |= v & 0xFEu;
            b |= (v & 1u) << r;
        }
        p[i * DLGN_WB8 + (g >> 3)] = (unsigned char)b;
    }
    return bad != 0;
}

#if defined(DLGN_PACK_FAST)
/* 64 full rows x inputs [0, ni - ni % 32) -> 64-bit word q of each plane: 8 rows x 32 inputs
 * give 32 bytes of 8 samples each (shift-or), then an 8x8 byte transpose per 64-bit lane.
 * The 64 rows are read 64 streams at once, which the hardware prefetcher does not follow:
 * the next 64 rows (contiguous) are prefetched by hand; the address is formed as an integer
 * (prefetch never faults), so reading past the last row is not pointer arithmetic. */
#define DLGN_TR(a, b, sh, m) do { dlgn_pack_v x_ = (a), y_ = (b); \
        (a) = (x_ & (m)) | ((y_ << (sh)) & ~(m)); (b) = ((x_ >> (sh)) & (m)) | (y_ & ~(m)); } while (0)
/* 8x8 byte transpose across the 64-bit lanes of v[0..7] (i_ a size_t loop variable) */
#define DLGN_TR8(v, i_, m32, m16, m8) do { \
        for (i_ = 0; i_ < 4; i_++) DLGN_TR((v)[i_], (v)[i_ + 4], 32, m32); \
        for (i_ = 0; i_ < 8; i_ += (i_ & 1) ? 3 : 1) DLGN_TR((v)[i_], (v)[i_ + 2], 16, m16); \
        for (i_ = 0; i_ < 8; i_ += 2) DLGN_TR((v)[i_], (v)[i_ + 1], 8, m8); } while (0)
static unsigned @P@_pack64(const uint8_t *row, size_t q, unsigned char *p, size_t ni)
{
    const dlgn_pack_v low = DLGN_PACK_LOW;
    const dlgn_pack_v m32 = DLGN_PACK_SPLAT(UINT64_C(0x00000000FFFFFFFF));
    const dlgn_pack_v m16 = DLGN_PACK_SPLAT(UINT64_C(0x0000FFFF0000FFFF));
    const dlgn_pack_v m8 = DLGN_PACK_SPLAT(UINT64_C(0x00FF00FF00FF00FF));
    dlgn_pack_v acc = DLGN_PACK_ZERO, a[8];
    size_t i, g, r, k, j;
    uint64_t lane[4], any = 0;
    for (i = 0; i + 32 <= ni; i += 32) {
        for (g = 0; g < 8; g++) {
            dlgn_pack_v t = DLGN_PACK_ZERO, v;
            for (r = 0; r < 8; r++) {
                memcpy(&v, row + (g * 8 + r) * ni + i, 32);
                __builtin_prefetch((const void *)((uintptr_t)row + (64 + g * 8 + r) * ni + i), 0, 1);
                acc |= v;
                t |= (v & low) << r;
            }
            a[g] = t;
        }
        DLGN_TR8(a, g, m32, m16, m8);
        for (k = 0; k < 8; k++) {
            memcpy(lane, &a[k], 32);
            for (j = 0; j < 4; j++)
                memcpy(p + (i + 8 * j + k) * DLGN_WB8 + 8 * q, &lane[j], 8);
        }
    }
    acc &= ~low;
    memcpy(lane, &acc, 32);
    for (j = 0; j < 4; j++)
        any |= lane[j];
    return any != 0;
}
#endif

static DLGN_NOINLINE unsigned @P@_pack(const uint8_t *x, size_t rows, dlgn_word *in, size_t ni)
{
    unsigned char *p = (unsigned char *)in;
    size_t g = 0, i0 = 0;
    unsigned bad = 0;
    if (ni && rows < DLGN_WORD_BITS)
        memset(in, 0, sizeof(dlgn_word) * ni);
#if defined(DLGN_PACK_FAST)
    i0 = ni - ni % 32;
    for (; g + 64 <= rows; g += 64) {
        size_t h;
        bad |= @P@_pack64(x + g * ni, g >> 6, p, ni);
        for (h = 0; h < 64; h += 8)
            bad |= @P@_pack8(x + (g + h) * ni, 8, g + h, i0, p, ni);
    }
#endif
    for (; g < rows; g += 8)
        bad |= @P@_pack8(x + g * ni, rows - g < 8 ? rows - g : 8, g, 0, p, ni);
    (void)i0;
    return bad;
}

/* ---- pre-packed input: rows of ceil(n_inputs / 8) bytes, input i = bit i % 8 of byte
 * i / 8 (numpy packbits(..., bitorder="little") along features) -> bit-planes ---- */
/* 8x8 bit transpose inside each 64-bit lane: byte r bit k <-> byte k bit r */
#define DLGN_T8(t, T) do { T d_; \
        d_ = ((t) ^ ((t) >> 7)) & (T##_C(0x00AA00AA00AA00AA)); (t) ^= d_ ^ (d_ << 7); \
        d_ = ((t) ^ ((t) >> 14)) & (T##_C(0x0000CCCC0000CCCC)); (t) ^= d_ ^ (d_ << 14); \
        d_ = ((t) ^ ((t) >> 28)) & (T##_C(0x00000000F0F0F0F0)); (t) ^= d_ ^ (d_ << 28); } while (0)
#define uint64_t_C(c) UINT64_C(c)
/* rows [g, g + nr) (g a multiple of 8, nr <= 8), packed bytes [j, nb) -> byte g/8 of planes */
static void @P@_bpack8(const uint8_t *row, size_t nr, size_t g, size_t j, unsigned char *p,
                       size_t nb, size_t ni)
{
    size_t r, k;
    for (; j < nb; j++) {
        uint64_t t = 0;
        for (r = 0; r < nr; r++)
            t |= (uint64_t)row[r * nb + j] << (8 * r);
        DLGN_T8(t, uint64_t);
        for (k = 0; k < 8 && 8 * j + k < ni; k++)
            p[(8 * j + k) * DLGN_WB8 + (g >> 3)] = (unsigned char)(t >> (8 * k));
    }
}

#if defined(DLGN_PACK_FAST)
#define dlgn_pack_v_C(c) DLGN_PACK_SPLAT(UINT64_C(c))
/* 64 full rows (nb bytes each) x packed bytes [0, j1) (j1 a multiple of 32) -> 64-bit word q
 * of each plane: byte transpose of 8 rows, 8x8 bit transposes, byte transpose of 8 groups */
static void @P@_bpack64(const uint8_t *row, size_t q, unsigned char *p, size_t nb, size_t j1)
{
    const dlgn_pack_v m32 = DLGN_PACK_SPLAT(UINT64_C(0x00000000FFFFFFFF));
    const dlgn_pack_v m16 = DLGN_PACK_SPLAT(UINT64_C(0x0000FFFF0000FFFF));
    const dlgn_pack_v m8 = DLGN_PACK_SPLAT(UINT64_C(0x00FF00FF00FF00FF));
    dlgn_pack_v a[8][8], b[8];
    size_t j, g, r, m, k, l;
    uint64_t lane[4];
    for (j = 0; j + 32 <= j1; j += 32) {
        for (g = 0; g < 8; g++) {
            dlgn_pack_v *v = a[g];
            for (r = 0; r < 8; r++) {
                memcpy(&v[r], row + (g * 8 + r) * nb + j, 32);
                __builtin_prefetch((const void *)((uintptr_t)row + (64 + g * 8 + r) * nb + j), 0, 1);
            }
            /* lane l of v[m] byte r: row r's byte j + 8l + m; then bit k = input 8(j+8l+m)+k */
            DLGN_TR8(v, r, m32, m16, m8);
            for (m = 0; m < 8; m++)
                DLGN_T8(v[m], dlgn_pack_v);
        }
        for (m = 0; m < 8; m++) {
            for (g = 0; g < 8; g++)
                b[g] = a[g][m];
            DLGN_TR8(b, g, m32, m16, m8);
            for (k = 0; k < 8; k++) {
                memcpy(lane, &b[k], 32);
                for (l = 0; l < 4; l++)
                    memcpy(p + (8 * (j + 8 * l + m) + k) * DLGN_WB8 + 8 * q, &lane[l], 8);
            }
        }
    }
}
#endif

static DLGN_NOINLINE unsigned @P@_bpack(const uint8_t *x, size_t rows, dlgn_word *in, size_t ni)
{
    unsigned char *p = (unsigned char *)in;
    size_t g = 0, j0 = 0, nb = (ni + 7) / 8;
    if (ni && rows < DLGN_WORD_BITS)
        memset(in, 0, sizeof(dlgn_word) * ni);
#if defined(DLGN_PACK_FAST)
    j0 = ni / 8 - (ni / 8) % 32;  /* whole bytes only: no padding bits past the planes */
    for (; j0 && g + 64 <= rows; g += 64) {
        size_t h;
        @P@_bpack64(x + g * nb, g >> 6, p, nb, j0);
        for (h = 0; h < 64; h += 8)
            @P@_bpack8(x + (g + h) * nb, 8, g + h, j0, p, nb, ni);
    }
#endif
    for (; g < rows; g += 8)
        @P@_bpack8(x + g * nb, rows - g < 8 ? rows - g : 8, g, 0, p, nb, ni);
    (void)j0;
    return 0;
}

/* mode 0: output bits (uint8), 1: class counts (int32), 2: predicted class (int32);
 * + 4: pre-packed input rows */
static int @P@_run_blocks(const uint8_t *x, size_t n, size_t b0, size_t b1, int mode, void *dst)
{
    int packed = mode & 4;
    size_t stride = packed ? ((size_t)@NI@ + 7) / 8 : (size_t)@NI@;
    size_t nw = (size_t)@NI@ + @NS@ + @NO@ + @NR@, b, j, k, no = @NO@;
    unsigned char *raw = (unsigned char *)malloc(nw * sizeof(dlgn_word) + 64);
    dlgn_word *in, *s, *o, *r;
    unsigned bad = 0;
    if (!raw)
        return -1;
    in = (dlgn_word *)(void *)(raw + (64 - ((uintptr_t)raw & 63)));
    s = in + @NI@;
    o = s + @NS@;
    r = o + @NO@;
    for (b = b0; b < b1; b++) {
        size_t base = b * DLGN_WORD_BITS;
        size_t rows = n - base < DLGN_WORD_BITS ? n - base : DLGN_WORD_BITS;
        if (packed)
            bad |= @P@_bpack(x + base * stride, rows, in, (size_t)@NI@);
        else
            bad |= @P@_pack(x + base * stride, rows, in, (size_t)@NI@);
        @P@_eval_block(in, s, (mode & 3) == 0 ? o : NULL, r);
        if ((mode & 3) == 0) {
            uint8_t *out = (uint8_t *)dst + base * no;
            for (j = 0; j < rows; j++)
                for (k = 0; k < no; k++)
                    out[j * no + k] = (uint8_t)DLGN_BIT(o + k, j);
        }
@HEAD_UNPACK@
    }
    (void)r;
    free(raw);
    return bad ? -2 : 0;
}

typedef struct { const uint8_t *x; size_t n, b0, b1; int mode; void *dst; int rc; } @P@_job;

#ifndef DLGN_NO_THREADS
static void *@P@_thread_main(void *arg)
{
    @P@_job *jb = (@P@_job *)arg;
    jb->rc = @P@_run_blocks(jb->x, jb->n, jb->b0, jb->b1, jb->mode, jb->dst);
    return NULL;
}
#endif

static int @P@_run(const uint8_t *x, size_t n, int mode, void *dst, int threads)
{
    size_t nb = (n + DLGN_WORD_BITS - 1) / DLGN_WORD_BITS;
#ifndef DLGN_NO_THREADS
    @P@_job jobs[DLGN_MAX_THREADS];
    pthread_t tid[DLGN_MAX_THREADS];
    int started[DLGN_MAX_THREADS];
    int t, rc = 0;
    if (threads > DLGN_MAX_THREADS)
        threads = DLGN_MAX_THREADS;
    if (threads > 1 && (size_t)threads > nb)
        threads = (int)nb;
    if (threads > 1) {
        for (t = 0; t < threads; t++) {
            jobs[t].x = x; jobs[t].n = n; jobs[t].mode = mode; jobs[t].dst = dst; jobs[t].rc = 0;
            jobs[t].b0 = nb * (size_t)t / (size_t)threads;
            jobs[t].b1 = nb * (size_t)(t + 1) / (size_t)threads;
            started[t] = 0;
        }
        for (t = 1; t < threads; t++)
            started[t] = pthread_create(&tid[t], NULL, @P@_thread_main, &jobs[t]) == 0;
        @P@_thread_main(&jobs[0]);
        for (t = 1; t < threads; t++) {
            if (started[t])
                pthread_join(tid[t], NULL);
            else
                @P@_thread_main(&jobs[t]);
            rc |= jobs[t].rc;
        }
        return rc | jobs[0].rc;
    }
#else
    (void)threads;
#endif
    return @P@_run_blocks(x, n, 0, nb, mode, dst);
}

int @P@_outputs(const uint8_t *x, size_t n, uint8_t *out) { return @P@_run(x, n, 0, out, 1); }
int @P@_outputs_mt(const uint8_t *x, size_t n, uint8_t *out, int threads)
{ return @P@_run(x, n, 0, out, threads); }
"""

_HEAD_API = r"""int @P@_scores(const uint8_t *x, size_t n, int32_t *scores_out)
{ return @P@_run(x, n, 1, scores_out, 1); }
int @P@_scores_mt(const uint8_t *x, size_t n, int32_t *scores_out, int threads)
{ return @P@_run(x, n, 1, scores_out, threads); }
int @P@_predict(const uint8_t *x, size_t n, int32_t *class_out) { return @P@_run(x, n, 2, class_out, 1); }
int @P@_predict_mt(const uint8_t *x, size_t n, int32_t *class_out, int threads)
{ return @P@_run(x, n, 2, class_out, threads); }
int @P@_predict_packed(const uint8_t *xp, size_t n, int32_t *class_out)
{ return @P@_run(xp, n, 6, class_out, 1); }
int @P@_predict_packed_mt(const uint8_t *xp, size_t n, int32_t *class_out, int threads)
{ return @P@_run(xp, n, 6, class_out, threads); }
"""

#: the scores branch of both head unpackers: count planes -> int32 scores
_SCORES_UNPACK = r"""        if ((mode & 3) == 1) {
            int32_t *sc = (int32_t *)dst + base * (size_t)@NC@;
            int c, q;
            for (j = 0; j < rows; j++)
                for (c = 0; c < @NC@; c++) {
                    int32_t v = 0;
                    for (q = 0; q < @P@_count_bits[c]; q++)
                        v |= (int32_t)DLGN_BIT(r + @P@_count_offset[c] + q, j) << q;
                    sc[j * (size_t)@NC@ + (size_t)c] = v;
                }
        }"""

_HEAD_UNPACK = _SCORES_UNPACK + r""" else if ((mode & 3) == 2) {
            int32_t *cl = (int32_t *)dst + base;
            int q;
            for (j = 0; j < rows; j++) {
                int32_t v = 0;
                for (q = 0; q < @IB@; q++)
                    v |= (int32_t)DLGN_BIT(r + @IO@ + q, j) << q;
                cl[j] = v;
            }
        }"""


_PROGRAM_EVAL = r"""
#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
static uint32_t @P@_ld32(const unsigned char *p)
{ return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
#else
static uint32_t @P@_ld32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
#endif
/* ANF masks c0, ca, cb, cab of the 16 codes */
#define DLGN_M(c, i) ((((c) >> (i)) & 1) ? ~UINT64_C(0) : UINT64_C(0))
#define DLGN_M4(c) { DLGN_M(c, 0), DLGN_M(c, 1), DLGN_M(c, 2), DLGN_M(c, 3) }
static const uint64_t @P@_anf[16][4] = {
    DLGN_M4(0), DLGN_M4(1), DLGN_M4(2), DLGN_M4(3), DLGN_M4(4), DLGN_M4(5), DLGN_M4(6),
    DLGN_M4(7), DLGN_M4(8), DLGN_M4(9), DLGN_M4(10), DLGN_M4(11), DLGN_M4(12), DLGN_M4(13),
    DLGN_M4(14), DLGN_M4(15) };

/* v: the input planes, then s: the constants 0 and 1 and the registers (see the top).
 * Each instruction reads both operands before it writes.  o NULL: the outputs are added
 * to the class counts in r instead (scores/predict). */
static DLGN_NOINLINE void @P@_eval_block(dlgn_word *v, dlgn_word *s, dlgn_word *o, dlgn_word *r)
{
    const unsigned char *p = @P@_code;
    size_t n;
    s[0] = DLGN_ZERO;
    s[1] = DLGN_ONES;
    if (!o)
        for (n = @NR@; n; n--)
            r[n - 1] = DLGN_ZERO;
    for (n = @NINS@; n; n--, p += 12) {
        uint32_t w = @P@_ld32(p), ib = @P@_ld32(p + 8);
        dlgn_word a = v[@P@_ld32(p + 4)];
        if (!(w & 48u)) {
            const uint64_t *m = @P@_anf[w & 15u];
            dlgn_word b = v[ib];
            v[w >> 6] = (b & ((a & m[3]) ^ m[2])) ^ (a & m[1]) ^ m[0];
        } else if (!(w & 32u)) {  /* kind 1: an output */
            dlgn_word y = a ^ (uint64_t)(0 - (uint64_t)(ib & 1u));
            if (o)
                o[w >> 6] = y;
@COUNT@
        }@FLUSH@
    }
}
"""

_COUNT = r"""            else {  /* add y to the class's low counter */
                dlgn_word *l = r + @NCNT@ + 4 * (size_t)(ib >> 1), t;
                t = l[0] & y; l[0] ^= y; y = t;
                t = l[1] & y; l[1] ^= y; y = t;
                t = l[2] & y; l[2] ^= y; y = t;
                l[3] ^= y;
            }"""

_FLUSH = r""" else if (!o) {  /* kind 2: count planes += low counter (< 2**count_bits in all) */
            uint32_t c = w >> 6;
            dlgn_word *q = r + @P@_count_offset[c], *l = r + @NCNT@ + 4 * (size_t)c;
            dlgn_word cy = DLGN_ZERO;
            int i, nb = @P@_count_bits[c];
            for (i = 0; i < nb; i++) {
                dlgn_word x = i < 4 ? l[i] : DLGN_ZERO, u = q[i] ^ x, g = q[i] & x;
                q[i] = u ^ cy;
                cy = g | (u & cy);
            }
            l[0] = l[1] = l[2] = l[3] = DLGN_ZERO;
        }"""

_HEAD_UNPACK_PROGRAM = _SCORES_UNPACK + r""" else if ((mode & 3) == 2) {  /* the first maximum */
            int32_t *cl = (int32_t *)dst + base;
            int c, q;
            for (j = 0; j < rows; j++) {
                int32_t best = -1, arg = 0;
                for (c = 0; c < @NC@; c++) {
                    int32_t v = 0;
                    for (q = 0; q < @P@_count_bits[c]; q++)
                        v |= (int32_t)DLGN_BIT(r + @P@_count_offset[c] + q, j) << q;
                    if (v > best) {
                        best = v;
                        arg = c;
                    }
                }
                cl[j] = arg;
            }
        }"""

#: gates (after optimization) above which ``mode="auto"`` emits the gate program
PROGRAM_GATES = 100_000
MODES = ("auto", "straight", "program")


def resolve_mode(netlist: Netlist, mode: str = "auto") -> str:
    """``"straight"`` (one C statement per gate) or ``"program"`` (the gate program of
    :mod:`dlgn.backends.cprogram`): ``"auto"`` picks the program above
    :data:`PROGRAM_GATES` gates."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not isinstance(netlist, Netlist):
        raise TypeError(f"expected a dlgn Netlist, got {type(netlist).__name__}")
    if mode == "auto":
        return "program" if int(netlist.n_gates) > PROGRAM_GATES else "straight"
    return mode


def emit(netlist: Netlist, word_bits: int | None = None, chunk_gates: int = DEFAULT_CHUNK_GATES,
         prefix: str = "dlgn", mode: str = "auto") -> str:
    """The ``.c`` source of ``netlist`` (deterministic text).

    ``word_bits`` sets the default of ``DLGN_WORD_BITS`` (still overridable with -D);
    ``chunk_gates`` bounds the statements per function; ``prefix`` names the public API;
    ``mode`` (:func:`resolve_mode`): straight-line code or the gate program."""
    return emit_sources(netlist, 1, word_bits=word_bits, chunk_gates=chunk_gates,
                        prefix=prefix, mode=mode)[0]


#: gates per translation unit that :func:`auto_parts` aims at: GCC needs ~15 KB per gate
#: of one unit (-O1), so a part stays near 250 MB and parts compile in parallel
PART_GATES = 16000
_PART_QUAL = '__attribute__((visibility("hidden"))) DLGN_NOINLINE'


def auto_parts(netlist: Netlist) -> int:
    """Translation units for a build of ``netlist``: 1 up to :data:`PART_GATES` gates."""
    return max(1, -(-int(netlist.n_gates) // PART_GATES))


def emit_sources(netlist: Netlist, parts: int = 1, word_bits: int | None = None,
                 chunk_gates: int = DEFAULT_CHUNK_GATES, prefix: str = "dlgn",
                 mode: str = "auto") -> list[str]:
    """The C of ``netlist`` as ``[main, part_1, ...]`` translation units (deterministic).

    ``parts=1`` gives ``[emit(...)]``: one self-contained file.  With more, the chunk
    functions go into up to ``parts`` further files of about equal size, each compiled on
    its own (in parallel) and linked with the main one; the main file then declares them
    (``__attribute__((visibility("hidden")))``: GCC/Clang only) and holds everything else."""
    _check_word_bits(word_bits)
    if int(parts) < 1:
        raise ValueError("parts must be >= 1")
    if resolve_mode(netlist, mode) == "program":
        return [_emit_program(netlist, word_bits, prefix)]
    em = CEmitter(netlist, chunk_gates=chunk_gates, prefix=prefix)
    prog = em.program
    wb = _DEFAULT_WB if word_bits is None else f"#define DLGN_WORD_BITS {int(word_bits)}"
    extra = []
    if int(parts) > 1 and len(em.body_chunks()) > 1:
        ev, texts = em.emit_eval_parts(int(parts), _PART_QUAL)
        for k, t in enumerate(texts):
            extra.append(f"/* Generated by dlgn: part {k + 1} of {len(texts)} of the network's "
                         f"chunk functions (see the main file). */\n"
                         + _PROLOGUE.replace("@DEFAULT_WB@", wb) + "\n" + t)
    else:
        ev = em.emit_eval()
    net = netlist
    consts, rt = _consts_runtime(net, prog, prefix, em.n_slots)
    hdr = (f"/* Generated by dlgn: bit-parallel C for a logic gate network.\n"
           f" * {net.n_inputs} inputs, {net.n_gates} gates, {net.n_outputs} outputs, "
           f"{net.n_classes} classes; {em.n_slots} scratch words,\n"
           f" * {sum(len(c) for c in em.body_chunks())} statements in "
           f"{len(em.body_chunks())} chunks.  Portable C99 (GCC/Clang vector words when\n"
           f" * DLGN_WORD_BITS > 64).  No dlgn runtime needed; see the matching .h for the API. */\n")
    return [hdr + _PROLOGUE.replace("@DEFAULT_WB@", wb) + "\n" + consts + "\n\n"
            + "/* ---- the network (and its head) over one word of samples ---- */\n"
            + ev + rt] + extra


def _consts_runtime(net: Netlist, prog, prefix: str, n_slots: int,
                    unpack: str = _HEAD_UNPACK) -> tuple[str, str]:
    """The API constants (and the head's count layout) and the runtime, for ``n_slots``
    scratch words after the input planes; ``unpack`` reads the head's results."""
    head = prog.n_classes > 0
    consts = "\n".join(
        [f"const int32_t {prefix}_n_inputs = {net.n_inputs};",
         f"const int32_t {prefix}_n_outputs = {net.n_outputs};",
         f"const int32_t {prefix}_n_classes = {net.n_classes};",
         f"const int32_t {prefix}_n_gates = {net.n_gates};",
         f"const int32_t {prefix}_word_bits = DLGN_WORD_BITS;",
         f"const double {prefix}_tau = {net.tau!r};"])
    if head:
        consts += (f"\nstatic const int {prefix}_count_offset[{prog.n_classes}] = "
                   f"{{{', '.join(map(str, prog.count_offset))}}};"
                   f"\nstatic const int {prefix}_count_bits[{prog.n_classes}] = "
                   f"{{{', '.join(map(str, prog.count_bits))}}};")
    rt = _RUNTIME.replace("@HEAD_UNPACK@", unpack if head else "")
    if head:
        rt += _HEAD_API
    rt = (rt.replace("@P@", prefix).replace("@NI@", str(net.n_inputs))
          .replace("@NO@", str(net.n_outputs)).replace("@NS@", str(n_slots))
          .replace("@NR@", str(prog.n_results)).replace("@NC@", str(net.n_classes))
          .replace("@IB@", str(prog.idx_bits)).replace("@IO@", str(prog.idx_offset)))
    return consts, rt


def _emit_program(net: Netlist, word_bits: int | None, prefix: str) -> str:
    """The one ``.c`` of the gate-program mode (:mod:`dlgn.backends.cprogram`)."""
    if not isinstance(net, Netlist):
        raise TypeError(f"expected a dlgn Netlist, got {type(net).__name__}")
    if not prefix.isidentifier():
        raise ValueError(f"prefix {prefix!r} is not a C identifier")
    gp = gate_program(net)
    wb = _DEFAULT_WB if word_bits is None else f"#define DLGN_WORD_BITS {int(word_bits)}"
    head = SimpleNamespace(n_classes=gp.n_classes, count_offset=gp.count_offset,
                           count_bits=gp.count_bits, n_results=gp.n_results, idx_bits=0,
                           idx_offset=0)
    consts, rt = _consts_runtime(net, head, prefix, gp.n_registers, _HEAD_UNPACK_PROGRAM)
    n_ins = int(gp.code.shape[0])
    hdr = (f"/* Generated by dlgn: bit-parallel C for a logic gate network.\n"
           f" * {net.n_inputs} inputs, {net.n_gates} gates, {net.n_outputs} outputs, "
           f"{net.n_classes} classes; a gate program of {n_ins} instructions\n"
           f" * over {gp.n_registers} scratch words (see dlgn.backends.cprogram: three "
           f"little-endian uint32 w, a, b\n"
           f" * each; w & 15 an ANF code, w >> 4 & 3 the kind, w >> 6 the destination).  "
           f"Portable C99 (GCC/Clang\n"
           f" * vector words when DLGN_WORD_BITS > 64).  No dlgn runtime needed; see the "
           f"matching .h for the API. */\n")
    code = emit_code(gp.to_bytes(), f"{prefix}_code")
    ev = (_PROGRAM_EVAL.replace("@COUNT@", _COUNT if gp.n_classes else "")
          .replace("@FLUSH@", _FLUSH if gp.n_classes else "")
          .replace("@P@", prefix).replace("@NINS@", str(n_ins))
          .replace("@NR@", str(gp.n_results)).replace("@NCNT@", str(gp.n_counts)))
    return (hdr + _PROLOGUE.replace("@DEFAULT_WB@", wb) + "\n" + consts + "\n\n"
            + "/* ---- the network (and its head) as a gate program ---- */\n"
            + code + ev + rt)


def write_files(netlist: Netlist, outdir, name: str = "model", **opts) -> list[Path]:
    """Write ``<name>.c`` and ``<name>.h`` into ``outdir``; returns their paths."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    prefix = opts.get("prefix", "dlgn")
    c, h = outdir / f"{name}.c", outdir / f"{name}.h"
    c.write_text(emit(netlist, **opts))
    h.write_text(emit_header(netlist, prefix=prefix))
    return [c, h]
