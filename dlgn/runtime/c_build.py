"""Build the C backend's source into a plain shared library and load it with ``dlopen``.

``build_c(netlist)`` emits the C (:mod:`dlgn.backends.c`), compiles it with the host C
compiler (``cc -shared -fPIC``: no Python headers, no extension module) into the build
cache (:mod:`dlgn.runtime.cache`) and loads it with cffi's ABI mode (``ffi.dlopen``; ctypes
when cffi is missing), ``RTLD_NOW | RTLD_LOCAL``.  Both release the GIL during the C calls,
and the C side runs its own pthreads over sample blocks.

Large nets: the gate code is split into translation units of ~16K gates each
(:func:`dlgn.backends.c.emit_sources`, ``parts``), compiled by one ``cc -c`` each, as many
at a time as this process has CPUs, and linked into the one ``model.so``: GCC needs ~15 KB
per gate of a unit, so one unit for a 1M-gate random net (315K gates optimized) peaked at
4.7 GB; in parts each compiler process stays near 250 MB and the build scales with the
cores.  The cache entry holds every source (each covered by the marker's size and sha256).

Symbol isolation: every emitted model defines the same ``dlgn_*`` names.  The library is
built from a small generated glue file that includes ``model.c`` under
``-fvisibility=hidden`` and exports the entry points under names unique to the build
(``dlgnm_<key>_predict_mt``, ...), so two models never bind to each other's functions --
not even in a process where some import switched dlopen to ``RTLD_GLOBAL`` (pyosys does).
"""
from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import subprocess
import sysconfig
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ..compiler.netlist import Netlist, NetlistError
from ..compiler.simulate import check_bits
from . import cache
from ..errors import DlgnError
from .model import CompiledModel, is_torch

__all__ = ["build_c", "CompiledCModel", "host_word_bits", "default_cc", "default_cflags",
           "CBuildError"]

log = logging.getLogger("dlgn.runtime.c_build")

_LOADED: dict = {}
_LOCK = threading.Lock()
# bump when the glue, the library layout or the loading changes (part of the cache key)
_GLUE_VERSION = "dlopen-glue-1"
_LIBRARY = "model.so"


class CBuildError(DlgnError, RuntimeError):
    """The C compiler is missing or failed on the generated source, or the built library
    does not load or does not match its netlist."""

def default_cc() -> str:
    """``$CC``, else gcc, else clang, else cc."""
    env = os.environ.get("CC")
    if env:
        return env
    for cc in ("gcc", "clang", "cc"):
        if shutil.which(cc):
            return cc
    raise CBuildError("no C compiler found (install gcc or clang, or set CC)")


def host_word_bits() -> int:
    """Samples per word for this CPU: 512 with AVX-512F, 256 with AVX2, else 128.

    On the straight-line gate code the front end (instruction fetch over a program far
    larger than the L1i) limits the speed, so the widest word amortizes it best: on a
    Zen 4 (AVX-512 double-pumped) 512-bit words measured 1.2x faster than 256-bit ones on
    the MNIST net, with the same build time (benchmarks/c_bench.py)."""
    flags = cache.cpu_identity()
    if " avx512f" in flags:
        return 512
    if " avx2" in flags:
        return 256
    return 128


# GCC passes that cost build time and buy nothing on straight-line gate code (every gate
# is an SSA local, nothing to forward or eliminate): build 3.5 s instead of 7.2 s for the
# MNIST net's 31K statements, same speed (benchmarks/c_bench.py)
_GCC_LEAN = ["-fno-tree-dse", "-fno-dse", "-fno-tree-fre", "-fno-tree-dominator-opts",
             "-fno-tree-pta", "-fno-ipa-modref", "-fno-ipa-pure-const", "-fno-ipa-reference",
             "-fno-ipa-profile"]


def _gcc_major(cc: str) -> int:
    """GCC's major version, or 0 when ``cc`` is not GCC (clang, unknown, not runnable)."""
    try:
        ident = cache.compiler_identity(cc)
    except RuntimeError:
        return 0
    low = ident.lower()
    if "clang" in low or not ("gcc" in low or "free software foundation" in low):
        return 0
    lines = ident.splitlines()
    m = re.findall(r"(\d+)\.\d+(?:\.\d+)?", lines[1] if len(lines) > 1 else "")
    return int(m[-1]) if m else 0


