"""dlgn.compiler.io: netlist file formats other than dlgn's own ``.dlgn.npz``.

* :mod:`.blif` — BLIF (``.names`` covers), what ABC and Yosys read and write;
* :mod:`.aiger` — AIGER, ASCII ``aag`` and binary ``aig`` And-Inverter Graphs.

Each reader comes as a pair like ``json.load`` / ``json.loads``: ``read_<fmt>(path)`` and
``parse_<fmt>(text or bytes)``; both build the netlist through
:class:`~dlgn.compiler.builder.NetlistBuilder` and raise a
:class:`~dlgn.compiler.netlist.NetlistFormatError` subclass naming the file.  Writers are
deterministic.  Numpy only; nothing here runs an external tool (see :mod:`dlgn.tools`).
"""
from .aiger import AigerFormatError, aiger_bytes, aiger_text, parse_aiger, read_aiger, write_aiger
from .blif import BlifFormatError, blif_text, parse_blif, read_blif, write_blif

__all__ = ["write_blif", "blif_text", "read_blif", "parse_blif", "BlifFormatError",
           "write_aiger", "aiger_bytes", "aiger_text", "read_aiger", "parse_aiger",
           "AigerFormatError"]
