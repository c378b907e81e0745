"""What every pass shares: its result type and the folding rebuild through the builder.

A pass is a function ``Netlist -> PassResult``: the new netlist and a dict of what it
changed (counts, all >= 0).  ``changed`` is true when any count is non-zero, and a pass
that changes nothing returns a netlist identical to its input (the pipeline's fixed point
rests on this, so no netlist is hashed to detect it).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..builder import NetlistBuilder
from ..netlist import Netlist

__all__ = ["PassResult", "rebuild", "rewrite_pass"]


@dataclass(frozen=True)
class PassResult:
    net: Netlist
    changes: dict = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(int(v) for v in self.changes.values())


def rebuild(net: Netlist, flags) -> PassResult:
    """Add ``net``'s gates, one old level at a time, to a builder folding with ``flags``
    (names from :data:`dlgn.compiler.builder.FLAGS`); outputs keep their polarity.  ``net``
    must be valid (the pipeline checks its input and its result)."""
    b, lit = NetlistBuilder.from_netlist(net, rewrite=set(flags), check=False)
    out = lit[net.outputs.astype(np.int64)] ^ net.invert.astype(np.int64)
    del lit
    new = b.finish(out, net.group_sizes.copy(), net.tau, net.meta, check=False)
    return PassResult(new, {k: int(v) for k, v in b.counts.items()})


_CONTRACT = """

    Pre: ``net.check()`` holds.  Post: the result computes the same outputs (polarity
    applied) on every input, ``check()`` holds, gates stay in topological order, and the
    result's ``changes`` count what was rewritten."""


def rewrite_pass(name: str, flags, doc: str):
    """The pass ``Netlist -> PassResult`` that rebuilds with the builder rewrites ``flags``."""
    flags = frozenset(flags)

    def run(net: Netlist) -> PassResult:
        return rebuild(net, flags)

    run.__name__ = run.__qualname__ = name
    run.__doc__ = doc + _CONTRACT
    return run
