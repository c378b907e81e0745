"""The build cache shared by the C and CUDA runtimes.

Layout: ``<root>/<key>/`` holds one finished build (whatever files the builder wrote) and a
``.complete`` marker: JSON with the size and sha256 of every file of the build.  ``root``
is ``$DLGN_CACHE_DIR`` or ``~/.cache/dlgn``.  ``key`` is the sha256 of everything that
determines the artifact: source text, flags, compiler identity (its ``--version`` output),
CPU features when flags target the host CPU.

Trust (as ccache and pip do): the key is a function of public inputs, so whoever can write
into the cache can make the caller load their code.  The root must therefore be a directory
owned by the current user and not writable by group or others, else :class:`CacheError`.
An entry is used only when its directory, marker and files are owned by the current user,
not writable by group or others, not symlinks, and every file has the size and sha256 the
marker records (checked before anything is loaded).  An entry that fails any check (planted,
truncated, one byte flipped, an old marker format) is moved aside, removed and rebuilt;
it is never returned.

Publishing is atomic and durable: a build happens in a fresh temporary directory under
``root``; its files, the marker and the directory are ``fsync``-ed, the directory is renamed
onto ``<root>/<key>`` with :func:`os.replace` and ``root`` is ``fsync``-ed.  When two
processes build the same key at once both succeed: the loser's rename fails because the
directory exists, and it uses the winner's (identical, verified) build.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from ..compiler.atomic import atomic_write, fsync_dir

__all__ = ["cache_root", "cache_key", "compiler_identity", "cpu_identity", "get_or_build",
           "verify_entry", "CacheError", "COMPLETE_MARKER", "MARKER_FORMAT"]

log = logging.getLogger("dlgn.runtime.cache")

COMPLETE_MARKER = ".complete"
MARKER_FORMAT = "dlgn-cache-entry/1"
_MAX_MARKER_BYTES = 1 << 20
_PUBLISH_TRIES = 4


class CacheError(RuntimeError):
    """The build cache cannot be used safely (a root not owned by the current user or
    writable by others) or a build could not be published."""


def _current_uid() -> int | None:
    """The effective user id, or None where the platform has none (no ownership checks)."""
    return os.geteuid() if hasattr(os, "geteuid") else None


def _check_owner(path, uid: int | None = None, st: os.stat_result | None = None) -> str | None:
    """Why ``path`` may not be trusted -- owned by a user other than ``uid`` (default: the
    current one) or writable by group/others -- or None when it may.  ``st`` (an ``lstat``
    or ``stat`` result of ``path``) saves the system call."""
    if uid is None:
        uid = _current_uid()
    if uid is None:
        return None
    if st is None:
        st = os.stat(path)
    if st.st_uid != uid:
        return f"owned by uid {st.st_uid}, not by the current user (uid {uid})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def _check_root(root: Path, uid: int | None = None) -> None:
    try:
        st = os.stat(root)
    except OSError as e:
        raise CacheError(f"cannot use the build cache {root}: {e.strerror or e}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise CacheError(f"the build cache {root} is not a directory")
    why = _check_owner(root, uid, st)
    if why:
        raise CacheError(f"refusing the build cache {root}: {why}; use a directory of your "
                         f"own (chmod go-w, or set DLGN_CACHE_DIR)")


def cache_root(cache_dir=None, uid: int | None = None) -> Path:
    """The cache root: ``cache_dir``, else ``$DLGN_CACHE_DIR``, else ``~/.cache/dlgn``;
    created (mode 0700) if missing.  Raises :class:`CacheError` unless it is a directory
    owned by the current user (``uid``) and not writable by group or others."""
    root = cache_dir or os.environ.get("DLGN_CACHE_DIR") or Path.home() / ".cache" / "dlgn"
    root = Path(root).expanduser()
    if not root.exists():
        try:
            root.parent.mkdir(parents=True, exist_ok=True)
            root.mkdir(mode=0o700, exist_ok=True)
        except OSError as e:
            raise CacheError(f"cannot create the build cache {root}: {e.strerror or e}") \
                from None
    _check_root(root, uid)
    return root


def cache_key(*parts) -> str:
    """sha256 over ``parts`` (str or bytes), length-prefixed so boundaries matter."""
    h = hashlib.sha256()
    for p in parts:
        b = p if isinstance(p, bytes) else str(p).encode()
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


@functools.cache
def compiler_identity(cc: str) -> str:
    """``cc --version`` output (first lines), or raise if the compiler cannot run."""
    try:
        r = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError(f"cannot run the compiler {cc!r}: {e}") from None
    if r.returncode != 0:
        raise RuntimeError(f"{cc} --version failed: {r.stderr.strip()[:200]}")
    return f"{shutil.which(cc) or cc}\n{r.stdout.strip()}"


@functools.cache
def cpu_identity() -> str:
    """The host CPU's model and feature flags (for builds with ``-march=native``)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        import platform
        return platform.machine() + " " + platform.processor()
    keep = []
    for line in text.splitlines():
        if line.startswith(("model name", "flags", "Features", "CPU part")):
            if line not in keep:
                keep.append(line)
    return "\n".join(keep)


# ---------------------------------------------------------------- entry verification
def _sha256_fd(fd: int) -> str:
    h = hashlib.sha256()
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            return h.hexdigest()
        h.update(b)


