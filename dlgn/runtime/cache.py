"""The build cache shared by the C and CUDA runtimes.

Layout: ``<root>/<key>/`` holds one finished build (whatever files the builder wrote) and a
``.complete`` marker: JSON with the size and sha256 of every file of the build.  ``root``
is ``$DLGN_CACHE_DIR``, else the user's cache directory (:func:`default_cache_root`:
``$XDG_CACHE_HOME/dlgn``, else the platform's -- ``~/.cache/dlgn``, ``~/Library/Caches/dlgn``,
``%LOCALAPPDATA%\\dlgn\\Cache``).  ``key`` is the sha256 of everything that
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

:func:`cache_info` counts what a root holds; :func:`clear_cache` removes the entries the
cache made (a valid marker, or a legacy ``ok`` one) and its leftover temporary directories,
each with one rename first (``dlgn cache info|clear``).
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..compiler.atomic import atomic_write, fsync_dir
from ..errors import DlgnError

__all__ = ["cache_root", "default_cache_root", "platform_cache_root", "root_source", "cache_key",
           "compiler_identity", "cpu_identity", "get_or_build", "verify_entry",
           "cache_info", "clear_cache", "CacheError", "COMPLETE_MARKER", "MARKER_FORMAT"]

log = logging.getLogger("dlgn.runtime.cache")

COMPLETE_MARKER = ".complete"
MARKER_FORMAT = "dlgn-cache-entry/1"
_MAX_MARKER_BYTES = 1 << 20
_PUBLISH_TRIES = 4


class CacheError(DlgnError, RuntimeError):
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


def default_cache_root() -> Path:
    """dlgn's directory in the user's cache: ``$XDG_CACHE_HOME/dlgn`` where that is set to
    an absolute path (any platform), else ``platformdirs.user_cache_dir("dlgn")`` when
    platformdirs is installed, else ``~/Library/Caches/dlgn`` (macOS),
    ``%LOCALAPPDATA%\\dlgn\\Cache`` (Windows) or ``~/.cache/dlgn``."""
    return platform_cache_root(sys.platform, os.environ, Path.home())


def platform_cache_root(platform: str, environ, home: Path) -> Path:
    """:func:`default_cache_root` for a ``platform`` (``sys.platform``), environment and
    home directory."""
    xdg = environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):      # the XDG spec: a relative value is to be ignored
        return Path(xdg) / "dlgn"
    try:
        import platformdirs
    except ImportError:
        platformdirs = None
    if platformdirs is not None and platform == sys.platform:
        return Path(platformdirs.user_cache_dir("dlgn", appauthor=False))
    if platform == "darwin":
        return Path(home) / "Library" / "Caches" / "dlgn"
    if platform.startswith(("win", "cygwin")):
        base = environ.get("LOCALAPPDATA")
        return (Path(base) if base else Path(home) / "AppData" / "Local") / "dlgn" / "Cache"
    return Path(home) / ".cache" / "dlgn"


def root_source(cache_dir=None) -> str:
    """What chooses the root: "argument", "DLGN_CACHE_DIR", "XDG_CACHE_HOME" or "default"."""
    if cache_dir:
        return "argument"
    if os.environ.get("DLGN_CACHE_DIR"):
        return "DLGN_CACHE_DIR"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return "XDG_CACHE_HOME" if xdg and os.path.isabs(xdg) else "default"


def _root_path(cache_dir=None) -> Path:
    root = cache_dir or os.environ.get("DLGN_CACHE_DIR") or default_cache_root()
    return Path(root).expanduser()


def cache_root(cache_dir=None, uid: int | None = None) -> Path:
    """The cache root: ``cache_dir``, else ``$DLGN_CACHE_DIR``, else
    :func:`default_cache_root`; created (mode 0700) if missing.  Raises :class:`CacheError`
    unless it is a directory owned by the current user (``uid``) and not writable by group
    or others."""
    root = _root_path(cache_dir)
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


def _marker_files(entry: Path, uid) -> tuple[dict | None, str | None]:
    """The ``files`` record of ``entry``'s marker -> (files, None), or (None, why not):
    the marker must be a regular file of the user's, not writable by others, small, JSON of
    the current format naming plain files."""
    marker = entry / COMPLETE_MARKER
    why = _file_problem(marker, uid)
    if why:
        return None, why
    try:
        if os.lstat(marker).st_size > _MAX_MARKER_BYTES:
            return None, "the marker is too large"
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
        return None, "the marker is unreadable or of an old format"
    return files, None


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
    files, why = _marker_files(entry, uid)
    if why:
        return why
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
    aside = Path(tempfile.mkdtemp(prefix=f".{entry.name.lstrip('.')[:16]}.discard.", dir=root))
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


# ---------------------------------------------------------------- info and clear
_KEY_NAME = re.compile(r"^[0-9a-f]{64}$")
# what tempfile.mkdtemp made for get_or_build (".<key16>.XXXX"), _discard
# (".<name16>.discard.XXXX") and the cache before markers had hashes (".<key16>.stale.XXXX")
_TEMP_NAME = re.compile(r"^\.[0-9a-f]{16}\.(?:(?:discard|stale)\.)?[A-Za-z0-9_]+$")
_LEGACY_MARKER = b"ok\n"
#: temporary directories younger than this (seconds) may belong to a build in progress
TEMP_GRACE_SECONDS = 3600


def _tree_bytes(path: Path) -> int:
    """Bytes of the regular files under ``path`` (symlinks not followed)."""
    total = 0
    for dirpath, _dirs, filenames in os.walk(path, followlinks=False):
        for n in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, n))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total


def _classify(root: Path, name: str, uid) -> tuple[str, str | None]:
    """What ``root/name`` is -> (kind, why): "entry" (a build the cache published: a valid
    marker, or the legacy ``ok`` one), "temp" (a directory the cache made for a build or a
    removal), or "other" with the reason the cache does not claim it."""
    p = root / name
    try:
        st = os.lstat(p)
    except OSError as e:
        return "other", f"unreadable ({e.strerror or e})"
    if not stat.S_ISDIR(st.st_mode):
        return "other", "not a directory"
    why = _check_owner(p, uid, st)
    if why:
        return "other", f"the directory is {why}"
    if _TEMP_NAME.match(name):
        return "temp", None
    if not _KEY_NAME.match(name):
        return "other", "not named by a cache key"
    files, why = _marker_files(p, uid)
    if files is not None:
        return "entry", None
    try:
        marker = p / COMPLETE_MARKER
        st_m = os.lstat(marker)
        if (stat.S_ISREG(st_m.st_mode) and st_m.st_size == len(_LEGACY_MARKER)
                and _check_owner(marker, uid, st_m) is None
                and marker.read_bytes() == _LEGACY_MARKER):
            return "entry", None
    except OSError:
        pass
    return "other", why


def cache_info(cache_dir=None) -> dict:
    """What the cache root holds, without creating or changing anything: ``root``,
    ``source`` (:func:`root_source`), ``exists``, ``entries`` and ``entry_bytes`` (published
    builds), ``temp_dirs`` and ``temp_bytes`` (leftover temporary directories), ``other``
    (names the cache does not claim) and ``total_bytes``.  Raises :class:`CacheError` for a
    root that is not a directory owned by the user and closed to others."""
    uid = _current_uid()
    root = _root_path(cache_dir)
    info = {"root": str(root), "source": root_source(cache_dir), "exists": root.exists(),
            "entries": 0, "entry_bytes": 0, "temp_dirs": 0, "temp_bytes": 0, "other": 0,
            "total_bytes": 0}
    if not info["exists"]:
        return info
    _check_root(root, uid)
    for name in sorted(os.listdir(root)):
        kind, _ = _classify(root, name, uid)
        if kind == "other":
            info["other"] += 1
            continue
        size = _tree_bytes(root / name)
        if kind == "entry":
            info["entries"] += 1
            info["entry_bytes"] += size
        else:
            info["temp_dirs"] += 1
            info["temp_bytes"] += size
    info["total_bytes"] = info["entry_bytes"] + info["temp_bytes"]
    return info


def clear_cache(cache_dir=None, temp_grace: float = TEMP_GRACE_SECONDS) -> dict:
    """Remove every entry the cache made from the root, and its temporary directories older
    than ``temp_grace`` seconds (younger ones may be builds in progress).  Each goes with one
    rename first (:func:`_discard`), so a concurrent reader sees the whole entry or none of
    it; names the cache does not claim (see :func:`cache_info`) are left alone.  Returns
    ``root``, ``removed`` (entries), ``removed_temp``, ``freed_bytes`` and ``kept``: [{name,
    why}].  Raises :class:`CacheError` for an untrusted root."""
    uid = _current_uid()
    root = _root_path(cache_dir)
    res = {"root": str(root), "source": root_source(cache_dir), "exists": root.exists(),
           "removed": 0, "removed_temp": 0, "freed_bytes": 0, "kept": []}
    if not res["exists"]:
        return res
    _check_root(root, uid)
    now = time.time()
    for name in sorted(os.listdir(root)):
        kind, why = _classify(root, name, uid)
        p = root / name
        if kind == "other":
            res["kept"].append({"name": name, "why": why})
            continue
        if kind == "temp" and ".discard." not in name:    # a removal's leftover: no grace
            try:
                age = now - os.lstat(p).st_mtime
            except OSError:
                continue           # gone already
            if age < temp_grace:
                res["kept"].append({"name": name, "why": "a temporary directory younger "
                                    f"than {temp_grace:g} s (a build in progress?)"})
                continue
        size = _tree_bytes(p)
        try:
            _discard(root, p)
        except CacheError as e:
            res["kept"].append({"name": name, "why": str(e)})
            continue
        res["removed" if kind == "entry" else "removed_temp"] += 1
        res["freed_bytes"] += size
        log.debug("removed %s %s", kind, name)
    if res["removed"] or res["removed_temp"]:
        fsync_dir(root)
    return res