def default_cflags(cc: str | None = None) -> list[str]:
    """``-O1 -march=native`` (plus, for GCC ``cc``, passes switched off that only cost build
    time): on straight-line gate code -O2 measured slower to build (1.4x on a 48K-gate net,
    3x on the MNIST net) and no faster to run (benchmarks/c_bench.py)."""
    flags = ["-O1", "-march=native"]
    major = _gcc_major(cc) if cc is not None else 0
    if major:
        flags += [f for f in _GCC_LEAN if f != "-fno-ipa-modref" or major >= 11]
    return flags


# ---------------------------------------------------------------- glue, build, load
_PROTO = re.compile(r"^\s*(?P<ret>[A-Za-z_][\w \t\*]*?)\s*\b(?P<name>dlgn_\w+)\s*"
                    r"\((?P<params>[^()]*)\)\s*;\s*$")
_CONST = re.compile(r"^\s*extern\s+const\s+int32_t\s+dlgn_(?P<name>\w+)\s*;\s*$")


def _glue(cdef: str, tag: str) -> tuple[str, str, dict]:
    """The glue C file exporting the entry points of ``model.c`` (the ``dlgn_*``
    prototypes of ``cdef``) as ``<tag>_*``, plus getters ``<tag>_const_<name>`` of its int32
    constants -> (glue source, the cffi declarations of those exports, {export: (ret, [param
    types])} for ctypes)."""
    defs, decls, sigs = [], [], {}
    for line in cdef.splitlines():
        m = _CONST.match(line)
        if m:
            c = m["name"]
            decls.append(f"int32_t {tag}_const_{c}(void);")
            defs.append(f"DLGN_GLUE_EXPORT int32_t {tag}_const_{c}(void) {{ return dlgn_{c}; }}")
            sigs[f"{tag}_const_{c}"] = ("int32_t", [])
            continue
        m = _PROTO.match(line)
        if not m:
            continue
        ret, name, params = m["ret"].strip(), m["name"], m["params"].strip()
        plist = [] if params in ("", "void") else [p.strip() for p in params.split(",")]
        args, types = [], []
        for p in plist:
            a = re.search(r"([A-Za-z_]\w*)\s*$", p)
            if a is None:
                raise CBuildError(f"cannot read the parameter {p!r} of {name} in the C API")
            args.append(a[1])
            types.append(p[:a.start()].strip())
        export = tag + name[len("dlgn"):]
        proto = f"{ret} {export}({', '.join(plist) or 'void'})"
        decls.append(proto + ";")
        ret_kw = "" if ret == "void" else "return "
        defs.append(f"DLGN_GLUE_EXPORT {proto} {{ {ret_kw}{name}({', '.join(args)}); }}")
        sigs[export] = (ret, types)
    need = [f"{tag}_outputs_mt", f"{tag}_const_n_inputs"]
    if [n for n in need if n not in sigs]:
        raise CBuildError("the C backend's declarations (backends.c.cdef) no longer have the "
                          "form the runtime's glue reads (dlgn_outputs_mt, dlgn_n_inputs)")
    source = ("/* Generated by dlgn.runtime.c_build: model.c with hidden symbols, its entry\n"
              "   points exported under names of this build's own. */\n"
              '#include "model.c"\n\n'
              "#if defined(_WIN32)\n#define DLGN_GLUE_EXPORT __declspec(dllexport)\n#else\n"
              '#define DLGN_GLUE_EXPORT __attribute__((visibility("default")))\n#endif\n\n'
              + "\n".join(defs) + "\n")
    return source, "\n".join(decls) + "\n", sigs


def _run_cc(cmd: list[str]) -> None:
    log.debug("compiling: %s", shlex.join(cmd))
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise CBuildError(f"cannot run the C compiler {cmd[0]!r}: {e.strerror or e}") from None
    if r.returncode != 0:
        raise CBuildError(f"C compilation failed ({shlex.join(cmd)}):\n"
                          f"{(r.stderr or r.stdout)[-4000:]}")


