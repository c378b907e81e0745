"""CUDA backend: a generated GPU inference kernel (DESIGN.md section 6).

Built on the C-family core (:mod:`dlgn.backends.cfamily`): the gate statements, slot
allocation and chunking come from there, and through it the compiler's head as gates
(:func:`dlgn.compiler.head.lower_head`: a carry-save popcount per class and a bit-sliced
first-maximum argmax) and liveness; this module supplies the word type, the storage of
slots, the kernels and the ``extern "C"`` launcher.

Each thread evaluates the netlist on one word of samples (32 or 64: sample ``s`` is bit
``s % word_bits`` of word ``s // word_bits``).  The ``.cu`` file holds

* ``<prefix>_pack_kernel``: uint8/bool rows ``X[n][n_inputs]`` -> packed input words, on the device;
* the core's chunk functions (straight-line code, ``chunk_gates`` statements each) and
  ``<prefix>_eval_block`` calling them in order;
* ``<prefix>_eval_kernel``: one thread per word, runs the block and then, per sample of its word,
  reads the class index bit-planes (and the count planes for scores) and writes class ids
  (int64), optionally counts (int32[n, C]) and the raw output words.

Where slots live is chosen by size (``storage``): ``"registers"`` (one chunk, few slots:
a per-thread array that nvcc keeps in registers), ``"shared"`` (per-thread words of a
``__shared__`` array, 64 threads a block, up to 48 KiB) or ``"global"`` (a scratch buffer
in device memory, 128 threads a block); chunks are ``__noinline__`` device functions
unless there is only one, so register use and compile time stay bounded.

Layouts (``T = DLGN_BLOCK`` words per tile, ``tiles = ceil(ceil(n / word_bits) / T)``):
packed inputs ``P[tile][n_inputs][T]``, scratch ``S[tile][slots][T]``, raw output words
``OW[tile][n_outputs][T]``; every access in the generated code is a constant offset.

Host entry points (``<prefix>`` from ``name``): ``_run(X, n, ws, cls, sc, ow, stream)`` on
device pointers (``ws`` of ``_workspace_bytes(n)`` bytes; ``sc``/``ow`` may be NULL),
``_pack`` / ``_eval_packed`` (the two halves), byte-size helpers and small cudart wrappers
(``_malloc``, ``_free``, ``_memcpy``, ``_sync``, ``_device_count``, ...); all return a
``cudaError_t`` as int.  See :func:`cdef`.

Kernels never communicate between threads, so the same text compiles with a host C++
compiler through ``cuda_shim.h`` and runs on the CPU; CI checks it against the simulator.
"""
from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from ..compiler.netlist import Netlist
from .cfamily import CFamilyEmitter

__all__ = ["emit", "write_files", "cdef", "CudaEmitter", "SHIM_HEADER", "shim_path",
           "c_name", "STORAGES", "DEFAULT_CHUNK_GATES", "API"]

SHIM_HEADER = "cuda_shim.h"
STORAGES = ("auto", "registers", "shared", "global")
DEFAULT_CHUNK_GATES = 2000
_SHARED_LIMIT = 48 * 1024      # static __shared__ bytes per block
_REGISTER_SLOTS = 128          # at most this many slots for storage="registers"
_BLOCK = {"registers": 128, "shared": 64, "global": 128}


def shim_path() -> Path:
    """Path of the shim header shipped with the package."""
    return Path(str(resources.files("dlgn.backends").joinpath(SHIM_HEADER)))


def c_name(name: str) -> str:
    """``name`` as a C identifier (the prefix of every exported function)."""
    s = re.sub(r"[^0-9A-Za-z_]", "_", str(name)) or "model"
    return "m_" + s if s[0].isdigit() else s


