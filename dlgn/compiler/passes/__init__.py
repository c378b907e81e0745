"""Optimization passes: each a pure ``Netlist -> PassResult`` in a file named after it.

:data:`PASSES` maps each file's name to its pass; the pipeline (``dlgn compile --passes``)
takes these names.  A pass never mutates its input; ``PassResult.changes`` says what it
rewrote and ``PassResult.changed`` whether it did anything.

:func:`lut_map` (LUT-k mapping, :mod:`.lut_map`) is a pass too, but not a clean-up run to
a fixed point: it rewrites a clean net, so it is not in :data:`PASSES`; call it on the
optimized net."""
from .absorb import absorb_inverters
from .base import PassResult
from .bypass import bypass_wires
from .const_prop import constant_propagation
from .dead import eliminate_dead, live_gates
from .dup_fanins import merge_duplicate_fanins
from .fold import fold
from .lut_map import LutMapError, LutMapResult, lut_map
from .renumber import renumber_levels
from .strash import structural_hashing
from .support import support_reduction

__all__ = ["constant_propagation", "support_reduction", "merge_duplicate_fanins",
           "bypass_wires", "absorb_inverters", "structural_hashing", "fold",
           "eliminate_dead", "live_gates", "renumber_levels", "PASSES", "PassResult",
           "lut_map", "LutMapResult", "LutMapError"]

#: Every pass by the name of its file.
PASSES = {
    "const_prop": constant_propagation,
    "dup_fanins": merge_duplicate_fanins,
    "support": support_reduction,
    "bypass": bypass_wires,
    "absorb": absorb_inverters,
    "strash": structural_hashing,
    "fold": fold,
    "dead": eliminate_dead,
    "renumber": renumber_levels,
}
