"""dlgn.compiler: the flat gate-level IR, lowering, passes, the reference simulator and
equivalence checking.  Never imports torch."""
from .gates import GATE_NAMES, GATE_TABLES, difflogic_to_table, table_to_difflogic
from .generate import random_layered, random_netlist
from .lower import lower_layers
from .netlist import Netlist, NetlistError, NetlistFormatError
from .passes import LutMapError, LutMapResult, lut_map
from .pipeline import optimize, optimize_with_report
from .simulate import pack_bits, predict, scores, simulate, simulate_words, unpack_bits

__all__ = [
    "Netlist", "NetlistError", "NetlistFormatError", "lower_layers",
    "optimize", "optimize_with_report", "lut_map", "LutMapResult", "LutMapError",
    "simulate", "simulate_words", "scores", "predict", "pack_bits", "unpack_bits",
    "random_netlist", "random_layered",
    "GATE_NAMES", "GATE_TABLES", "difflogic_to_table", "table_to_difflogic",
]
