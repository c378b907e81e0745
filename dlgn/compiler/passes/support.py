"""Support reduction: drop fan-ins a table does not depend on."""
from __future__ import annotations

from ..netlist import Netlist
from ._rebuild import rebuild

__all__ = ["support_reduction"]


def support_reduction(net: Netlist, report: dict | None = None) -> Netlist:
    """Remove every fan-in the gate's table ignores, compacting the table (arity shrinks).

    Pre: ``net.check()`` holds.  Post: the result computes the same outputs (polarity
    applied) on every input, ``check()`` holds, gates stay in topological order, and
    ``report`` (optional dict) is updated with the counts of what was removed."""
    return rebuild(net, report, support=True)
