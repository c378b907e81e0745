"""The one atomic file writer every dlgn writer uses.

``atomic_write(path)`` is a context manager yielding a binary file object.  The data goes to
a temporary file in the same directory (``.<name>.<pid>.<random>.tmp``), which on a clean
exit is flushed, ``fsync``-ed, renamed onto ``path`` with :func:`os.replace` (atomic on
POSIX) and the directory ``fsync``-ed, so after a crash or power loss ``path`` holds either
the old or the new content, never a mix.  On any error, including ``KeyboardInterrupt``
and a full disk, the temporary file is removed and ``path`` is untouched.

A process killed with SIGKILL mid-write cannot clean up; :func:`remove_stale_temps` deletes
such leftovers (temporary files of this naming scheme whose writer process is gone) and is
called before each write into the same directory.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

__all__ = ["atomic_write", "write_bytes_atomic", "write_text_atomic", "fsync_dir",
           "remove_stale_temps"]

_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")


def fsync_dir(directory) -> None:
    """fsync a directory (its entries); a no-op where the platform cannot."""
    try:
        fd = os.open(os.fspath(directory), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(path) -> int:
    """Remove temporary files left for ``path`` by writers that no longer run; returns
    how many were removed."""
    p = Path(path)
    n = 0
    try:
        entries = list(p.parent.iterdir())
    except OSError:
        return 0
    for e in entries:
        m = _TMP.match(e.name)
        if m and m.group("name") == p.name and not _alive(int(m.group("pid"))):
            with contextlib.suppress(OSError):
                e.unlink()
                n += 1
    return n


@contextlib.contextmanager
def atomic_write(path):
    """Write ``path`` atomically and durably (see the module docstring)."""
    p = Path(os.fspath(path))
    remove_stale_temps(p)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    f = open(tmp, "xb")
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(p.parent)


def write_bytes_atomic(path, data: bytes) -> None:
    with atomic_write(path) as f:
        f.write(data)


def write_text_atomic(path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))
