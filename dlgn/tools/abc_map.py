"""LUT-k mapping with ABC, read back into a Netlist: the optional ``--abc`` flow.

:func:`abc_lut_map` writes the netlist as BLIF, runs one of ABC's LUT-mapping scripts
(:data:`ABC_FLOWS`, or a script of your own) and reads the mapped BLIF back through
:func:`~dlgn.compiler.io.blif.read_blif`.  The read-back net goes through the folding
rebuild and dead-gate elimination, which absorb the buffers and inverters ABC adds at the
outputs into the output polarity (an inverter is never a LUT of its own in the IR), so
``luts`` counts the k-input LUTs that remain and ``depth`` their levels.  The result keeps
the input's ``group_sizes``, ``tau`` and ``meta``; check it with
``check_equivalent(net, res.net, method="abc")`` (ABC ``cec``) when it matters.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass

from ..compiler.gates import MAX_ARITY
from ..compiler.io.blif import read_blif, write_blif
from ..compiler.netlist import Netlist
from ..compiler.passes.base import rebuild
from ..compiler.passes.dead import eliminate_dead
from ..compiler.passes.lut_map import LutMapError
from .abc import abc_path, run_abc
from .process import ToolError

__all__ = ["abc_lut_map", "AbcMapResult", "ABC_FLOWS"]

log = logging.getLogger(__name__)

#: ABC's LUT-mapping scripts by name (``{k}`` is the LUT size).  ``dch_if_mfs2`` is the
#: classic best-quality flow; the ``gia_`` flows run on ABC's newer AIG package;
#: ``gia_if_area_satlut`` maps for area alone (``-a``) and then re-maps windows exactly with
#: a SAT solver: the fewest LUTs of these, at about twice the depth.
ABC_FLOWS = {
    "if": "strash; if -K {k}",
    "dch_if": "strash; dch; if -K {k}",
    "dch_if_mfs2": "strash; dch; if -K {k}; mfs2",
    "gia_if": "&get -n; &st; &if -K {k}; &put",
    "gia_dch_if": "&get -n; &st; &dch; &if -K {k}; &put",
    "gia_dch_if_mfs": "&get -n; &st; &dch; &if -K {k}; &mfs; &put",
    "gia_if_area_satlut": "&get -n; &st; &if -K {k} -a; &satlut; &put",
}


@dataclass(frozen=True)
class AbcMapResult:
    net: Netlist       # the mapped netlist (every gate one LUT of at most k inputs)
    luts: int          # its gates
    depth: int         # its LUT levels
    script: str        # the ABC commands run between reading and writing
    seconds: float     # wall time of the ABC run (writing and reading included)
    log: str           # ABC's output


def abc_lut_map(net: Netlist, k: int = 6, script: str = "dch_if_mfs2", *, abc=None,
                timeout: float | None = 600) -> AbcMapResult:
    """Map ``net`` onto k-input LUTs with ABC and read the result back.

    ``script``: a name from :data:`ABC_FLOWS` or ABC commands (``;``-separated; ``{k}`` is
    replaced by ``k``) run between ``read_blif`` and ``write_blif``.  Raises
    :class:`~dlgn.tools.process.ToolError` when ABC is missing or fails and
    :class:`~dlgn.compiler.passes.lut_map.LutMapError` for a bad ``k`` or script."""
    if not isinstance(net, Netlist):
        raise TypeError(f"abc_lut_map expects a Netlist, got {type(net).__name__}")
    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= MAX_ARITY:
        raise LutMapError(f"k must be an int in 2..{MAX_ARITY}, got {k!r}")
    if not isinstance(script, str) or not script.strip():
        raise LutMapError(f"script must be a flow name ({', '.join(ABC_FLOWS)}) or ABC "
                          f"commands, got {script!r}")
    body = ABC_FLOWS.get(script, script).replace("{k}", str(k))
    net.check()
    exe = abc_path(abc)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dlgn-abcmap-") as d:
        write_blif(net, os.path.join(d, "in.blif"), model="dlgn")
        text = run_abc(f"read_blif in.blif; {body}; write_blif out.blif", cwd=d, abc=exe,
                       timeout=timeout)
        out = os.path.join(d, "out.blif")
        if not os.path.isfile(out):
            raise ToolError(f"ABC wrote no mapped netlist for {body!r}:\n{text[-3000:]}")
        mapped = read_blif(out, net.group_sizes.copy(), net.tau)
    mapped.meta = dict(net.meta)
    mapped = eliminate_dead(rebuild(mapped, ("const", "dup", "support", "strash", "bypass",
                                             "absorb")).net).net
    dt = time.perf_counter() - t0
    if mapped.n_gates and int(mapped.arity.max()) > k:
        raise ToolError(f"ABC's mapping holds a {int(mapped.arity.max())}-input node; "
                        f"expected at most {k} (script {body!r})")
    log.info("ABC %s: %d LUT-%d, depth %d in %.2f s", body, mapped.n_gates, k,
             mapped.depth(), dt)
    return AbcMapResult(mapped, mapped.n_gates, mapped.depth(), body, dt, text)