class CudaEmitter(CFamilyEmitter):
    """The CUDA flavour of the C-family core; see the module docstring."""

    WORD = "W"
    ZERO = "W0"
    ONES = "W1"
    RESTRICT = "__restrict__"
    CHUNK_QUAL = "static __device__ DLGN_NOINLINE"
    BLOCK_QUAL = "static __device__ __forceinline__"

    def __init__(self, netlist: Netlist, word_bits: int = 32, name: str = "model",
                 chunk_gates: int = DEFAULT_CHUNK_GATES, storage: str = "auto",
                 min_blocks: int = 0):
        if word_bits not in (32, 64):
            raise ValueError(f"word_bits must be 32 or 64, got {word_bits!r}")
        if storage not in STORAGES:
            raise ValueError(f"storage must be one of {', '.join(STORAGES)}, got {storage!r}")
        super().__init__(netlist.check(), chunk_gates=chunk_gates, prefix=c_name(name))
        self.word_bits = word_bits
        self.requested_storage = storage
        if int(min_blocks) < 0:
            raise ValueError(f"min_blocks must be >= 0, got {min_blocks!r}")
        self.min_blocks = int(min_blocks)
        self.storage = None   # decided by choose_storage() once the slots are known

    # ---- extension points of the core
    def in_ref(self, i: int) -> str:
        return f"IN({i})"

    def scratch_ref(self, slot: int) -> str:
        return f"SL({slot})"

    def out_store(self, k: int, expr: str) -> str:
        return f"if (o) OUT({k}) = {expr};"

    def chunk_params(self) -> str:
        return ("const W* __restrict__ P, W* __restrict__ S, W* __restrict__ o, "
                "W* __restrict__ r")

    def chunk_args(self) -> str:
        return "P, S, o, r"

    def chunk_unused(self) -> str:
        return "(void)P; (void)S; (void)o; (void)r;"

    # ---- storage
    def choose_storage(self) -> str:
        chunks = self.body_chunks()
        n_slots, wbytes = self.n_slots, self.word_bits // 8
        fits_shared = n_slots * _BLOCK["shared"] * wbytes <= _SHARED_LIMIT
        fits_regs = len(chunks) == 1 and n_slots <= _REGISTER_SLOTS
        s = self.requested_storage
        if s == "auto":
            s = "registers" if fits_regs else "shared" if fits_shared else "global"
        elif s == "registers" and not fits_regs:
            raise ValueError(f"storage='registers' needs one chunk of at most "
                             f"{_REGISTER_SLOTS} slots (this net: {len(chunks)} chunks, "
                             f"{n_slots} slots); raise chunk_gates or use 'shared'/'global'")
        elif s == "shared" and not fits_shared:
            raise ValueError(f"{n_slots} slots do not fit in {_SHARED_LIMIT} bytes of shared "
                             f"memory per block; use storage='global'")
        self.storage = s
        if s == "registers":
            self.CHUNK_QUAL = "static __device__ __forceinline__"
        return s

    # ---- the file
    def preamble(self, storage: str, n_inputs: int, comment: list[str]) -> list[str]:
        """The file's head: ``comment`` lines, includes (the shim on a host compiler), the
        word type and the layout macros of this net's slots, outputs and ``n_inputs``."""
        net = self.net
        gslots = self.n_slots if storage == "global" else 0
        return [
            *comment,
            " * GPU: nvcc -O3 -Xcompiler -fPIC -shared -arch=sm_XX model.cu -o model.so",
            " * CPU: g++ -x c++ -O2 -fPIC -shared -include cuda_shim.h model.cu -o model.so */",
            "#ifndef __CUDACC__",
            f'#include "{SHIM_HEADER}"',
            "#else",
            "#include <cuda_runtime.h>",
            "#define DLGN_NOINLINE __noinline__",
            "#define DLGN_LAUNCH(kernel, grid, block, stream, ...) "
            "kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)",
            "#endif",
            "",
            f"typedef {'unsigned int' if self.word_bits == 32 else 'unsigned long long'} W;",
            "#define W0 ((W)0)",
            "#define W1 (~(W)0)",
            f"#define DLGN_WB {self.word_bits}",
            f"#define DLGN_BLOCK {_BLOCK[storage]}",
            f"#define DLGN_NIN {n_inputs}LL",
            f"#define DLGN_NOUT {net.n_outputs}LL",
            f"#define DLGN_GSLOTS {gslots}LL",
            "#define IN(i) P[(i) * DLGN_BLOCK]",
            "#define OUT(k) o[(k) * DLGN_BLOCK]",
            f"#define SL(i) S[(i){' * DLGN_BLOCK' if storage != 'registers' else ''}]",
            "",
        ]

    def pack_kernel(self) -> list[str]:
        """``<prefix>_pack_kernel``: rows ``X[n][DLGN_NIN]`` -> ``P[tile][DLGN_NIN][BLOCK]``."""
        pre = self.prefix
        return [
            "/* X[n][NIN] (uint8/bool) -> P[tile][NIN][BLOCK]; thread t: input t % NIN, word "
            "t / NIN */",
            f"__global__ void __launch_bounds__(256) {pre}_pack_kernel(const unsigned char* "
            "__restrict__ X,"
            " long long n, long long nw, W* __restrict__ P)",
            "{",
            "    const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;",
            "    if (t >= DLGN_NIN * nw) return;",
            "    const long long nin = DLGN_NIN > 0 ? DLGN_NIN : 1;",
            "    const long long i = t % nin, w = t / nin, s0 = w * DLGN_WB;",
            "    const long long m = n - s0 < DLGN_WB ? n - s0 : DLGN_WB;",
            "    const unsigned char* x = X + s0 * DLGN_NIN + i;",
            "    W v = 0;",
            "    for (long long b = 0; b < m; ++b) v |= (W)(x[b * DLGN_NIN] != 0) << b;",
            "    P[(w / DLGN_BLOCK) * (DLGN_NIN * DLGN_BLOCK) + i * DLGN_BLOCK + w % DLGN_BLOCK]"
            " = v;",
            "}",
            "",
        ]

    def emit(self) -> str:
        storage = self.choose_storage()
        net, p = self.net, self.program
        n_slots = self.n_slots
        comment = [
            f"/* Generated by dlgn (CUDA backend): {net.n_inputs} inputs, {net.n_gates} gates "
            f"({p.order.size} emitted with the head), {net.n_outputs} outputs, "
            f"{net.n_classes} classes.",
            f" * {self.word_bits}-sample words; slots: {n_slots} in {storage} memory; "
            f"chunks: {len(self.body_chunks())}; netlist sha256 {net.content_hash()[:16]}."]
        L = self.preamble(storage, net.n_inputs, comment) + self.pack_kernel()
        L.append(self.emit_eval())
        L += self.eval_kernel(storage, n_slots)
        L += self._host(storage)
        return "\n".join(L) + "\n"

    def _sample_value(self, offset: int, bits: int) -> str:
        terms = [f"(int)((r[{offset + j}] >> b) & 1u)" + (f" << {j}" if j else "")
                 for j in range(bits)]
        return " | ".join(terms) if terms else "0"

    def eval_kernel(self, storage: str, n_slots: int, n_inputs: str = "DLGN_NIN") -> list[str]:
        """``<prefix>_eval_kernel``: one thread per word runs the block over its inputs
        (``P[tile][n_inputs][BLOCK]``) and writes class ids, counts and output words."""
        p, pre = self.program, self.prefix
        C = p.n_classes
        mb = f", {self.min_blocks}" if self.min_blocks else ""
        L = ["/* one thread per word: the block, then per sample the class id and counts */",
             f"__global__ void __launch_bounds__(DLGN_BLOCK{mb}) {pre}_eval_kernel(const W* "
             "__restrict__ P,"
             " W* __restrict__ Sg, long long nw, long long n, long long* __restrict__ cls,"
             " int* __restrict__ sc, W* __restrict__ ow)",
             "{",
             "    const long long w = (long long)blockIdx.x * DLGN_BLOCK + threadIdx.x;",
             "    if (w >= nw) return;",
             f"    const W* Pt = P + (long long)blockIdx.x * ({n_inputs} * DLGN_BLOCK) + threadIdx.x;",
             "    W* ot = ow ? ow + (long long)blockIdx.x * (DLGN_NOUT * DLGN_BLOCK) + threadIdx.x"
             " : 0;",
             f"    W r[{max(p.n_results, 1)}];"]
        if storage == "registers":
            L.append(f"    W St[{max(n_slots, 1)}];")
            L.append("    (void)Sg;")
        elif storage == "shared":
            L.append(f"    __shared__ W sh[{max(n_slots, 1)} * DLGN_BLOCK];")
            L.append("    W* St = sh + threadIdx.x;")
            L.append("    (void)Sg;")
        else:
            L.append("    W* St = Sg + (long long)blockIdx.x * (DLGN_GSLOTS * DLGN_BLOCK)"
                     " + threadIdx.x;")
        L.append(f"    {pre}_eval_block(Pt, St, ot, r);")
        if C == 0:
            L += ["    (void)n; (void)cls; (void)sc;", "}", ""]
            return L
        L += ["    if (!cls && !sc) return;",
              "    const long long s0 = w * DLGN_WB;",
              "    const int m = (int)(n - s0 < DLGN_WB ? n - s0 : DLGN_WB);",
              "    for (int b = 0; b < m; ++b) {",
              f"        if (cls) cls[s0 + b] = {self._sample_value(p.idx_offset, p.idx_bits)};",
              "        if (sc) {",
              f"            int* t = sc + (s0 + b) * {C};"]
        for c in range(C):
            L.append(f"            t[{c}] = "
                     f"{self._sample_value(p.count_offset[c], p.count_bits[c])};")
        L += ["        }", "    }", "}", ""]
        return L

    def wrappers(self, pre: str) -> list[str]:
        """The small cudart wrappers of the host API (``<pre>_malloc``, ...): a loader needs
        nothing but the built library."""
        return [
            "/* small cudart wrappers: a loader needs nothing but this library */",
            f"void* {pre}_malloc(long long bytes) {{ void* p = 0; return cudaMalloc(&p, "
            "(size_t)(bytes > 0 ? bytes : 1)) == cudaSuccess ? p : 0; }",
            f"int {pre}_free(void* p) {{ return (int)cudaFree(p); }}",
            f"int {pre}_memcpy(void* dst, const void* src, long long bytes, int kind) {{ return "
            "(int)cudaMemcpy(dst, src, (size_t)bytes, (cudaMemcpyKind)kind); }",
            f"int {pre}_sync(void* stream) {{ return (int)cudaStreamSynchronize((cudaStream_t)"
            "stream); }",
            f"int {pre}_device_count(void) {{ int n = 0; const cudaError_t e = "
            "cudaGetDeviceCount(&n); return e == cudaSuccess ? n : -(int)e; }",
            f"int {pre}_set_device(int d) {{ return (int)cudaSetDevice(d); }}",
            f"const char* {pre}_error_string(int e) {{ return cudaGetErrorString((cudaError_t)e);"
            " }",
        ]

    def _host(self, storage: str) -> list[str]:
        pre = self.prefix
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
            "DLGN_BLOCK * DLGN_GSLOTS * (long long)sizeof(W); }",
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
            f"    DLGN_LAUNCH({pre}_pack_kernel, (total + 255) / 256, 256, (cudaStream_t)stream, "
            "X, n, nw,"
            " P);",
            "    return (int)cudaGetLastError();",
            "}",
            "",
            "/* P: packed inputs; S: scratch_bytes(n); cls: int64[n]; sc: int32[n][C] or 0; "
            "ow: outputs_bytes(n) or 0 */",
            f"int {pre}_eval_packed(const W* P, long long n, W* S, long long* cls, int* sc, W* ow,"
            " void* stream)",
            "{",
            "    if (n <= 0) return 0;",
            "    const long long nw = (n + DLGN_WB - 1) / DLGN_WB;",
            f"    DLGN_LAUNCH({pre}_eval_kernel, {pre}_tiles(n), DLGN_BLOCK, (cudaStream_t)stream, "
            "P, S, nw,"
            " n, cls, sc, ow);",
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
            *self.wrappers(pre),
            "",
            '}  /* extern "C" */',
        ]