def _build_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def _compile_model(tmp: Path, sources, glue: str, cc: str, flags: list[str],
                   jobs: int | None = None) -> None:
    """``model.c`` (+ ``model_part<k>.c``) + ``glue.c`` -> ``model.so`` in ``tmp``: a plain
    shared library (no Python headers), everything hidden but the glue's exports.  With
    parts, each translation unit is compiled by its own ``cc -c`` (``jobs`` at a time), then
    linked; the objects are removed (the sources stay in the entry, verified with it)."""
    if isinstance(sources, str):
        sources = [sources]
    (tmp / "model.c").write_text(sources[0])
    (tmp / "glue.c").write_text(glue)
    base = [cc, *flags, "-fPIC", "-fvisibility=hidden"]
    if len(sources) == 1:
        cmd = [*base, "-shared", "-pthread", str(tmp / "glue.c"), "-o", str(tmp / _LIBRARY)]
        _run_cc(cmd)
        (tmp / "build.txt").write_text(shlex.join(cmd) + "\n")
        return
    units = [tmp / "glue.c"]
    for k, src in enumerate(sources[1:], 1):
        (tmp / f"model_part{k}.c").write_text(src)
        units.append(tmp / f"model_part{k}.c")
    objs = [u.with_suffix(".o") for u in units]
    cmds = [[*base, "-c", str(u), "-o", str(o)] for u, o in zip(units, objs)]
    # the biggest units first (the glue holds the runtime and the main file)
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=max(1, int(jobs or _build_jobs()))) as ex:
        for f in [ex.submit(_run_cc, c) for c in cmds]:
            f.result()
    link = [cc, *flags, "-fPIC", "-shared", "-pthread", *map(str, objs), "-o",
            str(tmp / _LIBRARY)]
    _run_cc(link)
    for o in objs:
        o.unlink()
    (tmp / "build.txt").write_text("".join(shlex.join(c) + "\n" for c in cmds + [link]))


def _dlopen(path: Path, decls: str, sigs: dict):
    """Load the library at ``path`` privately (``RTLD_NOW | RTLD_LOCAL``, whatever flags
    the process uses for imports) -> (cffi ffi or None, library)."""
    try:
        import cffi
    except ImportError:       # a slim image without cffi: the stdlib loader does the same
        cffi = None
    try:
        if cffi is not None:
            ffi = cffi.FFI()
            ffi.cdef(decls)
            return ffi, ffi.dlopen(str(path), ffi.RTLD_NOW | ffi.RTLD_LOCAL)
        import ctypes
        lib = ctypes.CDLL(str(path), mode=os.RTLD_NOW | os.RTLD_LOCAL)
    except OSError as e:
        raise CBuildError(f"cannot load the built C model {path}: {e}") from None
    ct = {"int": ctypes.c_int, "int32_t": ctypes.c_int32, "size_t": ctypes.c_size_t,
          "void": None}
    for name, (ret, types) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = ct.get(ret, ctypes.c_void_p)
        fn.argtypes = [ct.get(t, ctypes.c_void_p) for t in types]
    return None, lib


class _CLib:
    """A loaded model library: ``call(entry, X, out, threads)`` on numpy arrays and
    ``const(name)``; cffi ABI mode or ctypes, both release the GIL during calls."""

    def __init__(self, path: Path, tag: str, decls: str, sigs: dict):
        self.path, self.tag = Path(path), tag
        self._ffi, self._lib = _dlopen(self.path, decls, sigs)
        self.loader = "cffi" if self._ffi is not None else "ctypes"

    def const(self, name: str) -> int:
        return int(getattr(self._lib, f"{self.tag}_const_{name}")())

    def call(self, entry: str, X: np.ndarray, out: np.ndarray, threads: int) -> int:
        fn = getattr(self._lib, f"{self.tag}_{entry}")
        ffi = self._ffi
        if ffi is not None:
            kind = "uint8_t[]" if out.dtype == np.uint8 else "int32_t[]"
            xb = ffi.from_buffer("uint8_t[]", X.view(np.uint8)) if X.size else ffi.NULL
            return int(fn(xb, X.shape[0], ffi.from_buffer(kind, out), int(threads)))
        return int(fn(X.ctypes.data if X.size else None, X.shape[0], out.ctypes.data,
                      int(threads)))


# compatibility for benchmarks/c_bench.py: any C source with its cffi declarations ->
# a plain shared library named like an extension module, loaded as SimpleNamespace(ffi, lib)
def _compile(tmp: Path, modname: str, source: str, cdef: str, cc: str, flags: list[str]):
    tmp = Path(tmp)
    src = tmp / f"{modname}.c"
    src.write_text(source)
    (tmp / f"{modname}.cdef").write_text(cdef)
    so = tmp / (modname + sysconfig.get_config_var("EXT_SUFFIX"))
    _run_cc([cc, *flags, "-fPIC", "-shared", "-pthread", str(src), "-o", str(so)])


def _load(path: Path, modname: str):
    path = Path(path)
    ffi, lib = _dlopen(path, (path.parent / f"{modname}.cdef").read_text(), {})
    return SimpleNamespace(ffi=ffi, lib=lib)


