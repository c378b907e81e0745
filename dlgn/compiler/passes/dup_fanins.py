"""Duplicate-fan-in reduction: a gate reading one node twice reads it once."""
from __future__ import annotations

from ..netlist import Netlist
from ._rebuild import rebuild

__all__ = ["merge_duplicate_fanins"]


def merge_duplicate_fanins(net: Netlist, report: dict | None = None) -> Netlist:
    """When fan-ins i < j of a gate are the same node, restrict the table to x_j = x_i and drop input j.

    Pre: ``net.check()`` holds.  Post: the result computes the same outputs (polarity
    applied) on every input, ``check()`` holds, gates stay in topological order, and
    ``report`` (optional dict) is updated with the counts of what was removed."""
    return rebuild(net, report, dup=True)
