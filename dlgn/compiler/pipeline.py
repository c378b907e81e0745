"""The pass pipeline, run to a fixed point: ``optimize`` and ``optimize_with_report``.

A pipeline is a sequence of passes, each a name from :data:`dlgn.compiler.passes.PASSES`
(``"fold,dead,renumber"`` as one comma-separated string works too) or a callable
``Netlist -> PassResult``.  It is run again and again until one whole iteration changes
nothing, which every pass reports itself (``PassResult.changed``)."""
from __future__ import annotations

import logging
import time

from .netlist import Netlist, NetlistError
from .passes import PASSES, PassResult

__all__ = ["optimize", "optimize_with_report", "DEFAULT_PASSES", "resolve_passes"]

log = logging.getLogger(__name__)

#: The default pipeline: the folding, hashing rebuild (constants, duplicate and unused
#: fan-ins, wires, inverters, structural hashing), dead-gate elimination, renumbering.
DEFAULT_PASSES = ("fold", "dead", "renumber")


def resolve_passes(passes=None) -> list:
    """``[(name, pass), ...]`` for a pipeline spec (see the module docstring)."""
    if passes is None:
        passes = DEFAULT_PASSES
    if isinstance(passes, str):
        passes = [p.strip() for p in passes.split(",") if p.strip()]
    out = []
    for p in passes:
        if isinstance(p, str):
            if p not in PASSES:
                raise NetlistError(f"unknown pass {p!r}; known passes: {', '.join(PASSES)}")
            out.append((p, PASSES[p]))
        elif callable(p):
            out.append((getattr(p, "__name__", repr(p)), p))
        else:
            raise TypeError(f"a pass is a name or a callable, got {type(p).__name__}")
    if not out:
        raise NetlistError("the pipeline has no passes")
    return out


def _run(net, passes, max_iterations, with_report):
    if not isinstance(net, Netlist):
        raise TypeError(f"optimize expects a Netlist, got {type(net).__name__}")
    net.check()
    pipeline = resolve_passes(passes)
    if max_iterations < 1:
        raise ValueError("max_iterations must be >= 1")
    rows = []
    for it in range(max_iterations):
        changed = False
        for name, p in pipeline:
            g0 = net.n_gates
            d0 = net.depth() if with_report else None
            t0 = time.perf_counter()
            res = p(net)
            if not isinstance(res, PassResult):
                raise TypeError(f"pass {name} returned {type(res).__name__}, not a PassResult")
            dt = time.perf_counter() - t0
            net = res.net
            changed |= res.changed
            if with_report:
                rows.append({"pass": name, "iteration": it, "gates_before": g0,
                             "gates_after": net.n_gates, "depth_before": d0,
                             "depth_after": net.depth(), "removed": dict(res.changes),
                             "seconds": round(dt, 6)})
            log.debug("%s (iteration %d): %d -> %d gates in %.3f s", name, it, g0,
                      net.n_gates, dt)
        if not changed:
            break
    return net.check(), rows


def optimize(net: Netlist, passes=None, max_iterations: int = 10) -> Netlist:
    """Run ``passes`` (default :data:`DEFAULT_PASSES`) in order, repeatedly, until an
    iteration changes nothing (or ``max_iterations``).  The result computes the same
    outputs as ``net`` on every input."""
    return _run(net, passes, max_iterations, False)[0]


def optimize_with_report(net: Netlist, passes=None, max_iterations: int = 10):
    """Like :func:`optimize`; also returns one dict per pass run: ``pass``, ``iteration``,
    ``gates_before``, ``gates_after``, ``depth_before``, ``depth_after``, ``removed``
    (what the pass changed: constants, wires, inverters, duplicates, dead, moved, ...) and
    ``seconds``."""
    return _run(net, passes, max_iterations, True)
