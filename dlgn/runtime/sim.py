"""The reference simulator behind the same interface as a compiled model."""
from __future__ import annotations

import numpy as np

from ..compiler.netlist import Netlist
from ..compiler.simulate import predict, scores, simulate

__all__ = ["SimModel"]


class SimModel:
    """``build(netlist, target="sim")``: predictions straight from the reference simulator."""

    target = "sim"

    def __init__(self, netlist: Netlist):
        self.netlist = netlist.check()

    def outputs(self, X) -> np.ndarray:
        return simulate(self.netlist, X)

    def scores(self, X) -> np.ndarray:
        return scores(self.netlist, X)

    def predict(self, X) -> np.ndarray:
        return predict(self.netlist, X)
