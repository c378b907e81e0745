"""Shared fixtures of the Verilog backend tests (not a test module)."""
from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from dlgn.compiler.netlist import Netlist

GOLDEN = Path(__file__).parent / "golden"


def small_netlist() -> Netlist:
    """A fixed hand-written netlist with every construct the emitter handles: 2-input gates,
    an inverter, a 3-input LUT with a constant fan-in, a 0-input constant, a dead gate, an
    input and a constant as outputs, inverted outputs, and a two-class head."""
    fanin = [[2, 3, 0],    # g0 = AND(x0, x1)
             [4, 6, 0],    # g1 = XOR(x2, g0)
             [5, 0, 0],    # g2 = NOT x3
             [7, 8, 1],    # g3 = MAJ(g1, g2, 1)
             [9, 2, 0],    # g4 = NOR(g3, x0)
             [0, 0, 0],    # g5 = TRUE (0 inputs)
             [2, 2, 0]]    # g6 = AND(x0, x0), dead
    arity = [2, 2, 1, 3, 2, 0, 2]
    table = [8, 6, 1, 0xE8, 1, 1, 8]
    return Netlist(4, np.array(fanin), arity, table, [10, 9, 2, 11, 7],
                   [False, True, False, False, True], [2, 3], tau=2.0).check()


def monk_bits() -> np.ndarray:
    """The 432 MONK points (UCI), one-hot encoded: 17 input bits per row."""
    domains = [3, 3, 2, 3, 4, 2]
    rows = []
    for point in itertools.product(*[range(d) for d in domains]):
        bits = []
        for v, d in zip(point, domains):
            bits += [1 if i == v else 0 for i in range(d)]
        rows.append(bits)
    return np.array(rows, dtype=np.uint8)


def need_iverilog():
    if not shutil.which("iverilog") or not shutil.which("vvp"):
        pytest.skip("Icarus Verilog is not installed (apt-get install iverilog)")


def need_pyosys():
    pytest.importorskip("pyosys", reason="Yosys is not installed (pip install pyosys)")


def verilator_or_skip():
    from dlgn.backends.verilog_sim import VerilogToolError, verilator_path
    try:
        return verilator_path()
    except VerilogToolError as e:
        pytest.skip(str(e))


def update_golden() -> bool:
    return os.environ.get("DLGN_UPDATE_GOLDEN") == "1"
