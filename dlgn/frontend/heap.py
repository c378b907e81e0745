"""Keep freed memory in the process heap while training on the CPU.

A training step allocates and frees the same large tensors every step (a conv net's
gathered tree leaves: 100 MB and more a batch).  glibc's ``malloc`` serves every block over
its mmap threshold (at most 32 MiB) with a fresh ``mmap`` and gives it back with ``munmap``
on ``free``, so every step faults in and zeroes those pages again: on the 2-core test
machine a third of a conv step's CPU time went to the kernel (``sys``).  With mmap disabled
and heap trimming off, freed blocks stay in the heap and are reused by the next step:
``benchmarks/conv_step_bench.py --heap both`` measures the two side by side.

The cost is memory: what a step frees is kept by the process rather than given back to
the system, and the heap fragments more than mmap'ed blocks do, so the peak grows too (an
``mnist-conv-wide``-sized run: peak RSS 4.9 GB against 3.7 GB with glibc's defaults).

The setting is process-wide, so the library never applies it on its own:
``dlgn train`` and the training benchmarks call :func:`retain_freed_memory` (``dlgn train
--system-malloc`` leaves malloc as it is).  Elsewhere than glibc it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

__all__ = ["retain_freed_memory"]

log = logging.getLogger(__name__)

# mallopt(3) parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4

_applied = False


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version") \
            else None
    except OSError:
        return None


def retain_freed_memory() -> bool:
    """Turn off glibc's mmap for large blocks and its heap trimming for this process, so
    that freed tensors' memory is reused without page faults.  Returns whether it applied
    (False off glibc, or when ``mallopt`` refuses); calling it again is a no-op."""
    global _applied
    if _applied:
        return True
    libc = _libc()
    if libc is None:
        log.debug("retain_freed_memory: not glibc, malloc left as it is")
        return False
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    # mallopt(3): a trim threshold of -1 disables trimming
    ok = libc.mallopt(_M_MMAP_MAX, 0) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, -1) == 1
    _applied = bool(ok)
    if not ok:
        log.debug("retain_freed_memory: mallopt refused, malloc left as it is")
    return _applied
