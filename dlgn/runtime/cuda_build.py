"""Build and load the CUDA backend: nvcc -> shared library -> cffi (ABI mode).

``build_cuda(netlist)`` emits the ``.cu`` (:mod:`dlgn.backends.cuda`), compiles it with
nvcc into a shared library in the build cache (:mod:`dlgn.runtime.cache`, keyed by the
sha256 of source, flags and compiler) and loads it with ``cffi.FFI().dlopen`` (ctypes when
cffi is missing, as on some GPU images).  The model runs on

* torch CUDA tensors (bool or 0/1 integers, 2-D, on the model's device): device pointers
  and the current torch stream, no copies for uint8/bool; results are torch tensors on the
  same device;
* numpy arrays, lists and CPU tensors: copied to the device and back; results are numpy
  (a CPU tensor for a CPU tensor).

``cpu_shim=True`` compiles the *same* source with the host C++ compiler and
``cuda_shim.h`` instead, so the kernels run on the CPU (sequentially): this is how CI
checks the generated kernel logic bit for bit without a GPU.

Without nvcc or a GPU, :func:`build_cuda` raises :class:`CudaUnavailableError`; nothing
here is imported by ``import dlgn``.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from ..backends import cuda as _cuda
from ..compiler.netlist import Netlist, NetlistError
from ..compiler.simulate import check_bit_bytes, check_bits
from . import cache as _cache
from ..errors import DlgnError
from .model import CompiledModel

__all__ = ["build_cuda", "CompiledCudaModel", "CudaUnavailableError", "CudaRuntimeError",
           "find_nvcc", "nvcc_flags", "compile_check"]

log = logging.getLogger("dlgn.runtime.cuda_build")

NVCC_FLAGS = ("-O3", "-std=c++17", "-Xcompiler", "-fPIC", "-shared", "-lineinfo",
              "-split-compile=0", "-diag-suppress=177")
SHIM_FLAGS = ("-x", "c++", "-std=c++17", "-O1", "-fPIC", "-shared")
_MAX_WORKSPACE = 1 << 30       # bytes of device workspace per launch; larger batches split
_H2D, _D2H = 1, 2


class CudaUnavailableError(DlgnError, RuntimeError):
    """No nvcc, no CUDA GPU, or no usable CUDA runtime: the CUDA target cannot run here."""


class CudaRuntimeError(DlgnError, RuntimeError):
    """A CUDA call of a built model failed."""


def find_nvcc() -> str | None:
    """Path of nvcc: ``$DLGN_NVCC``, ``$CUDA_HOME/bin/nvcc``, PATH, /usr/local/cuda."""
    cands = [os.environ.get("DLGN_NVCC")]
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            cands.append(os.path.join(os.environ[var], "bin", "nvcc"))
    cands += [shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc"]
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def _torch_cuda():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def _arch(device: int) -> str:
    """``sm_XY`` of ``device`` ($DLGN_CUDA_ARCH wins); via torch, else nvcc's ``native``."""
    env = os.environ.get("DLGN_CUDA_ARCH")
    if env:
        return env
    torch = _torch_cuda()
    if torch is not None:
        major, minor = torch.cuda.get_device_capability(device)
        return f"sm_{major}{minor}"
    return "native"


def nvcc_flags(arch: str) -> list[str]:
    return list(NVCC_FLAGS) + [f"-arch={arch}"]


def _run(cmd, cwd=None):
    log.debug("running %s", " ".join(cmd))
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} failed ({r.returncode}) on the generated "
                           f"CUDA source:\n{(r.stderr or r.stdout)[-4000:]}")
    return r


def compile_check(source: str, arch: str, outdir, name: str = "model") -> Path:
    """Compile ``source`` with nvcc for ``arch`` to an object file (no GPU needed)."""
    nvcc = find_nvcc()
    if nvcc is None:
        raise CudaUnavailableError("nvcc not found (set CUDA_HOME or DLGN_NVCC)")
    outdir = Path(outdir)
    cu = outdir / f"{name}.cu"
    cu.write_text(source)
    obj = outdir / f"{name}.{arch}.o"
    _run([nvcc, "-O3", "-std=c++17", "-diag-suppress=177", f"-arch={arch}", "-c", str(cu),
          "-o", str(obj)])
    return obj


