"""Inverter absorption into consumers' tables and the head's per-output polarity."""
from __future__ import annotations

from ..netlist import Netlist
from ._rebuild import rebuild

__all__ = ["absorb_inverters"]


def absorb_inverters(net: Netlist, report: dict | None = None) -> Netlist:
    """A one-input gate with table 0b01 (NOT x) is removed: each consumer complements that input in its table and each output reading it flips its polarity (``invert``).  Every other gate is stored in the polarity whose table is 0 on the all-zeros input, the complement moving into its consumers and outputs the same way, so that complementary gates hash alike.

    Pre: ``net.check()`` holds.  Post: the result computes the same outputs (polarity
    applied) on every input, ``check()`` holds, gates stay in topological order, and
    ``report`` (optional dict) is updated with the counts of what was removed."""
    return rebuild(net, report, absorb=True)
