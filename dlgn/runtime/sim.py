"""The reference simulator behind the same interface as a compiled model."""
from __future__ import annotations

import numpy as np

from ..compiler.netlist import Netlist
from ..compiler.simulate import predict, scores, simulate
from .model import CompiledModel

__all__ = ["SimModel"]


class SimModel(CompiledModel):
    """``build(netlist, target="sim")``: predictions straight from the reference simulator
    (numpy, no build); the inputs and results of :class:`~dlgn.runtime.model.CompiledModel`."""

    target = "sim"

    def __init__(self, netlist: Netlist):
        if not isinstance(netlist, Netlist):
            raise TypeError(f"expected a dlgn Netlist, got {type(netlist).__name__}")
        self.netlist = netlist.check()

    def __repr__(self):
        return f"SimModel({self.netlist!r})"

    def _outputs(self, X) -> np.ndarray:
        return simulate(self.netlist, X)

    def _scores(self, X) -> np.ndarray:
        return scores(self.netlist, X)

    def _predict(self, X) -> np.ndarray:
        return predict(self.netlist, X)
