"""The reference simulator behind the same interface as a compiled model."""
from __future__ import annotations

import numpy as np

from ..compiler import simulate as _sim
from ..compiler.netlist import Netlist

__all__ = ["SimModel"]


class SimModel:
    """``build(netlist, target="sim")``: predictions straight from the reference simulator."""

    target = "sim"

    def __init__(self, netlist: Netlist):
        self.netlist = netlist.check()

    def outputs(self, X) -> np.ndarray:
        return _sim.simulate(self.netlist, X)

    def scores(self, X) -> np.ndarray:
        return _sim.scores(self.netlist, X)

    def predict(self, X) -> np.ndarray:
        return _sim.predict(self.netlist, X)
