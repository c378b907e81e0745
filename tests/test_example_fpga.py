"""examples/fpga: the shipped design is what the emitter writes today, and its
self-checking testbench passes in Icarus Verilog through the example's own run.sh."""
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from _verilog_util import monk_bits, need_iverilog
from dlgn.backends.verilog import emit, layout
from dlgn.backends.verilog_tb import expected_rows, read_hex
from dlgn.compiler import optimize
from dlgn.compiler.netlist import Netlist

EX = Path(__file__).resolve().parent.parent / "examples" / "fpga"


def test_example_is_up_to_date():
    net = optimize(Netlist.load(EX / "monk1.dlgn.npz"))
    assert (EX / "model.v").read_text() == emit(net, pipeline=2, module="dlgn_model"), \
        "regenerate with: python examples/fpga/make_example.py"
    lay = layout(net, pipeline=2)
    X = monk_bits()
    assert read_hex(EX / "model_expect.hex") == expected_rows(net, X, lay)


def test_example_simulation_passes(tmp_path):
    need_iverilog()
    if not shutil.which("bash"):
        pytest.skip("needs bash")
    env = dict(os.environ, DLGN_EXAMPLE_OUT=str(tmp_path))
    p = subprocess.run(["bash", str(EX / "run.sh"), "sim"], env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "PASS: 432 vectors, 0 mismatches" in p.stdout
    got = read_hex(tmp_path / "model_out.hex")
    assert got == read_hex(EX / "model_expect.hex")
    assert np.asarray(got).size == 432
