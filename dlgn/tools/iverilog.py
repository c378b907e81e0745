"""Icarus Verilog: ``iverilog`` (compile) and ``vvp`` (run), each in its own process group.

Fine up to a few thousand gates; it is event-driven, so it simulates a pipelined design
(registered head) many times faster than the combinational form.
"""
from __future__ import annotations

import logging
import shutil

from .process import ToolError, run_checked

__all__ = ["iverilog_path", "iverilog_compile", "vvp_run"]

log = logging.getLogger(__name__)


def iverilog_path() -> tuple[str, str]:
    """Paths of ``iverilog`` and ``vvp``; :class:`ToolError` when Icarus is missing."""
    iv, vvp = shutil.which("iverilog"), shutil.which("vvp")
    if not iv or not vvp:
        raise ToolError("Icarus Verilog is not installed: apt-get install iverilog "
                        "(or brew install icarus-verilog)")
    return iv, vvp


def iverilog_compile(sources, top: str, output: str, cwd, *, timeout: float | None = None,
                     error=ToolError) -> str:
    """``iverilog -g2012 -o output -s top sources...`` in ``cwd``; returns the log and
    raises ``error`` when it fails."""
    iv, _ = iverilog_path()
    return run_checked([iv, "-g2012", "-o", output, "-s", top, *sources], cwd=cwd,
                       timeout=timeout, error=error)


def vvp_run(compiled: str, cwd, *, timeout: float | None = None, error=ToolError) -> str:
    """``vvp -n compiled`` in ``cwd``; returns the simulation's output."""
    _, vvp = iverilog_path()
    return run_checked([vvp, "-n", compiled], cwd=cwd, timeout=timeout, error=error)