def _build_library(source: str, name: str, cpu_shim: bool, device: int, cache_dir):
    if cpu_shim:
        cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("clang++")
        if cxx is None:
            raise RuntimeError("cpu_shim=True needs a host C++ compiler (g++ or clang++)")
        flags = list(SHIM_FLAGS)
        shim = _cuda.shim_path().read_text()
        key = _cache.cache_key("dlgn-cuda-shim", source, shim, " ".join(flags),
                               _cache.compiler_identity(cxx))
    else:
        cxx = find_nvcc()
        if cxx is None:
            raise CudaUnavailableError("the CUDA target needs nvcc (not found; set CUDA_HOME "
                                       "or DLGN_NVCC), or use cpu_shim=True to run the kernels "
                                       "on the CPU")
        flags = nvcc_flags(_arch(device))
        shim = ""
        key = _cache.cache_key("dlgn-cuda", source, " ".join(flags),
                               _cache.compiler_identity(cxx))

    def builder(tmp: Path):
        cu = tmp / f"{name}.cu"
        cu.write_text(source)
        if cpu_shim:
            (tmp / _cuda.SHIM_HEADER).write_text(shim)
        _run([cxx, *flags, str(cu), "-o", str(tmp / f"{name}.so")], cwd=tmp)

    try:
        d = _cache.get_or_build(key, builder, cache_dir, artifact=f"{name}.so")
    except _cache.CacheError:
        raise
    except RuntimeError as e:
        if not cpu_shim and "-arch=native" in flags:
            raise CudaUnavailableError(f"nvcc could not target this machine's GPU (no torch to "
                                       f"ask, -arch=native failed; set DLGN_CUDA_ARCH): {e}") \
                from e
        raise
    return d / f"{name}.so"


def build_cuda(netlist: Netlist, device: int = 0, word_bits: int = 32, cache_dir=None,
               cpu_shim: bool = False, name: str = "model", **emit_options):
    """Emit, compile (cached) and load ``netlist`` for the GPU -> :class:`CompiledCudaModel`.

    A convolutional net's weight-shared form (a :class:`~dlgn.compiler.shared.SharedNet` or
    its packed netlist) compiles to one kernel per stage launched over the positions
    (:mod:`dlgn.backends.cudashared`, ``model.mode == "shared"``); a plain netlist to the
    straight-line kernel (``"flat"``).

    ``emit_options`` go to :func:`dlgn.backends.cuda.emit` (``chunk_gates``, ``storage``,
    ``min_blocks``); nvcc targets ``device``'s architecture ($DLGN_CUDA_ARCH overrides).
    ``cpu_shim=True``: build the same source with the host C++ compiler and the shim
    header; it then runs on numpy arrays on the CPU (no GPU needed)."""
    from ..compiler.shared import SharedNet, is_packed
    if is_packed(netlist):
        netlist = SharedNet.from_netlist(netlist)
    shared = isinstance(netlist, SharedNet)
    if not shared and not isinstance(netlist, Netlist):
        raise TypeError(f"expected a dlgn Netlist, got {type(netlist).__name__}")
    netlist.check()
    if not cpu_shim:
        if find_nvcc() is None:
            raise CudaUnavailableError("the CUDA target needs nvcc (not found; set CUDA_HOME "
                                       "or DLGN_NVCC)")
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None and not torch.cuda.is_available():
            raise CudaUnavailableError("no CUDA GPU is available (torch.cuda.is_available() "
                                       "is False); use target 'c' or cpu_shim=True")
    prefix = _cuda.c_name(name)
    if shared:        # a conv net: one kernel a stage, launched over positions
        from ..backends.cudashared import SharedCudaEmitter
        em = SharedCudaEmitter(netlist, word_bits=word_bits, name=prefix, **emit_options)
    else:
        em = _cuda.CudaEmitter(netlist, word_bits=word_bits, name=prefix, **emit_options)
    source = em.emit()
    path = _build_library(source, prefix, cpu_shim, device, cache_dir)
    m = CompiledCudaModel(netlist, path, prefix, em, device=device, cpu_shim=cpu_shim)
    m.mode = "shared" if shared else "flat"
    return m


