"""The ``dlgn`` command end to end: compile a trained model for every target, predict from
raw features and from bits with the simulator and C, and clear errors for bad input."""
import json

import numpy as np
import pytest
import torch

from dlgn.cli import main
from dlgn.compiler import Netlist
from dlgn.compiler.simulate import predict


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from dlgn.frontend.checkpoint import save_model
    from dlgn.frontend.data import load_dataset, make_encoder
    from dlgn.frontend.net import LogicNet
    from dlgn.frontend.train import train
    torch.set_num_threads(1)
    data = load_dataset("monk1")
    net = LogicNet(data.n_features, layers=[48, 48, 48], n_classes=2,
                   encoder=make_encoder(data), tau=4.0, seed=1)
    train(net, data, epochs=10, batch_size=16, lr=0.1, progress=False)
    d = tmp_path_factory.mktemp("cli")
    save_model(net, d / "model.pt")
    return d, net, data


def test_compile_every_target_with_report(trained):
    d, net, data = trained
    out = d / "out"
    assert main(["-q", "compile", str(d / "model.pt"), "-o", str(out),
                 "--target", "c,verilog,cuda", "--report", "--pipeline", "2"]) == 0
    for f in ("model.dlgn.npz", "model.c", "model.h", "model.v", "model_tb.v", "model.cu"):
        assert (out / f).is_file(), f
    rep = json.loads((out / "report.json").read_text())
    assert rep["before"]["gates"] == 144
    assert rep["after"]["gates"] <= 144 and rep["passes"]
    assert "module dlgn_model" in (out / "model.v").read_text()
    # the written netlist is the optimized one and keeps the encoder for raw features
    nl = Netlist.load(out / "model.dlgn.npz")
    assert nl.n_gates == rep["after"]["gates"] and nl.meta["encoder"]


@pytest.mark.parametrize("target", ["sim", "c"])
def test_predict_from_raw_features_and_bits(trained, target):
    d, net, data = trained
    out = d / "out"
    if not out.exists():
        main(["-q", "compile", str(d / "model.pt"), "-o", str(out)])
    nl = Netlist.load(out / "model.dlgn.npz")
    bits = net.encode(data.x_test).numpy().astype(np.uint8)
    expect = predict(nl, bits)
    np.save(d / "raw.npy", data.x_test)
    np.save(d / "bits.npy", bits)
    for name in ("raw", "bits"):
        y = d / f"y_{name}_{target}.npy"
        s = d / f"s_{name}_{target}.npy"
        assert main(["-q", "predict", str(out), "--input", str(d / f"{name}.npy"),
                     "--output", str(y), "--scores", str(s), "--target", target]) == 0
        np.testing.assert_array_equal(np.load(y), expect)
        assert np.load(s).shape == (len(bits), 2)
    # and from the .pt model directly (discretized and optimized on the fly)
    y = d / f"y_pt_{target}.npy"
    assert main(["-q", "predict", str(d / "model.pt"), "--input", str(d / "raw.npy"),
                 "--output", str(y), "--target", target]) == 0
    np.testing.assert_array_equal(np.load(y), expect)


def test_bad_input_is_a_clear_error(trained, capsys):
    d, net, data = trained
    np.save(d / "bad.npy", np.zeros((3, 5), np.float32))
    rc = main(["-q", "predict", str(d / "model.pt"), "--input", str(d / "bad.npy"),
               "--output", str(d / "y.npy")])
    assert rc == 1                       # an error; 2 is for usage (argparse)
    assert "error" in capsys.readouterr().err
    rc = main(["-q", "compile", str(d / "missing.pt"), "-o", str(d / "x")])
    assert rc == 1
    assert "missing.pt" in capsys.readouterr().err


