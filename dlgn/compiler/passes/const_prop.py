"""Constant propagation: cofactor tables on constant fan-ins."""
from __future__ import annotations

from ..netlist import Netlist
from ._rebuild import rebuild

__all__ = ["constant_propagation"]


def constant_propagation(net: Netlist, report: dict | None = None) -> Netlist:
    """Fix every constant fan-in in its consumer's table (cofactor) and drop it; a gate left with no input becomes the constant node (consumers and outputs read node 0 or 1).

    Pre: ``net.check()`` holds.  Post: the result computes the same outputs (polarity
    applied) on every input, ``check()`` holds, gates stay in topological order, and
    ``report`` (optional dict) is updated with the counts of what was removed."""
    return rebuild(net, report, const=True)
