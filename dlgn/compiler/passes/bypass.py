"""Wire bypass: a gate computing one of its inputs unchanged is replaced by that input."""
from __future__ import annotations

from ..netlist import Netlist
from ._rebuild import rebuild

__all__ = ["bypass_wires"]


def bypass_wires(net: Netlist, report: dict | None = None) -> Netlist:
    """A one-input gate with table 0b10 (x) is removed; its consumers and outputs read its input. (Run support reduction first to expose wires hidden in wider gates.)

    Pre: ``net.check()`` holds.  Post: the result computes the same outputs (polarity
    applied) on every input, ``check()`` holds, gates stay in topological order, and
    ``report`` (optional dict) is updated with the counts of what was removed."""
    return rebuild(net, report, bypass=True)