class _Lib:
    """The built library's functions, called with integer addresses for pointers (0 is
    NULL).  cffi ABI mode (``ffi.dlopen``) when cffi is installed, else ctypes."""

    def __init__(self, path: Path, prefix: str):
        self.prefix = prefix
        try:
            import cffi
        except ImportError:  # e.g. a GPU image without cffi: the stdlib loader does the same
            cffi = None
        if cffi is not None:
            self._ffi = cffi.FFI()
            self._ffi.cdef(_cuda.cdef(prefix))
            self._lib = self._ffi.dlopen(str(path), self._ffi.RTLD_NOW | self._ffi.RTLD_LOCAL)
        else:
            import ctypes
            self._ffi = None
            self._lib = ctypes.CDLL(str(path), mode=os.RTLD_NOW | os.RTLD_LOCAL)
            ct = {"long long": ctypes.c_longlong, "int": ctypes.c_int,
                  "const char*": ctypes.c_char_p}
            for name, (ret, args) in _cuda.API.items():
                fn = getattr(self._lib, f"{prefix}_{name}")
                fn.restype = ct.get(ret, ctypes.c_void_p)
                fn.argtypes = [ct.get(a, ctypes.c_void_p) for a in args]
        self.loader = "cffi" if cffi is not None else "ctypes"

    def __call__(self, name: str, *args):
        ret, types = _cuda.API[name]
        fn = getattr(self._lib, f"{self.prefix}_{name}")
        if self._ffi is not None:
            args = [self._ffi.cast(t, a) if "*" in t else a for t, a in zip(types, args)]
        r = fn(*args)
        if ret == "const char*":
            if self._ffi is not None:
                return self._ffi.string(r).decode(errors="replace")
            return (r or b"").decode(errors="replace")
        if ret == "void*":
            return int(self._ffi.cast("uintptr_t", r)) if self._ffi is not None else int(r or 0)
        return int(r)


def _addr(a) -> int:
    return 0 if a is None else int(a.ctypes.data)


