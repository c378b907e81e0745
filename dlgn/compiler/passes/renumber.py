"""Renumbering by level for locality: gates sorted by logic level (stable)."""
from __future__ import annotations

import numpy as np

from ..netlist import Netlist
from ._remap import select_gates

__all__ = ["renumber_levels"]


def renumber_levels(net: Netlist, report: dict | None = None) -> Netlist:
    """Reorder gates by logic level, keeping the old order within a level.

    Pre: ``net.check()`` holds.  Post: same function and gates, ``check()`` holds, levels
    are non-decreasing along the gate array; ``report["moved"]`` counts gates that moved."""
    if net.n_gates == 0:
        return net.copy()
    lev = net.levels()[net.first_gate:]
    order = np.argsort(lev, kind="stable")
    moved = int((order != np.arange(order.size)).sum())
    if report is not None:
        report["moved"] = report.get("moved", 0) + moved
    if moved == 0:
        return net.copy()
    return select_gates(net, order)
