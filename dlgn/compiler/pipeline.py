"""The pass pipeline, run to a fixed point: ``optimize`` and ``optimize_with_report``."""
from __future__ import annotations

import logging
import time

from .netlist import Netlist
from .passes import eliminate_dead, fold, renumber_levels

__all__ = ["optimize", "optimize_with_report", "DEFAULT_PASSES"]

log = logging.getLogger(__name__)

#: The default pipeline: the folding, hashing rebuild (constants, duplicate and unused
#: fan-ins, wires, inverters, structural hashing), dead-gate elimination, renumbering.
DEFAULT_PASSES = (fold, eliminate_dead, renumber_levels)


def _run(net, passes, max_iterations, with_report):
    if not isinstance(net, Netlist):
        raise TypeError(f"optimize expects a Netlist, got {type(net).__name__}")
    net.check()
    passes = tuple(DEFAULT_PASSES if passes is None else passes)
    if max_iterations < 1:
        raise ValueError("max_iterations must be >= 1")
    rows = []
    for it in range(max_iterations):
        start = net.content_hash()
        for p in passes:
            name = getattr(p, "__name__", str(p))
            removed = {}
            g0 = net.n_gates
            d0 = net.depth() if with_report else None
            t0 = time.perf_counter()
            net = p(net, removed)
            dt = time.perf_counter() - t0
            if with_report:
                rows.append({"pass": name, "iteration": it, "gates_before": g0,
                             "gates_after": net.n_gates, "depth_before": d0,
                             "depth_after": net.depth(), "removed": removed,
                             "seconds": round(dt, 6)})
            log.debug("%s (iteration %d): %d -> %d gates in %.3f s", name, it, g0,
                      net.n_gates, dt)
        if net.content_hash() == start:
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
    (counts: constants, wires, inverters, duplicates, dead, ...) and ``seconds``."""
    return _run(net, passes, max_iterations, True)
