"""``dlgn verify``: passes on a good netlist, fails (non-zero) when optimization is wrong."""
import logging

import pytest

from dlgn.cli import main
from dlgn.compiler import random_layered


def test_verify_passes(tmp_path, caplog):
    p = tmp_path / "m.dlgn.npz"
    random_layered(1, n_inputs=30, layers=(120, 120, 60), n_classes=6).save(p)
    with caplog.at_level(logging.INFO):
        assert main(["verify", str(p), "--vectors", "500", "--formal"]) == 0
    text = caplog.text
    assert "(sat)" in text and "(abc)" in text and "MISMATCH" not in text


def test_verify_fails_on_a_wrong_optimizer(tmp_path, monkeypatch, caplog):
    import dlgn.compiler as comp

    def broken(net, **kw):
        out = net.copy()
        out.invert[0] = ~out.invert[0]
        return out

    monkeypatch.setattr(comp, "optimize", broken)
    p = tmp_path / "m.dlgn.npz"
    random_layered(1, n_inputs=10, layers=(40, 40), n_classes=4).save(p)
    with caplog.at_level(logging.INFO):
        assert main(["verify", str(p), "--vectors", "200"]) == 1
    assert "MISMATCH" in caplog.text


def test_verify_rejects_unknown_target(tmp_path):
    p = tmp_path / "m.dlgn.npz"
    random_layered(1, n_inputs=10, layers=(40,), n_classes=4).save(p)
    assert main(["verify", str(p), "--targets", "fpga"]) == 2


def test_verify_a_trained_model_file(tmp_path, caplog):
    torch = pytest.importorskip("torch")
    try:
        from dlgn.frontend.checkpoint import save_model
        from dlgn.frontend.net import LogicNet
    except ImportError as e:  # the frontend is another engineer's work in progress
        pytest.skip(f"frontend not available: {e}")
    torch.manual_seed(0)
    net = LogicNet(24, layers=[60, 40], n_classes=4, arity=2, seed=3)
    p = tmp_path / "m.pt"
    save_model(net, p)
    with caplog.at_level(logging.INFO):
        rc = main(["verify", str(p), "--vectors", "300", "--formal"])
    assert "frontend == simulator" in caplog.text
    assert rc == 0, caplog.text


def test_verify_c_target(tmp_path, caplog):
    import shutil
    import importlib
    try:
        importlib.import_module("dlgn.runtime.c_build")  # another engineer's module
    except ImportError as e:
        pytest.skip(f"C runtime not available: {e}")
    if not (shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")):
        pytest.skip("no C compiler")
    p = tmp_path / "m.dlgn.npz"
    random_layered(2, n_inputs=30, layers=(100, 100, 60), n_classes=6).save(p)
    with caplog.at_level(logging.INFO):
        rc = main(["verify", str(p), "--targets", "sim,c", "--vectors", "700"])
    assert "c == simulator" in caplog.text
    assert rc == 0, caplog.text
