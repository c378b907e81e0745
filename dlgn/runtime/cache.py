"""The build cache shared by the C and CUDA runtimes.

Layout: ``<root>/<key>/`` holds one finished build (whatever files the builder wrote).
``root`` is ``$DLGN_CACHE_DIR`` or ``~/.cache/dlgn``.  ``key`` is the sha256 of everything
that determines the artifact: source text, flags, compiler identity (its ``--version``
output), CPU features when flags target the host CPU.

Publishing is atomic: a build happens in a fresh temporary directory under ``root`` and is
renamed onto ``<root>/<key>`` with :func:`os.replace`.  When two processes build the same
key at once both succeed: the loser's rename fails because the directory exists, and it
uses the winner's (identical) build.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["cache_root", "cache_key", "compiler_identity", "cpu_identity", "get_or_build",
           "COMPLETE_MARKER"]

log = logging.getLogger("dlgn.runtime.cache")

COMPLETE_MARKER = ".complete"


def cache_root(cache_dir=None) -> Path:
    """The cache root: ``cache_dir``, else ``$DLGN_CACHE_DIR``, else ``~/.cache/dlgn``."""
    root = cache_dir or os.environ.get("DLGN_CACHE_DIR") or Path.home() / ".cache" / "dlgn"
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_key(*parts) -> str:
    """sha256 over ``parts`` (str or bytes), length-prefixed so boundaries matter."""
    h = hashlib.sha256()
    for p in parts:
        b = p if isinstance(p, bytes) else str(p).encode()
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


@functools.lru_cache(maxsize=None)
def compiler_identity(cc: str) -> str:
    """``cc --version`` output (first lines), or raise if the compiler cannot run."""
    try:
        r = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError(f"cannot run the compiler {cc!r}: {e}") from None
    if r.returncode != 0:
        raise RuntimeError(f"{cc} --version failed: {r.stderr.strip()[:200]}")
    return f"{shutil.which(cc) or cc}\n{r.stdout.strip()}"


@functools.lru_cache(maxsize=None)
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


def get_or_build(key: str, builder, cache_dir=None) -> Path:
    """Directory of the finished build ``key``; runs ``builder(tmpdir: Path)`` if missing.

    ``builder`` writes its files into ``tmpdir``; the directory is then published
    atomically.  Safe against concurrent builders of the same key (processes or threads)."""
    root = cache_root(cache_dir)
    final = root / key
    if (final / COMPLETE_MARKER).exists():
        return final
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}.", dir=root))
    try:
        builder(tmp)
        (tmp / COMPLETE_MARKER).write_text("ok\n")
        try:
            os.replace(tmp, final)
        except OSError:
            if not (final / COMPLETE_MARKER).exists():
                # a stale incomplete directory (a crashed build): replace it
                stale = Path(tempfile.mkdtemp(prefix=f".{key[:16]}.stale.", dir=root))
                try:
                    os.replace(final, stale / "old")
                except OSError:
                    pass
                shutil.rmtree(stale, ignore_errors=True)
                try:
                    os.replace(tmp, final)
                except OSError:
                    pass
            if not (final / COMPLETE_MARKER).exists():
                raise RuntimeError(f"could not publish build {key} into {root}") from None
            log.debug("build %s was published by another process", key[:16])
        else:
            log.debug("published build %s", key[:16])
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