def test_compile_runs_a_chosen_pass_pipeline(trained, tmp_path):
    d, net, data = trained
    out = tmp_path / "p"
    assert main(["-q", "compile", str(d / "model.pt"), "-o", str(out), "--report",
                 "--passes", "const_prop,support,dead"]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert {r["pass"] for r in rep["passes"]} == {"const_prop", "support", "dead"}
    nl = Netlist.load(out / "model.dlgn.npz")
    X = np.random.default_rng(0).integers(0, 2, (200, nl.n_inputs)).astype(np.uint8)
    assert np.array_equal(predict(nl, X), predict(net.discretize(), X))
    assert main(["-q", "compile", str(d / "model.pt"), "-o", str(tmp_path / "q"),
                 "--passes", "fold,nope"]) != 0
    assert not (tmp_path / "q" / "model.dlgn.npz").exists()


def test_compile_lut_maps_with_dlgn_or_abc(trained, tmp_path):
    """--lut K writes (and emits from) the netlist mapped onto K-LUTs; --abc FLOW maps it
    with ABC, read back and proven equal by ABC cec.  Both compute the unmapped function."""
    from dlgn.tools.abc import find_abc
    d, net, data = trained
    ref = Netlist.load(_compiled(d, tmp_path / "plain"))
    X = np.random.default_rng(0).integers(0, 2, (300, ref.n_inputs)).astype(np.uint8)
    runs = [("dlgn", ["--lut", "4"], 4)]
    if find_abc() is not None:
        runs.append(("abc:if", ["--abc", "if"], 6))
    for mapper, extra, k in runs:
        out = tmp_path / mapper.replace(":", "_")
        assert main(["-q", "compile", str(d / "model.pt"), "-o", str(out), "--report",
                     "--target", "verilog"] + extra) == 0
        rep = json.loads((out / "report.json").read_text())["lut_map"]
        nl = Netlist.load(out / "model.dlgn.npz")
        assert rep["mapper"] == mapper and rep["k"] == k and rep["luts"] == nl.n_gates
        assert rep["depth"] == nl.depth() and int(nl.arity.max(initial=0)) <= k
        assert rep.get("proof") == ("abc cec" if mapper != "dlgn" else None)
        assert np.array_equal(predict(nl, X), predict(ref, X))
        assert (out / "model.v").exists()


def test_compile_abc_without_abc_is_a_usage_error(trained, tmp_path, monkeypatch, capsys):
    import dlgn.tools.abc as abc
    monkeypatch.setattr(abc, "find_abc", lambda abc=None: None)
    d, net, data = trained
    assert main(["-q", "compile", str(d / "model.pt"), "-o", str(tmp_path / "o"),
                 "--abc", "if"]) == 2
    assert "berkeley-abc" in capsys.readouterr().err and not (tmp_path / "o").exists()


def _compiled(d, out):
    assert main(["-q", "compile", str(d / "model.pt"), "-o", str(out)]) == 0
    return out / "model.dlgn.npz"


@pytest.mark.parametrize("extra, msg", [
    (["--lut", "7"], "--lut"),
    (["--abc", "nosuch"], "not an ABC flow"),
    (["--target", "fpga"], "unknown target"),
    (["--pipeline", "-1"], "--pipeline"),
    (["--head-stride", "0"], "--head-stride"),
    (["--name", "../x"], "plain file name"),
    (["--pnr"], "--synth"),
])
def test_compile_validates_before_writing(trained, tmp_path, capsys, extra, msg):
    d, net, data = trained
    out = tmp_path / "o"
    assert main(["-q", "compile", str(d / "model.pt"), "-o", str(out)] + extra) != 0
    assert msg in capsys.readouterr().err
    assert not out.exists()                       # nothing written, not even the netlist
    assert not (tmp_path / "x.dlgn.npz").exists()


def test_compile_target_names_are_case_insensitive(trained, tmp_path):
    d, net, data = trained
    assert main(["-q", "compile", str(d / "model.pt"), "-o", str(tmp_path / "o"),
                 "--target", "C,Verilog"]) == 0
    assert (tmp_path / "o" / "model.c").is_file() and (tmp_path / "o" / "model.v").is_file()


def test_compile_synth_without_yosys_is_an_error(trained, tmp_path, monkeypatch):
    import dlgn.backends.verilog_synth as vs
    monkeypatch.setattr(vs, "pyosys_available", lambda: False)
    monkeypatch.chdir(tmp_path)  # a relative -o
    d, net, data = trained
    assert main(["-q", "compile", str(d / "model.pt"), "-o", "rel_out_dir_synth",
                 "--synth"]) == 1


def test_compile_and_verify_speak_json(trained, tmp_path, capsys):
    d, net, data = trained
    assert main(["-q", "compile", str(d / "model.pt"), "-o", str(tmp_path / "j"), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["before"]["gates"] == 144 and rep["netlist"] == "model.dlgn.npz"
    assert main(["-q", "verify", str(tmp_path / "j"), "--vectors", "300", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["passed"] and {c["verdict"] for c in out["checks"]} == {"ok"}