# ---------------------------------------------------------------- the model
class CompiledCModel(CompiledModel):
    """A netlist compiled to C and loaded: ``.outputs(X)``, ``.scores(X)``, ``.predict(X)``
    (inputs and results as :class:`~dlgn.runtime.model.CompiledModel`: numpy, torch or
    lists of 0/1 bits, or raw features with ``encode=True``), and ``.predict_packed(Xp)``
    (rows pre-packed with ``np.packbits(X, axis=1, bitorder="little")``)."""

    target = "c"
    mode = "straight"     # or "program" (build_c's mode, resolved)

    def __init__(self, netlist: Netlist, lib: _CLib, threads: int, word_bits: int,
                 build_dir: Path, build_seconds: float):
        self.netlist = netlist
        self._clib = lib
        self.loader = lib.loader
        self.library = lib.path
        self.threads = int(threads)
        self.word_bits = int(word_bits)
        self.build_dir = Path(build_dir)
        self.build_seconds = float(build_seconds)

    def __repr__(self):
        return (f"CompiledCModel({self.netlist!r}, word_bits={self.word_bits}, "
                f"threads={self.threads})")

    def _rows(self, X) -> np.ndarray:
        # type, shape and dtype here; the 0/1 check of the bytes (uint8 or bool: one rule,
        # check_bits') rides along the packing loop in C (rc -2, see _call), which then
        # raises check_bits' own error
        if isinstance(X, np.ndarray) and X.ndim == 2:
            check_bits(X[:0], self.n_inputs)
        else:
            check_bits(X, self.n_inputs)
        return np.ascontiguousarray(X)     # bool or uint8: C reads the bytes (see _call)

    def _call(self, name, X, out):
        if X.shape[0] == 0 or out.size == 0:
            if X.size:            # nothing to compute (no outputs): the bytes still count
                check_bits(X, self.n_inputs)
            return out
        rc = self._clib.call(name + "_mt", X, out, self.threads)
        if rc == -2:  # a byte other than 0/1 (in a uint8 or bool array): check_bits' error
            check_bits(X, self.n_inputs)
            raise ValueError("uint8 input bits must be 0 or 1; encode features first")
        if rc != 0:
            raise MemoryError(f"the compiled model could not allocate its scratch ({name})")
        return out

    def _need_head(self):
        if self.n_classes == 0:
            raise NetlistError("this netlist has no GroupSum head (group_sizes is empty)")

    def _outputs(self, X) -> np.ndarray:
        X = self._rows(X)
        out = np.zeros((X.shape[0], self.n_outputs), dtype=np.uint8)
        return self._call("outputs", X, out).view(bool)

    def _scores(self, X) -> np.ndarray:
        self._need_head()
        X = self._rows(X)
        out = np.zeros((X.shape[0], self.n_classes), dtype=np.int32)
        return self._call("scores", X, out)

    def _predict(self, X) -> np.ndarray:
        self._need_head()
        X = self._rows(X)
        out = np.zeros(X.shape[0], dtype=np.int32)
        return self._call("predict", X, out).astype(np.int64)

    def predict_packed(self, Xp):
        """Predicted class int64[N] from pre-packed rows: uint8[N, ceil(n_inputs / 8)] as
        ``np.packbits(X, axis=1, bitorder="little")`` gives (8x less input to read; the
        padding bits of the last byte are ignored).  A torch uint8 tensor gives a tensor."""
        if is_torch(Xp):
            import torch
            res = self.predict_packed(Xp.detach().cpu().numpy())
            return torch.from_numpy(res).to(Xp.device)
        self._need_head()
        nb = (self.n_inputs + 7) // 8
        if not isinstance(Xp, np.ndarray) or Xp.ndim != 2 or Xp.dtype != np.uint8 \
                or Xp.shape[1] != nb:
            raise ValueError(f"packed input must be a 2-D uint8 array of {nb} bytes per row "
                             f"(np.packbits(X, axis=1, bitorder='little')), got "
                             f"{getattr(Xp, 'dtype', type(Xp).__name__)} "
                             f"{getattr(Xp, 'shape', '')}")
        Xp = np.ascontiguousarray(Xp)
        out = np.zeros(Xp.shape[0], dtype=np.int32)
        if Xp.shape[0] == 0 or nb == 0:
            return self._predict(np.zeros((Xp.shape[0], self.n_inputs), np.uint8))
        return self._call("predict_packed", Xp, out).astype(np.int64)


