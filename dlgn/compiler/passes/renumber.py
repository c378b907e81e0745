"""Renumbering by level for locality: gates sorted by logic level (stable)."""
from __future__ import annotations

import numpy as np

from ..netlist import Netlist
from ._remap import select_gates
from .base import PassResult

__all__ = ["renumber_levels"]


def renumber_levels(net: Netlist) -> PassResult:
    """Reorder gates by logic level, keeping the old order within a level.

    Pre: ``net.check()`` holds.  Post: same function and gates, ``check()`` holds, levels
    are non-decreasing along the gate array; ``changes["moved"]`` counts gates that moved."""
    if net.n_gates == 0:
        return PassResult(net, {"moved": 0})
    order = np.argsort(net.levels()[net.first_gate:], kind="stable")
    moved = int((order != np.arange(order.size)).sum())
    return PassResult(net if moved == 0 else select_gates(net, order), {"moved": moved})
