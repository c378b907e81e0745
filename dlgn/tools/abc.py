"""ABC (Berkeley's logic synthesis and verification system): the one driver.

* :func:`find_abc` — the binary: an explicit path, pyosys's bundled ``yosys-abc``, or
  ``yosys-abc`` / ``berkeley-abc`` / ``abc`` on PATH.
* :func:`run_abc` — run an ABC script (commands separated by ``;``) in a process group of
  its own (:mod:`dlgn.tools.process`) and return its log.
* :func:`cec` — the one combinational equivalence check: ``cec -n`` (inputs and outputs
  matched by position) between two designs, each a :class:`~dlgn.compiler.netlist.Netlist`
  (written as BLIF) or a file ABC reads by its extension (``.blif``, ``.aig``, ...).
* :func:`cec_verdict` — the one parser of ABC's verdict; :func:`counterexample` reads the
  separating input pattern ABC prints and returns it only when the reference simulator
  confirms it.
* :func:`abc_equivalent` — ``cec`` as an equivalence method; importing this module
  registers it as ``check_equivalent(a, b, method="abc")``.

Files are handed to ABC under short names in a private temporary folder, so a path with
spaces or ``;`` cannot break the script.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..compiler.equiv import register_proof_method
from ..compiler.io.blif import write_blif
from ..compiler.netlist import Netlist
from ..compiler.verdict import EquivResult, check_compatible, first_difference
from .process import ToolError, run

__all__ = ["find_abc", "abc_path", "run_abc", "cec", "cec_verdict", "counterexample",
           "abc_equivalent"]

log = logging.getLogger(__name__)

_INSTALL = "no ABC binary found (pip install pyosys, or apt-get install berkeley-abc)"
_EQUIVALENT = re.compile(r"Networks are equivalent")
_DIFFERENT = re.compile(r"NOT EQUIVALENT|are not equivalent", re.I)


def find_abc(abc=None) -> str | None:
    """Path of an ABC binary: ``abc`` if given, pyosys's ``yosys-abc``, ``yosys-abc``,
    ``berkeley-abc`` or ``abc`` on PATH; None when there is none."""
    if abc:
        return os.fspath(abc)
    try:
        spec = importlib.util.find_spec("pyosys")
    except (ImportError, ValueError):
        spec = None
    for d in (spec.submodule_search_locations or []) if spec else []:
        p = Path(d) / "yosys-abc"
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    for name in ("yosys-abc", "berkeley-abc", "abc"):
        p = shutil.which(name)
        if p:
            return p
    return None


def abc_path(abc=None) -> str:
    """:func:`find_abc`, raising :class:`ToolError` when there is no ABC."""
    exe = find_abc(abc)
    if exe is None:
        raise ToolError(_INSTALL)
    return exe


def run_abc(script: str, *, cwd=None, abc=None, timeout: float | None = 600) -> str:
    """Run the ABC ``script`` (``;``-separated commands) and return stdout + stderr.

    ABC exits 0 even when a command fails, so the caller reads the log; a non-zero exit
    raises :class:`ToolError`, a timeout :class:`~dlgn.tools.process.ToolTimeout`."""
    exe = abc_path(abc)
    p = run([exe, "-c", script], cwd=cwd, timeout=timeout)
    text = (p.stdout or "") + (p.stderr or "")
    if p.returncode != 0:
        raise ToolError(f"ABC failed (exit {p.returncode}) on {script!r}:\n{text[-3000:]}")
    return text


def cec_verdict(text: str) -> bool:
    """ABC's ``cec`` verdict in ``text``: True (equivalent) or False (not equivalent);
    :class:`ToolError` when the log holds neither (a read error, an undecided run)."""
    if _DIFFERENT.search(text):
        return False
    if _EQUIVALENT.search(text):
        return True
    raise ToolError(f"could not read ABC's cec verdict:\n{text[-3000:]}")


def _stage(design, d: str, name: str) -> str:
    """A short file name in ``d`` holding ``design`` (a Netlist or a file)."""
    if isinstance(design, Netlist):
        fname = f"{name}.blif"
        write_blif(design, os.path.join(d, fname), model=name)
        return fname
    src = Path(os.fspath(design))
    if not src.is_file():
        raise FileNotFoundError(f"{src}: no such design file")
    ext = "".join(src.suffixes[-1:]) or ".blif"
    if not re.fullmatch(r"\.[A-Za-z0-9]+", ext):
        ext = ".blif"
    fname = f"{name}{ext.lower()}"
    shutil.copyfile(src, os.path.join(d, fname))
    return fname


def cec(a, b, *, abc=None, timeout: float | None = 600) -> tuple[bool, str]:
    """ABC ``cec -n`` between designs ``a`` and ``b`` (each a Netlist or a file path);
    returns (equivalent, ABC's log).  Two Netlists must be comparable
    (:func:`~dlgn.compiler.verdict.check_compatible`); without outputs they are trivially
    equivalent."""
    if isinstance(a, Netlist) and isinstance(b, Netlist):
        check_compatible(a, b)
        if a.n_outputs == 0:
            return True, "no outputs: trivially equivalent"
    exe = abc_path(abc)
    with tempfile.TemporaryDirectory(prefix="dlgn-cec-") as d:
        fa, fb = _stage(a, d, "a"), _stage(b, d, "b")
        text = run_abc(f"cec -n {fa} {fb}", cwd=d, abc=exe, timeout=timeout)
    return cec_verdict(text), text


def counterexample(a: Netlist, b: Netlist, text: str):
    """The first input pattern in ABC's log (``Input pattern: pi3=1 ...`` or ``INPUT: pi0 =
    1'h0, ...``; the numbering is not always the port order) that the reference simulator
    confirms separates ``a`` and ``b``: (bool[n_inputs], output index), or None."""
    for line in re.findall(r"(?:Input pattern:|INPUT:)(.*)", text):
        x = np.zeros(a.n_inputs, dtype=bool)
        for i, v in re.findall(r"pi(\d+)\s*=\s*(?:1'h)?([01])", line.split("OUTPUT")[0]):
            if int(i) < a.n_inputs:
                x[int(i)] = v == "1"
        out = first_difference(a, b, x)
        if out is not None:
            return x, out
    return None


def abc_equivalent(a: Netlist, b: Netlist, *, abc=None, timeout: float | None = 600) \
        -> EquivResult:
    """Prove ``a`` and ``b`` equivalent with ABC ``cec``; a counterexample ABC prints is
    returned when the simulator confirms it (else the result has none)."""
    ok, text = cec(a, b, abc=abc, timeout=timeout)
    if ok:
        return EquivResult(True, "abc")
    hit = counterexample(a, b, text)
    if hit is None:
        return EquivResult(False, "abc")
    return EquivResult(False, "abc", hit[0], hit[1])


register_proof_method("abc", abc_equivalent)
