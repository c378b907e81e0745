"""Yosys, through pyosys, each run in a fresh Python subprocess.

A Yosys error can end the Python process that runs it (and pyosys loads its library with
``RTLD_GLOBAL``), so :func:`run_yosys` never runs Yosys in the caller: it starts
``python -c`` with the passes as JSON, in a process group of its own
(:mod:`dlgn.tools.process`), so a timeout also stops the ``yosys-abc`` Yosys starts.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import re
import sys
from pathlib import Path

from .process import ToolError, run

__all__ = ["pyosys_available", "run_yosys", "synth_work_dir", "YosysError"]

log = logging.getLogger(__name__)

_INSTALL = "Yosys is not available: pip install pyosys"
_SCRIPT = """
import json, sys
from pyosys import libyosys as ys
d = ys.Design()
for c in json.loads(sys.argv[1]):
    ys.run_pass(c, d)
"""


class YosysError(ToolError):
    """A Yosys run failed (its log ends the message)."""


def pyosys_available() -> bool:
    """Whether pyosys (Yosys as a Python module) is installed."""
    return importlib.util.find_spec("pyosys") is not None


def synth_work_dir(outdir) -> Path:
    """``outdir/synth``, created, as an absolute path: Yosys runs inside it (``cwd``), so
    the paths its commands name must not be relative to the caller's directory."""
    work = (Path(outdir) / "synth").resolve()
    work.mkdir(parents=True, exist_ok=True)
    return work


def run_yosys(commands, cwd=None, timeout: float | None = 3600) -> str:
    """Run Yosys passes (a list of command strings) and return the log.

    Raises :class:`ToolError` when pyosys is missing, :class:`YosysError` (with the end of
    the log) when a pass fails, :class:`~dlgn.tools.process.ToolTimeout` after
    ``timeout`` seconds."""
    if not pyosys_available():
        raise ToolError(_INSTALL)
    p = run([sys.executable, "-c", _SCRIPT, json.dumps(list(commands))], cwd=cwd,
            timeout=timeout)
    text = (p.stdout or "") + (p.stderr or "")
    if p.returncode != 0 or re.search(r"^ERROR:", text, re.M):
        raise YosysError(f"Yosys failed (exit {p.returncode}):\n{text[-3000:]}")
    return text
