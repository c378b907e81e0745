"""The atomic writer: all or nothing, no temporary file left behind, stale ones removed."""
import os
import subprocess
import sys

import pytest

from dlgn.compiler.atomic import atomic_write, remove_stale_temps, write_bytes_atomic


def test_write_replaces_and_leaves_nothing(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(b"old")
    write_bytes_atomic(p, b"new")
    assert p.read_bytes() == b"new"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["f.bin"]


def test_an_error_keeps_the_old_file_and_removes_the_temp(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(p) as f:
            f.write(b"half")
            raise KeyboardInterrupt
    assert p.read_bytes() == b"old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["f.bin"]


def test_a_full_disk_leaves_no_partial_file(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    p = tmp_path / "f.bin"

    class Full:
        def write(self, data):
            with open("/dev/full", "wb") as g:
                g.write(data)
                g.flush()

    with pytest.raises(OSError):
        with atomic_write(p) as f:
            f.write(b"x")
            Full().write(b"y" * 4096)
    assert list(tmp_path.iterdir()) == []


def test_temps_of_killed_writers_are_removed(tmp_path):
    p = tmp_path / "ck.pt"
    # a writer killed mid-write: its pid is gone, its temp file stays
    code = ("import os, sys; from dlgn.compiler.atomic import atomic_write\n"
            f"ctx = atomic_write({str(p)!r}); f = ctx.__enter__(); f.write(b'x' * 1000);"
            " f.flush(); os._exit(9)")
    subprocess.run([sys.executable, "-c", code], check=False)
    left = [x for x in tmp_path.iterdir() if x.name.endswith(".tmp")]
    assert len(left) == 1
    assert remove_stale_temps(p) == 1
    write_bytes_atomic(p, b"ok")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["ck.pt"]
