"""Dead-gate elimination: remove gates no output depends on."""
from __future__ import annotations

import numpy as np

from ..netlist import Netlist
from ._remap import select_gates, used_mask
from .base import PassResult

__all__ = ["eliminate_dead", "live_gates", "reachable"]


def reachable(net: Netlist, nodes) -> np.ndarray:
    """bool[n_nodes]: the transitive fan-in of ``nodes`` (node ids), themselves included.

    One reverse sweep a logic level at a time: the one liveness walk of the compiler (dead
    gates, cones, what emitters print)."""
    first, G = net.first_gate, net.n_gates
    mark = np.zeros(net.n_nodes, dtype=bool)
    mark[np.asarray(nodes, dtype=np.int64)] = True
    if G == 0:
        return mark
    lev = net.levels()[first:]
    order = np.argsort(-lev.astype(np.int64), kind="stable")
    bounds = np.flatnonzero(np.diff(lev[order])) + 1
    used = used_mask(net)
    for grp in np.split(order, bounds):
        g = grp[mark[first + grp]]
        if g.size:
            mark[net.fanin[g][used[g]]] = True
    return mark


def live_gates(net: Netlist) -> np.ndarray:
    """bool[G]: gates in the transitive fan-in of some output."""
    return reachable(net, net.outputs)[net.first_gate:]


def eliminate_dead(net: Netlist) -> PassResult:
    """Drop every gate outside the transitive fan-in of the outputs, keeping the order of
    the rest.

    Pre: ``net.check()`` holds.  Post: same outputs on every input, ``check()`` holds,
    every remaining gate reaches an output; ``changes["dead"]`` counts the removed gates."""
    keep = np.flatnonzero(live_gates(net))
    dead = int(net.n_gates - keep.size)
    return PassResult(net if dead == 0 else select_gates(net, keep), {"dead": dead})
