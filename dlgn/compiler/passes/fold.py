"""The combined hashing, folding rebuild: every rewrite of the rebuild in one sweep."""
from __future__ import annotations

from ..netlist import Netlist
from ._rebuild import rebuild

__all__ = ["fold"]


def fold(net: Netlist, report: dict | None = None) -> Netlist:
    """Constant propagation, duplicate-fan-in reduction, support reduction, wire bypass, inverter absorption and structural hashing in one level-by-level sweep.

    Pre: ``net.check()`` holds.  Post: the result computes the same outputs (polarity
    applied) on every input, ``check()`` holds, gates stay in topological order, and
    ``report`` (optional dict) is updated with the counts of what was removed."""
    return rebuild(net, report, const=True, dup=True, support=True, strash=True, bypass=True, absorb=True)