class CompiledCudaModel(CompiledModel):
    """A loaded CUDA build: ``predict``, ``scores`` and ``outputs`` on input bits (or raw
    features with ``encode=True``), as :class:`~dlgn.runtime.model.CompiledModel`: torch
    CUDA tensors run on their device with the current torch stream and give tensors
    there; numpy arrays, lists and CPU tensors are copied through the host (numpy out for
    numpy in, a CPU tensor for a CPU tensor)."""

    target = "cuda"

    def __init__(self, netlist: Netlist, path: Path, prefix: str, emitter, device: int = 0,
                 cpu_shim: bool = False):
        self.netlist = netlist
        self.path = Path(path)
        self.prefix = prefix
        self.device = int(device)
        self.cpu_shim = bool(cpu_shim)
        self._device_tensors = not self.cpu_shim   # a shim's "device" is the host
        self.word_bits = emitter.word_bits
        self.storage = emitter.storage
        self.lib = _Lib(self.path, prefix)
        self.block = self.lib("block")
        if not self.cpu_shim:
            n = self.lib("device_count")
            if n <= 0:
                raise CudaUnavailableError(
                    f"the CUDA runtime reports no usable GPU ({self._err(-n) if n else 'none'})")
            if self.device >= n:
                raise CudaUnavailableError(f"CUDA device {self.device} requested, {n} present")

    def __repr__(self):
        where = "CPU shim" if self.cpu_shim else f"cuda:{self.device}"
        return (f"CompiledCudaModel({self.netlist.n_gates} gates, {self.word_bits}-bit words, "
                f"{self.storage} slots, {where})")

    # ---- plumbing
    def _err(self, code: int) -> str:
        return self.lib("error_string", int(code))

    def _check(self, code: int, what: str):
        if code:
            raise CudaRuntimeError(f"{what} failed: CUDA error {code} ({self._err(code)})")

    def segment(self) -> int:
        """Samples per launch, so that the workspace stays under ~1 GiB (batches split)."""
        tile = self.word_bits * self.block          # samples of one tile of words
        per_tile = self.lib("workspace_bytes", tile) + self.lib("outputs_bytes", tile)
        return max(1, _MAX_WORKSPACE // max(per_tile, 1)) * tile

    def run_device(self, x_ptr: int, n: int, ws_ptr: int, cls_ptr: int = 0, sc_ptr: int = 0,
                   ow_ptr: int = 0, stream: int = 0) -> None:
        """Low level: one launch on device addresses (``ws``: ``workspace_bytes(n)`` bytes)."""
        self._check(self.lib("run", x_ptr, int(n), ws_ptr, cls_ptr, sc_ptr, ow_ptr, stream),
                    "kernel launch")

    def workspace_bytes(self, n: int) -> int:
        return self.lib("workspace_bytes", int(n))

    # ---- the CompiledModel hooks (numpy bits; CUDA tensors stay on the device)
    def _predict(self, X):
        self._need_head()
        return self._call_numpy(X, want_cls=True)[0]

    def _scores(self, X):
        self._need_head()
        return self._call_numpy(X, want_scores=True)[1]

    def _outputs(self, X):
        return self._call_numpy(X, want_out=True)[2]

    def _on_device(self, kind: str, X):
        if kind != "outputs":
            self._need_head()
        want = {"predict": (True, False, False), "scores": (False, True, False),
                "outputs": (False, False, True)}[kind]
        return self._call_torch(X, *want)[("predict", "scores", "outputs").index(kind)]

    def _need_head(self):
        if self.netlist.n_classes == 0:
            raise NetlistError("this netlist has no GroupSum head (group_sizes is empty); "
                               "use outputs()")

    def _unpack_outputs(self, ow: np.ndarray, n: int) -> np.ndarray:
        """OW[tile][O][BLOCK] words -> bool[n, O]."""
        O, B, wb = self.netlist.n_outputs, self.block, self.word_bits
        if O == 0:      # no output words at all (simulator and C: shape (n, 0))
            return np.zeros((n, 0), dtype=bool)
        words = ow.view(np.uint32 if wb == 32 else np.uint64).reshape(-1, O, B)
        words = words.transpose(1, 0, 2).reshape(O, -1).astype("<u" + str(wb // 8))
        bits = np.unpackbits(np.ascontiguousarray(words).view(np.uint8).reshape(O, -1),
                             axis=1, bitorder="little")
        return bits[:, :n].T.astype(bool)

    def _call_numpy(self, X, want_cls=False, want_scores=False, want_out=False):
        net = self.netlist
        X = check_bits(X if isinstance(X, np.ndarray) else np.asarray(X), net.n_inputs)
        X = np.ascontiguousarray(X).view(np.uint8)
        n, C, O = X.shape[0], net.n_classes, net.n_outputs
        cls = np.zeros(n, dtype=np.int64) if want_cls else None
        sc = np.zeros((n, C), dtype=np.int32) if want_scores else None
        out = np.zeros((n, O), dtype=bool) if want_out else None
        seg = self.segment()
        for s in range(0, n, seg):
            e = min(n, s + seg)
            r = self._run_numpy(np.ascontiguousarray(X[s:e]), want_cls, want_scores, want_out)
            for dst, src in ((cls, r[0]), (sc, r[1]), (out, r[2])):
                if dst is not None:
                    dst[s:e] = src
        return cls, sc, out

    def _run_numpy(self, X, want_cls, want_scores, want_out):
        lib = self.lib
        n, C = X.shape[0], self.netlist.n_classes
        ws_bytes, ow_bytes = lib("workspace_bytes", n), lib("outputs_bytes", n)
        cls = np.zeros(n, dtype=np.int64) if want_cls else None
        sc = np.zeros((n, C), dtype=np.int32) if want_scores else None
        ow = np.zeros(ow_bytes, dtype=np.uint8) if want_out else None
        if n == 0:
            return cls, sc, (np.zeros((0, self.netlist.n_outputs), bool) if want_out else None)
        if self.cpu_shim:  # "device" memory is host memory
            ws = np.zeros(max(ws_bytes, 8), dtype=np.uint8)
            self.run_device(_addr(X), n, _addr(ws), _addr(cls), _addr(sc), _addr(ow), 0)
        else:
            self._check(lib("set_device", self.device), "cudaSetDevice")
            host = {"X": X, "cls": cls, "sc": sc, "ow": ow}
            sizes = {"X": X.nbytes, "ws": ws_bytes, "cls": cls.nbytes if want_cls else 0,
                     "sc": sc.nbytes if want_scores else 0, "ow": ow_bytes if want_out else 0}
            dev = {}
            try:
                for k, b in sizes.items():
                    if b or k in ("X", "ws"):
                        dev[k] = lib("malloc", b)
                        if not dev[k]:
                            raise CudaRuntimeError(f"cudaMalloc of {b} bytes failed")
                self._check(lib("memcpy", dev["X"], _addr(X), X.nbytes, _H2D), "copy in")
                self.run_device(dev["X"], n, dev["ws"], dev.get("cls", 0), dev.get("sc", 0),
                                dev.get("ow", 0), 0)
                self._check(lib("sync", 0), "kernel")
                for k in ("cls", "sc", "ow"):
                    a = host[k]
                    if a is not None and a.nbytes:
                        self._check(lib("memcpy", _addr(a), dev[k], a.nbytes, _D2H), "copy out")
            finally:
                for p in dev.values():
                    if p:
                        lib("free", p)
        out = self._unpack_outputs(ow, n) if want_out else None
        return cls, sc, out

    def _call_torch(self, X, want_cls, want_scores, want_out):
        import torch
        if self.cpu_shim:
            raise ValueError("a CPU-shim build runs on numpy arrays or CPU tensors, not on "
                             "CUDA tensors")
        net = self.netlist
        if X.dim() != 2 or X.shape[1] != net.n_inputs:
            raise ValueError(f"input bits must be 2-D (samples x {net.n_inputs}), got "
                             f"{tuple(X.shape)}")
        if X.dtype not in (torch.uint8, torch.bool):
            raise TypeError(f"input bits must be bool or uint8 (0/1), got dtype {X.dtype}")
        if X.device.index != self.device:
            raise ValueError(f"the model was built for cuda:{self.device}, the input is on "
                             f"{X.device}")
        if X.numel():   # check_bits' rule, on the device (one reduction)
            check_bit_bytes(int(X.view(torch.uint8).max()), X.dtype == torch.bool)
        X = X.contiguous()
        n, C, O = X.shape[0], net.n_classes, net.n_outputs
        dev = X.device
        cls = torch.empty(n, dtype=torch.int64, device=dev) if want_cls else None
        sc = torch.empty((n, C), dtype=torch.int32, device=dev) if want_scores else None
        out = torch.empty((n, O), dtype=torch.bool, device=dev) if want_out else None
        seg = self.segment()
        with torch.cuda.device(dev):
            stream = torch.cuda.current_stream(dev).cuda_stream
            for s in range(0, n, seg):
                e = min(n, s + seg)
                m = e - s
                ws = torch.empty(max(self.workspace_bytes(m), 1), dtype=torch.uint8, device=dev)
                ow = torch.empty(max(self.lib("outputs_bytes", m), 1), dtype=torch.uint8,
                                 device=dev) if want_out else None
                self.run_device(X[s:e].data_ptr(), m, ws.data_ptr(),
                                cls[s:e].data_ptr() if want_cls else 0,
                                sc[s:e].data_ptr() if want_scores else 0,
                                ow.data_ptr() if want_out else 0, stream)
                if want_out:
                    out[s:e] = torch.from_numpy(
                        self._unpack_outputs(ow.cpu().numpy(), m)).to(dev)
        return cls, sc, out
