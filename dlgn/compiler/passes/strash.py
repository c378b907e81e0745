"""Structural hashing (CSE) with canonical fan-in order."""
from __future__ import annotations

from ..netlist import Netlist
from ._rebuild import rebuild

__all__ = ["structural_hashing"]


def structural_hashing(net: Netlist, report: dict | None = None) -> Netlist:
    """Sort each gate's fan-ins canonically (by level, then node id; the table is permuted)
    and merge gates with the same arity, fan-ins and table; consumers and outputs read the
    first one made.  Hash matches are verified exactly, so a collision never merges two
    different gates.

    Pre: ``net.check()`` holds.  Post: the result computes the same outputs (polarity
    applied) on every input, ``check()`` holds, gates stay in topological order, and
    ``report`` (optional dict) is updated with the counts of what was removed."""
    return rebuild(net, report, strash=True)
