"""Build the C backend's source into a Python extension through cffi (API mode).

``build_c(netlist)`` emits the C (:mod:`dlgn.backends.c`), wraps it with
``cffi.FFI.set_source`` / ``emit_c_code``, compiles it with the host C compiler into the
build cache (:mod:`dlgn.runtime.cache`) and loads it.  cffi releases the GIL during the C
calls, and the C side runs its own pthreads over sample blocks.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path

import numpy as np

from ..compiler.netlist import Netlist, NetlistError
from ..compiler.simulate import check_bits
from . import cache

__all__ = ["build_c", "CompiledCModel", "host_word_bits", "default_cc", "default_cflags"]

log = logging.getLogger("dlgn.runtime.c_build")

_LOADED: dict = {}
_LOCK = threading.Lock()


def default_cc() -> str:
    """``$CC``, else gcc, else clang, else cc."""
    env = os.environ.get("CC")
    if env:
        return env
    for cc in ("gcc", "clang", "cc"):
        if shutil.which(cc):
            return cc
    raise RuntimeError("no C compiler found (install gcc or clang, or set CC)")


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


class CompiledCModel:
    """A netlist compiled to C and loaded: ``.outputs(X)``, ``.scores(X)``, ``.predict(X)``,
    ``.predict_packed(Xp)`` (rows pre-packed with ``np.packbits(X, axis=1, bitorder="little")``).

    ``X``: 2-D bool or uint8 (0/1) array, samples x ``n_inputs``; any batch size."""

    target = "c"

    def __init__(self, netlist: Netlist, module, threads: int, word_bits: int,
                 build_dir: Path, build_seconds: float):
        self.netlist = netlist
        self._ffi, self._lib = module.ffi, module.lib
        self.threads = int(threads)
        self.word_bits = int(word_bits)
        self.build_dir = Path(build_dir)
        self.build_seconds = float(build_seconds)
        self.n_inputs = netlist.n_inputs
        self.n_outputs = netlist.n_outputs
        self.n_classes = netlist.n_classes

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
        ffi = self._ffi
        fn = getattr(self._lib, name + "_mt")
        kind = "uint8_t[]" if out.dtype == np.uint8 else "int32_t[]"
        xb = ffi.from_buffer("uint8_t[]", X.view(np.uint8)) if X.size else ffi.NULL
        rc = fn(xb, X.shape[0], ffi.from_buffer(kind, out), self.threads)
        if rc == -2:  # a byte other than 0/1 (in a uint8 or bool array): check_bits' error
            check_bits(X, self.n_inputs)
            raise ValueError("uint8 input bits must be 0 or 1; encode features first")
        if rc != 0:
            raise MemoryError(f"the compiled model could not allocate its scratch ({name})")
        return out

    def _need_head(self):
        if self.n_classes == 0:
            raise NetlistError("this netlist has no GroupSum head (group_sizes is empty)")

    def outputs(self, X) -> np.ndarray:
        """Output bits bool[N, n_outputs] (polarity applied), like ``dlgn.simulate``."""
        X = self._rows(X)
        out = np.zeros((X.shape[0], self.n_outputs), dtype=np.uint8)
        return self._call("dlgn_outputs", X, out).view(bool)

    def scores(self, X) -> np.ndarray:
        """GroupSum counts int32[N, n_classes] (the real scores are these / tau)."""
        self._need_head()
        X = self._rows(X)
        out = np.zeros((X.shape[0], self.n_classes), dtype=np.int32)
        return self._call("dlgn_scores", X, out)

    def predict_packed(self, Xp) -> np.ndarray:
        """Predicted class int64[N] from pre-packed rows: uint8[N, ceil(n_inputs / 8)] as
        ``np.packbits(X, axis=1, bitorder="little")`` gives (8x less input to read; the
        padding bits of the last byte are ignored)."""
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
            return self.predict(np.zeros((Xp.shape[0], self.n_inputs), np.uint8))
        return self._call("dlgn_predict_packed", Xp, out).astype(np.int64)

    def predict(self, X) -> np.ndarray:
        """Predicted class int64[N] (first maximum on ties)."""
        self._need_head()
        X = self._rows(X)
        out = np.zeros(X.shape[0], dtype=np.int32)
        return self._call("dlgn_predict", X, out).astype(np.int64)


def _compile(tmp: Path, modname: str, source: str, cdef: str, cc: str, flags: list[str]):
    import cffi
    ffi = cffi.FFI()
    ffi.cdef(cdef)
    ffi.set_source(modname, source)
    src = tmp / f"{modname}.c"
    with contextlib.redirect_stdout(io.StringIO()):  # cffi prints "generating ..."
        ffi.emit_c_code(str(src))
    so = tmp / (modname + sysconfig.get_config_var("EXT_SUFFIX"))
    inc = sysconfig.get_paths()["include"]
    # hidden visibility: every model exports the same dlgn_* names, and a process where
    # some import set RTLD_GLOBAL (pyosys does) would otherwise bind one model's calls to
    # another model's functions
    cmd = [cc, *flags, "-fPIC", "-fvisibility=hidden", "-shared", "-pthread", f"-I{inc}",
           str(src), "-o", str(so)]
    log.debug("compiling: %s", shlex.join(cmd))
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"C compilation failed ({shlex.join(cmd)}):\n{r.stderr[-4000:]}")
    (tmp / "build.txt").write_text(shlex.join(cmd) + "\n")


def _load(path: Path, modname: str):
    """Import the built extension with RTLD_LOCAL, whatever dlopen flags an earlier import
    left set for the process, so its symbols never leak into (or from) other models."""
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    flags = sys.getdlopenflags() if hasattr(sys, "getdlopenflags") else None
    try:
        if flags is not None:
            sys.setdlopenflags(os.RTLD_NOW | os.RTLD_LOCAL)
        spec.loader.exec_module(mod)
    finally:
        if flags is not None:
            sys.setdlopenflags(flags)
    return mod


def build_c(netlist: Netlist, threads: int = 0, word_bits: int | None = None, cc: str | None = None,
            cflags=None, cache_dir=None, chunk_gates: int | None = None) -> CompiledCModel:
    """Compile ``netlist`` to C, build it (cached) and load it.

    ``threads``: sample-block threads per call (0: every CPU this process may use);
    ``word_bits``: 64/128/256/512 (None: :func:`host_word_bits`); ``cc``: the compiler
    (default :func:`default_cc`); ``cflags``: a list or string replacing
    ``-O1 -march=native`` (:func:`default_cflags`); ``cache_dir``: the cache root (default
    ``$DLGN_CACHE_DIR`` or ``~/.cache/dlgn``; see :mod:`dlgn.runtime.cache` for the checks
    that root and entry pass before a library is loaded)."""
    from ..backends import c as cback
    if not isinstance(netlist, Netlist):
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
    source = cback.emit(netlist, **opts)
    cdef = cback.cdef(netlist)
    parts = [source, cdef, " ".join(flags), cache.compiler_identity(cc), "cffi-api-2"]
    if any("native" in f for f in flags):
        parts.append(cache.cpu_identity())
    key = cache.cache_key(*parts)
    modname = f"_dlgn_c_{key[:24]}"
    so_name = modname + sysconfig.get_config_var("EXT_SUFFIX")
    # get_or_build verifies the library's owner, mode, size and sha256 before we load it
    build_dir = cache.get_or_build(
        key, lambda tmp: _compile(tmp, modname, source, cdef, cc, flags), cache_dir,
        artifact=so_name)
    so = build_dir / so_name
    with _LOCK:
        mod = _LOADED.get(str(so))
        if mod is None:
            mod = _LOADED[str(so)] = _load(so, modname)
    dt = time.perf_counter() - t0
    log.info("C model ready in %.2f s (%s, word_bits=%d)", dt, build_dir, wb)
    return CompiledCModel(netlist, mod, threads, wb, build_dir, dt)