#: The exported host functions: name -> (return type, parameter types); word pointers are
#: declared ``void*`` (the word type depends on ``word_bits``).
API = {
    "packed_bytes": ("long long", ("long long",)),
    "scratch_bytes": ("long long", ("long long",)),
    "outputs_bytes": ("long long", ("long long",)),
    "workspace_bytes": ("long long", ("long long",)),
    "word_bits": ("int", ()),
    "block": ("int", ()),
    "pack": ("int", ("const unsigned char*", "long long", "void*", "void*")),
    "eval_packed": ("int", ("const void*", "long long", "void*", "long long*", "int*", "void*",
                            "void*")),
    "run": ("int", ("const unsigned char*", "long long", "void*", "long long*", "int*", "void*",
                    "void*")),
    "malloc": ("void*", ("long long",)),
    "free": ("int", ("void*",)),
    "memcpy": ("int", ("void*", "const void*", "long long", "int")),
    "sync": ("int", ("void*",)),
    "device_count": ("int", ()),
    "set_device": ("int", ("int",)),
    "error_string": ("const char*", ("int",)),
}


def cdef(prefix: str = "model") -> str:
    """Declarations of the exported functions (for ``cffi.FFI.cdef`` or a C header)."""
    p = c_name(prefix)
    return "".join(f"{ret} {p}_{name}({', '.join(args) or 'void'});\n"
                   for name, (ret, args) in API.items())


def emit(netlist: Netlist, word_bits: int = 32, name: str = "model",
         chunk_gates: int = DEFAULT_CHUNK_GATES, storage: str = "auto",
         min_blocks: int = 0) -> str:
    """The ``.cu`` source of ``netlist`` (deterministic text).

    ``word_bits``: 32 or 64 samples per thread; ``name``: prefix of the exported functions;
    ``chunk_gates``: statements per chunk function; ``storage``: where slots live
    ("auto", "registers", "shared", "global"); ``min_blocks``: the second argument of
    ``__launch_bounds__`` (resident blocks per SM; caps registers per thread, 0: nvcc's
    choice)."""
    return CudaEmitter(netlist, word_bits, name, chunk_gates, storage, min_blocks).emit()


def write_files(netlist: Netlist, outdir, name: str = "model", **options) -> list[Path]:
    """Write ``<name>.cu`` and the shim header ``cuda_shim.h`` (for CPU builds) into
    ``outdir``; returns their paths."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    cu = outdir / f"{name}.cu"
    cu.write_text(emit(netlist, name=name, **options))
    shim = outdir / SHIM_HEADER
    shim.write_bytes(shim_path().read_bytes())
    return [cu, shim]
