"""Optimization passes: each a pure ``Netlist -> Netlist`` in a file of its own.

Every pass takes an optional ``report`` dict that it updates with what it removed."""
from .absorb import absorb_inverters
from .bypass import bypass_wires
from .const_prop import constant_propagation
from .dead import eliminate_dead
from .dup_fanins import merge_duplicate_fanins
from .fold import fold
from .renumber import renumber_levels
from .strash import structural_hashing
from .support import support_reduction

__all__ = ["constant_propagation", "support_reduction", "merge_duplicate_fanins",
           "bypass_wires", "absorb_inverters", "structural_hashing", "fold",
           "eliminate_dead", "renumber_levels", "PASSES"]

#: Every pass by name.
PASSES = {f.__name__: f for f in (constant_propagation, support_reduction,
                                  merge_duplicate_fanins, bypass_wires, absorb_inverters,
                                  structural_hashing, fold, eliminate_dead, renumber_levels)}