def _sha256(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        return _sha256_fd(fd)
    finally:
        os.close(fd)


# files this process hashed, to skip re-hashing them while unchanged:
# path -> ((dev, ino, size, mtime, ctime), sha256 they matched)
_VERIFIED: dict[str, tuple] = {}


def _identity(st: os.stat_result) -> tuple:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _file_problem(path: Path, uid, want_size=None, want_sha=None) -> str | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return f"{path.name} is missing"
    except OSError as e:
        return f"{path.name}: {e.strerror or e}"
    if not stat.S_ISREG(st.st_mode):
        return f"{path.name} is not a regular file"
    why = _check_owner(path, uid, st)
    if why:
        return f"{path.name} is {why}"
    if want_size is None:
        return None
    if st.st_size != want_size:
        return f"{path.name} has {st.st_size} bytes, the marker says {want_size}"
    if _VERIFIED.get(str(path)) == (_identity(st), want_sha):
        return None
    try:
        got = _sha256(path)
    except OSError as e:
        return f"{path.name}: {e.strerror or e}"
    if got != want_sha:
        return f"{path.name} does not match the sha256 in the marker"
    _VERIFIED[str(path)] = (_identity(st), want_sha)
    return None


def verify_entry(entry, artifact: str | None = None, uid: int | None = None) -> str | None:
    """Why the cache entry directory ``entry`` may not be used, or None when it may: see the
    module docstring.  ``artifact``: a file name that must be among the verified files (the
    library the caller will load)."""
    entry = Path(entry)
    if uid is None:
        uid = _current_uid()
    try:
        st = os.lstat(entry)
    except FileNotFoundError:
        return "missing"
    except OSError as e:
        return f"unreadable ({e.strerror or e})"
    if not stat.S_ISDIR(st.st_mode):
        return "not a directory"
    why = _check_owner(entry, uid, st)
    if why:
        return f"the directory is {why}"
    marker = entry / COMPLETE_MARKER
    why = _file_problem(marker, uid)
    if why:
        return why
    try:
        if os.lstat(marker).st_size > _MAX_MARKER_BYTES:
            return "the marker is too large"
        info = json.loads(marker.read_bytes())
        files = info["files"]
        if info.get("format") != MARKER_FORMAT or not isinstance(files, dict) or not files:
            raise ValueError
        for name, rec in files.items():
            if (not isinstance(name, str) or not name or name in (".", "..") or "/" in name
                    or os.sep in name or name == COMPLETE_MARKER):
                raise ValueError
            if not (isinstance(rec, dict) and type(rec.get("size")) is int
                    and isinstance(rec.get("sha256"), str)):
                raise ValueError
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return "the marker is unreadable or of an old format"
    if artifact is not None and artifact not in files:
        return f"the marker does not cover {artifact}"
    for name, rec in files.items():
        why = _file_problem(entry / name, uid, rec["size"], rec["sha256"])
        if why:
            return why
    return None


def _seal(tmp: Path) -> None:
    """Make the build in ``tmp`` private and durable, then write its marker."""
    files = {}
    for p in sorted(tmp.iterdir()):
        st = os.lstat(p)
        if not stat.S_ISREG(st.st_mode):
            raise CacheError(f"the build wrote {p.name}, which is not a regular file")
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o022:
            os.chmod(p, mode & ~0o022)
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            files[p.name] = {"size": os.fstat(fd).st_size, "sha256": _sha256_fd(fd)}
        finally:
            os.close(fd)
    os.chmod(tmp, 0o700)
    doc = {"format": MARKER_FORMAT, "files": files}
    with atomic_write(tmp / COMPLETE_MARKER) as f:
        os.fchmod(f.fileno(), 0o644)      # not group-writable, whatever the umask
        f.write((json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())
    fsync_dir(tmp)


def _discard(root: Path, entry: Path) -> None:
    """Move ``entry`` out of the way (one rename: atomic for concurrent readers) and remove
    it as far as permissions allow."""
    aside = Path(tempfile.mkdtemp(prefix=f".{entry.name[:16]}.discard.", dir=root))
    try:
        os.replace(entry, aside / "old")
    except FileNotFoundError:
        pass                       # another process moved it already
    except OSError as e:
        shutil.rmtree(aside, ignore_errors=True)
        raise CacheError(f"cannot remove the untrusted cache entry {entry}: "
                         f"{e.strerror or e}") from None
    shutil.rmtree(aside, ignore_errors=True)
    if aside.exists():
        log.warning("could not delete all of %s (files of another user?)", aside)


def get_or_build(key: str, builder, cache_dir=None, artifact: str | None = None) -> Path:
    """Directory of the finished, verified build ``key``; runs ``builder(tmpdir: Path)``
    if it is missing or fails verification (:func:`verify_entry`).

    ``builder`` writes its files into ``tmpdir``; they are then sealed (marker with sizes
    and sha256, fsync) and published atomically.  ``artifact``: the file the caller will
    load, which must be in the build.  Safe against concurrent builders of the same key
    (processes or threads).  Raises :class:`CacheError` for an untrusted root."""
    uid = _current_uid()
    root = cache_root(cache_dir, uid)
    final = root / key
    why = verify_entry(final, artifact, uid)
    if why is None:
        return final
    if why != "missing":
        log.warning("build cache entry %s not used (%s): rebuilding it", final, why)
        _discard(root, final)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}.", dir=root))
    try:
        builder(tmp)
        if artifact is not None and not (tmp / artifact).is_file():
            raise CacheError(f"the build of {key[:16]} did not produce {artifact}")
        _seal(tmp)
        for _ in range(_PUBLISH_TRIES):
            try:
                os.replace(tmp, final)
            except OSError:
                why = verify_entry(final, artifact, uid)
                if why is None:
                    log.debug("build %s was published by another process", key[:16])
                    return final
                if why != "missing":
                    log.warning("build cache entry %s not used (%s): replacing it", final, why)
                    _discard(root, final)
                continue
            fsync_dir(root)
            log.debug("published build %s", key[:16])
            return final
        raise CacheError(f"could not publish build {key[:16]} into {root}")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
