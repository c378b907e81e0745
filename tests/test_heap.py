"""dlgn.frontend.heap: freed memory stays in the heap (no page faults on reuse) once
retain_freed_memory() has run; the setting is process-wide, so each case is its own
process."""
import ctypes.util
import subprocess
import sys

import pytest

GLIBC = sys.platform.startswith("linux") and ctypes.util.find_library("c") is not None

# a 64 MiB block (over glibc's largest mmap threshold, 32 MiB) malloc'ed, written, freed,
# and again: the minor page faults of the second round (malloc itself, not numpy's, which
# asks for transparent huge pages)
PROBE = """
import ctypes, ctypes.util, resource, sys
from dlgn.frontend.heap import retain_freed_memory
applied = [retain_freed_memory(), retain_freed_memory()] if sys.argv[1] == "retain" else []
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def block():
    p = libc.malloc(1 << 26)
    ctypes.memset(p, 1, 1 << 26)
    libc.free(p)
block()
f0 = faults(); block()
print(*applied, faults() - f0)
"""


def _probe(mode: str) -> list[str]:
    r = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt")
def test_retained_memory_is_reused_without_page_faults():
    pages = (1 << 26) // 4096
    *_, system = _probe("system")
    assert int(system) > pages // 2            # glibc maps the block afresh: every page faults
    *applied, retain = _probe("retain")
    assert applied == ["True", "True"]         # applies, and again is a no-op that says so
    assert int(retain) < pages // 20           # the freed heap is reused


def test_train_cli_takes_system_malloc(monkeypatch):
    from dlgn.cli import build_parser, train_cmd
    for argv, want in (([], False), (["--system-malloc"], True)):
        ns = build_parser().parse_args(["train", "--dataset", "monk1", "-o", "m.pt", *argv])
        assert ns.system_malloc is want
    from dlgn.frontend import heap
    called = []
    monkeypatch.setattr(heap, "retain_freed_memory", lambda: called.append(1) or True)
    monkeypatch.setattr(train_cmd, "_train_rank", lambda rank, args: {})
    import argparse
    for flag, want in ((True, []), (False, [1])):
        called.clear()
        train_cmd._train_and_save(0, argparse.Namespace(threads=0, system_malloc=flag,
                                                        device="cpu"))
        assert called == want