def build_c(netlist: Netlist, threads: int = 0, word_bits: int | None = None, cc: str | None = None,
            cflags=None, cache_dir=None, chunk_gates: int | None = None,
            parts: int | None = None, jobs: int | None = None, mode: str = "auto") -> CompiledCModel:
    """Compile ``netlist`` to C, build it (cached) and load it.

    ``threads``: sample-block threads per call (0: every CPU this process may use);
    ``word_bits``: 64/128/256/512 (None: :func:`host_word_bits`); ``cc``: the compiler
    (default :func:`default_cc`); ``cflags``: a list or string replacing
    ``-O1 -march=native`` (:func:`default_cflags`); ``cache_dir``: the cache root (default
    ``$DLGN_CACHE_DIR`` or the user's cache directory, :func:`dlgn.runtime.cache.cache_root`;
    see :mod:`dlgn.runtime.cache` for the checks that root and entry pass before a library
    is loaded); ``parts``: translation units the gate code is split into, compiled in
    parallel (None: :func:`dlgn.backends.c.auto_parts`, one per ~16K gates); ``jobs``:
    compiler processes at a time (None: every CPU this process may use); ``mode``:
    ``"straight"`` (one C statement per gate: the fastest for small nets), ``"program"``
    (the gate program of :mod:`dlgn.backends.cprogram`: a small interpreter over data,
    built in seconds at any size, cost per gate independent of the size) or ``"auto"``
    (:func:`dlgn.backends.c.resolve_mode`: the program above
    :data:`dlgn.backends.c.PROGRAM_GATES` gates)."""
    from ..backends import c as cback
    from ..backends import cshared
    from ..compiler.shared import SharedNet, is_packed
    if is_packed(netlist):
        netlist = SharedNet.from_netlist(netlist)
    shared = isinstance(netlist, SharedNet)
    if not shared and not isinstance(netlist, Netlist):
        raise TypeError(f"expected a dlgn Netlist, got {type(netlist).__name__}")
    netlist.check()
    threads = int(threads)
    if threads < 0:
        raise ValueError("threads must be >= 0")
    if threads == 0:
        try:
            threads = len(os.sched_getaffinity(0))
        except AttributeError:
            threads = os.cpu_count() or 1
    wb = host_word_bits() if word_bits is None else int(word_bits)
    if wb not in (64, 128, 256, 512):
        raise ValueError(f"word_bits must be 64, 128, 256 or 512, got {word_bits!r}")
    cc = cc or default_cc()
    if cflags is None:
        flags = default_cflags(cc)
    elif isinstance(cflags, str):
        flags = shlex.split(cflags)
    else:
        flags = [str(f) for f in cflags]
    flags = flags + [f"-DDLGN_WORD_BITS={wb}"]
    opts = {} if chunk_gates is None else {"chunk_gates": int(chunk_gates)}
    t0 = time.perf_counter()
    if shared:        # the weight-shared form: kernels in loops over positions, one unit
        mode = "shared"
        sources = [cshared.emit_shared(netlist, **opts)]
        cdef = cshared.shared_cdef(netlist)
    else:
        mode = cback.resolve_mode(netlist, mode)
        n_parts = cback.auto_parts(netlist) if parts is None else int(parts)
        if n_parts < 1:
            raise ValueError("parts must be >= 1")
        sources = cback.emit_sources(netlist, n_parts, mode=mode, **opts)
        cdef = cback.cdef(netlist)
    parts = [*sources, cdef, " ".join(flags), cache.compiler_identity(cc), _GLUE_VERSION]
    if len(sources) > 1:
        parts.append(f"translation units: {len(sources)}")
    if any("native" in f for f in flags):
        parts.append(cache.cpu_identity())
    key = cache.cache_key(*parts)
    tag = f"dlgnm_{key[:24]}"
    glue, decls, sigs = _glue(cdef, tag)
    # get_or_build verifies the library's owner, mode, size and sha256 before we load it
    build_dir = cache.get_or_build(
        key, lambda tmp: _compile_model(tmp, sources, glue, cc, flags, jobs), cache_dir,
        artifact=_LIBRARY)
    so = build_dir / _LIBRARY
    with _LOCK:
        lib = _LOADED.get(str(so))
        if lib is None:
            lib = _CLib(so, tag, decls, sigs)
            got = {c: lib.const(c) for c in ("n_inputs", "n_outputs", "n_classes")}
            want = {"n_inputs": netlist.n_inputs, "n_outputs": netlist.n_outputs,
                    "n_classes": netlist.n_classes}
            if got != want:
                raise CBuildError(f"the built library {so} computes a different netlist "
                                  f"({got}, expected {want})")
            _LOADED[str(so)] = lib
    dt = time.perf_counter() - t0
    log.debug("C model ready in %.2f s (%s, word_bits=%d, %s)", dt, build_dir, wb, lib.loader)
    m = CompiledCModel(netlist, lib, threads, wb, build_dir, dt)
    m.mode = mode
    return m
