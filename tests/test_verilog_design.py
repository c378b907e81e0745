"""The whole FPGA design in Verilog (dlgn.emit(net, "verilog", design=True)): raw integer
features in, predicted class out, simulated bit-exact against the netlist's own prediction;
the per-part resource report of Yosys equals the design's counts; the CLI's --design."""
import shutil

import numpy as np
import pytest

import dlgn
from dlgn.compiler import random_netlist
from dlgn.compiler.encoding import encode
from dlgn.compiler.netlist import Netlist
from dlgn.compiler.simulate import predict

ENC = {"type": "thermometer", "n_features": 5, "bits_per_feature": 2, "method": "uniform",
       "thresholds": [[0.2, 0.6], [0.1, 0.5], [0.3, 0.7], [0.25, 0.75], [0.5, 0.9]]}


def _net(seed=3) -> Netlist:
    n = random_netlist(seed, n_inputs=10, n_gates=120, max_arity=3, n_outputs=15, n_classes=3,
                       p_const=0.05, p_dup=0.1, p_special_output=0.1)
    return Netlist(n.n_inputs, n.fanin, n.arity, n.table, n.outputs, n.invert, n.group_sizes,
                   n.tau, {"encoder": ENC})


def _index(bits):
    bits = np.asarray(bits).astype(np.int64)
    return (bits << np.arange(bits.shape[1])[None, :]).sum(axis=1)


def test_emit_design_is_deterministic_and_whole():
    net = _net()
    a = dlgn.emit(net, "verilog", design=True)
    assert a == dlgn.emit(net, "verilog", design=True)
    for part in ("encoder_l", "logic_l", "head_l"):
        assert part in a
    assert "LUT6" in a or "LUT5" in a
    with pytest.raises(ValueError, match="Verilog option"):
        dlgn.emit(net, "c", design=True)


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="apt install iverilog")
@pytest.mark.parametrize("pipeline", [0, 2])
def test_design_simulates_as_the_netlist(tmp_path, pipeline):
    from dlgn.backends.verilog_design import design_of
    from dlgn.backends.verilog_lut import simulate_lut
    from dlgn.compiler.design import PARTS
    net = _net()
    des = design_of(net)
    rng = np.random.default_rng(pipeline)
    Q = np.concatenate([np.repeat(np.arange(256)[:, None], 5, axis=1),
                        rng.integers(0, 256, size=(65, 5))])
    want = predict(net, encode(ENC, Q / 256))
    r = simulate_lut(des.net, des.raw_bits(Q), simulator="iverilog", primitives="xilinx",
                     pipeline=pipeline, input_ports=(5, 8), parts=(des.parts, list(PARTS)),
                     workdir=tmp_path)
    assert r["passed"] and r["mismatches"] == 0
    np.testing.assert_array_equal(_index(r["y"]), want)


def test_write_design_files(tmp_path):
    import json
    from dlgn.backends import write_files
    files = write_files(_net(), "verilog", tmp_path, name="m", design=True,
                        raw_vectors=np.zeros((4, 5), np.int64))
    names = sorted(p.name for p in files)
    assert "m_design.v" in names and "m_design_tb.v" in names and "m_design.json" in names
    info = json.loads((tmp_path / "m_design.json").read_text())
    assert info["encoder"] + info["logic"] + info["head"] == info["total"]
    assert info["raw"] == {"n_features": 5, "width": 8, "scale": 1 / 256}
    assert not list(tmp_path.glob(".*tmp"))


def test_synthesized_breakdown_equals_the_design(tmp_path, monkeypatch):
    pytest.importorskip("pyosys")
    from dlgn.backends.verilog_design import breakdown_table, synthesize_design
    monkeypatch.chdir(tmp_path)     # a relative output folder (Yosys runs inside it)
    rep = synthesize_design(_net(), "out", name="m", pipeline=2)
    x = rep["xc7"]
    assert "error" not in x, x
    for p in ("encoder", "logic", "head"):
        assert x[f"{p}_luts"] == rep["netlist"][p]
    assert x["luts"] == rep["netlist"]["total"] == rep["luts_in_text"]
    assert x["ffs"] >= rep["registers"] > 0
    table = breakdown_table(rep)
    assert "encoder" in table and "includes" in table and "no routing" in table
    # Yosys sta over the xc7 cell delays: pipelining shortens the longest path
    flat = synthesize_design(_net(), "flat", name="m", pipeline=0)["timing"]
    t = rep["timing"]
    assert 0 < t["critical_path_ps"] < flat["critical_path_ps"], (t, flat)
    assert flat["fmax_cells_mhz"] == round(1e6 / flat["critical_path_ps"], 1)


def test_read_sta_errors(tmp_path):
    from dlgn.backends.verilog_design import read_sta
    assert "error" in read_sta(tmp_path / "missing.txt")
    (tmp_path / "s.txt").write_text("nothing timed\n")
    assert "error" in read_sta(tmp_path / "s.txt")


def test_cli_design(tmp_path):
    from dlgn.cli import main
    path = tmp_path / "n.dlgn.npz"
    _net().save(path)
    assert main(["compile", str(path), "-o", str(tmp_path / "o"), "--target", "verilog",
                 "--design", "--raw-scale", "1/256"]) == 0
    assert (tmp_path / "o" / "model_design.v").exists()
    assert main(["compile", str(path), "-o", str(tmp_path / "p"), "--target", "c",
                 "--design"]) == 2
    assert main(["compile", str(path), "-o", str(tmp_path / "q"), "--target", "verilog",
                 "--design", "--raw-scale", "zero"]) == 2
    assert not (tmp_path / "q").exists() and not (tmp_path / "p").exists()
