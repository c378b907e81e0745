"""What every equivalence method shares: the precondition, the result, the confirmation.

Two netlists can be compared when they read the same number of inputs, have the same
number of outputs and the same GroupSum head (group sizes are compared, not proven: they
are data, not logic) — :func:`check_compatible`.  Every method (exhaustive simulation,
random vectors, the SAT miter of :mod:`dlgn.compiler.sat`, ABC ``cec`` in
:mod:`dlgn.tools.abc`) answers with an :class:`EquivResult`; a counterexample a solver or
a tool found is returned only after the reference simulator confirms it
(:func:`first_difference`).

This module imports only the IR and the simulator, so the methods can import it without
importing each other.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .netlist import Netlist
from .simulate import simulate

__all__ = ["EquivResult", "check_compatible", "first_difference"]


@dataclass
class EquivResult:
    """The verdict of one equivalence check (truthy when equivalent)."""

    equivalent: bool
    method: str
    counterexample: np.ndarray | None = None  # bool[n_inputs]: input bits that differ
    output: int | None = None                 # first output index that differs

    def __bool__(self) -> bool:
        return self.equivalent


def check_compatible(a: Netlist, b: Netlist) -> None:
    """Raise ``TypeError``/``ValueError`` unless ``a`` and ``b`` can be compared."""
    if not isinstance(a, Netlist) or not isinstance(b, Netlist):
        raise TypeError("an equivalence check compares two Netlists")
    if a.n_inputs != b.n_inputs:
        raise ValueError(f"the netlists read {a.n_inputs} and {b.n_inputs} inputs")
    if a.n_outputs != b.n_outputs:
        raise ValueError(f"the netlists have {a.n_outputs} and {b.n_outputs} outputs")
    if not np.array_equal(a.group_sizes, b.group_sizes):
        raise ValueError(f"the heads differ: group sizes {a.group_sizes.tolist()} and "
                         f"{b.group_sizes.tolist()}")


def first_difference(a: Netlist, b: Netlist, x) -> int | None:
    """The first output on which the reference simulator tells ``a`` and ``b`` apart on
    input bits ``x`` (bool[n_inputs]), or None when they agree there."""
    X = np.asarray(x, dtype=bool).reshape(1, -1).astype(np.uint8)
    diff = np.flatnonzero(simulate(a, X)[0] != simulate(b, X)[0])
    return int(diff[0]) if diff.size else None
