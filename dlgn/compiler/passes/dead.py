"""Dead-gate elimination: remove gates no output depends on."""
from __future__ import annotations

import numpy as np

from ..netlist import Netlist
from ._remap import select_gates, used_mask

__all__ = ["eliminate_dead"]


def live_gates(net: Netlist) -> np.ndarray:
    """bool[G]: gates in the transitive fan-in of some output (one reverse sweep by level)."""
    first, G = net.first_gate, net.n_gates
    live = np.zeros(net.n_nodes, dtype=bool)
    live[net.outputs] = True
    if G == 0:
        return live[first:]
    lev = net.levels()[first:]
    order = np.argsort(-lev.astype(np.int64), kind="stable")
    bounds = np.flatnonzero(np.diff(lev[order])) + 1
    used = used_mask(net)
    for grp in np.split(order, bounds):
        g = grp[live[first + grp]]
        if g.size:
            live[net.fanin[g][used[g]]] = True
    return live[first:]


def eliminate_dead(net: Netlist, report: dict | None = None) -> Netlist:
    """Drop every gate outside the transitive fan-in of the outputs, keeping the order of
    the rest.

    Pre: ``net.check()`` holds.  Post: same outputs on every input, ``check()`` holds,
    every remaining gate reaches an output; ``report["dead"]`` counts the removed gates."""
    keep = np.flatnonzero(live_gates(net))
    if report is not None:
        report["dead"] = report.get("dead", 0) + int(net.n_gates - keep.size)
    if keep.size == net.n_gates:
        return net.copy()
    return select_gates(net, keep)
