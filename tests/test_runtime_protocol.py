"""One CompiledModel protocol for the simulator, C and CUDA models: numpy arrays, torch
tensors and lists of 0/1 in any integer or bool dtype; the caller's type back; raw features
with the netlist's encoder (encode=True); torch imported only for tensor inputs."""
import importlib
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dlgn.compiler import Netlist, NetlistError, random_layered, random_netlist
from dlgn.compiler.encoding import EncodingError, encode
from dlgn.runtime import CompiledModel, build

sim = importlib.import_module("dlgn.compiler.simulate")
HAS_CC = any(shutil.which(c) for c in ("gcc", "clang", "cc"))
HAS_CXX = any(shutil.which(c) for c in ("g++", "clang++"))

# 4 raw features -> a 3-bit thermometer each -> 12 input bits
ENCODER = {"type": "thermometer", "n_features": 4, "bits_per_feature": 3, "method": "uniform",
           "thresholds": [[0.25, 0.5, 0.75]] * 4}
_base = random_layered(7, n_inputs=12, layers=(48, 30), arity=2, n_classes=3)
NET = Netlist(_base.n_inputs, _base.fanin, _base.arity, _base.table, _base.outputs,
              _base.invert, group_sizes=_base.group_sizes, tau=_base.tau,
              meta={"encoder": ENCODER}).check()
RNG = np.random.default_rng(0)
X = RNG.integers(0, 2, size=(203, 12)).astype(np.uint8)
RAW = RNG.random((203, 4))


def _targets():
    out = [("sim", {})]
    if HAS_CC:
        out.append(("c", {"word_bits": 64, "threads": 2}))
    if HAS_CXX:
        out.append(("cuda", {"cpu_shim": True}))
    return out


@pytest.fixture(scope="module", params=_targets(), ids=lambda t: t[0])
def model(request):
    target, opts = request.param
    return build(NET, target, **opts)


def _want(kind, bits):
    return {"predict": sim.predict, "scores": sim.scores, "outputs": sim.simulate}[kind](NET, bits)


KINDS = [("predict", np.int64), ("scores", np.int32), ("outputs", np.bool_)]


def test_one_protocol(model):
    assert isinstance(model, CompiledModel)
    assert (model.n_inputs, model.n_outputs, model.n_classes) == (12, NET.n_outputs, 3)
    assert model.netlist is NET and model.target in ("sim", "c", "cuda")
    assert model.encoder == ENCODER


@pytest.mark.parametrize("dtype", [np.uint8, np.bool_, np.int8, np.int16, np.int32, np.int64,
                                   np.uint16, np.uint32, np.uint64])
def test_numpy_bits_of_any_integer_dtype(model, dtype):
    A = X.astype(dtype)
    for kind, out_dtype in KINDS:
        got = getattr(model, kind)(A)
        assert isinstance(got, np.ndarray) and got.dtype == out_dtype
        np.testing.assert_array_equal(got, _want(kind, X))


def test_lists_and_non_contiguous_arrays(model):
    np.testing.assert_array_equal(model.predict(X.tolist()), _want("predict", X))
    np.testing.assert_array_equal(model.outputs(X.astype(bool).tolist()), _want("outputs", X))
    wide = np.repeat(X.astype(np.int32), 2, axis=1)[:, ::2]          # a strided view
    np.testing.assert_array_equal(model.scores(wide), _want("scores", X))
    assert model.predict(np.zeros((0, 12), int)).shape == (0,)


@pytest.mark.parametrize("bad", [2, -1, 7])
def test_integers_other_than_0_1_are_refused(model, bad):
    A = X.astype(np.int64)
    A[5, 3] = bad
    for kind, _ in KINDS:
        with pytest.raises(ValueError, match="0 or 1"):
            getattr(model, kind)(A)
    U = X.copy()
    U[5, 3] = 2               # uint8: check_bits' own rule and message
    with pytest.raises(ValueError) as got:
        model.predict(U)
    with pytest.raises(ValueError) as want:
        sim.check_bits(U, 12)
    assert str(got.value) == str(want.value)


def test_floats_and_shapes_are_refused(model):
    with pytest.raises(TypeError, match="dtype"):
        model.predict(X.astype(np.float32))
    with pytest.raises(TypeError, match="dtype"):
        model.predict([["a"] * 12])
    with pytest.raises(ValueError, match="2-D"):
        model.predict(X[0])
    with pytest.raises(ValueError, match="12 input bits"):
        model.predict(X[:, :11].astype(np.int64))


def test_torch_in_torch_out(model):
    torch = pytest.importorskip("torch")
    for tdtype in (torch.uint8, torch.bool, torch.int64, torch.int32, torch.int8):
        T = torch.from_numpy(X).to(tdtype)
        for kind, out_dtype in KINDS:
            got = getattr(model, kind)(T)
            assert isinstance(got, torch.Tensor) and got.device.type == "cpu"
            assert got.numpy().dtype == out_dtype
            np.testing.assert_array_equal(got.numpy(), _want(kind, X))
    T = torch.from_numpy(X).long()
    T[0, 0] = 3
    with pytest.raises(ValueError, match="0 or 1"):
        model.predict(T)
    with pytest.raises(TypeError, match="dtype"):
        model.predict(torch.from_numpy(X).float())
    R = torch.from_numpy(X).bool().requires_grad_(False).t().contiguous().t()  # strided
    np.testing.assert_array_equal(model.predict(R).numpy(), _want("predict", X))


def test_raw_features_with_the_netlist_encoder(model):
    bits = encode(ENCODER, RAW)
    np.testing.assert_array_equal(model.encode(RAW), bits)
    for kind, out_dtype in KINDS:
        got = getattr(model, kind)(RAW, encode=True)
        assert got.dtype == out_dtype
        np.testing.assert_array_equal(got, _want(kind, bits))
    np.testing.assert_array_equal(model.predict(RAW.tolist(), encode=True), _want("predict", bits))
    with pytest.raises(ValueError, match="4 features"):
        model.predict(X, encode=True)          # bits are not 4 raw features


def test_raw_torch_features(model):
    torch = pytest.importorskip("torch")
    got = model.predict(torch.from_numpy(RAW).float(), encode=True)
    assert isinstance(got, torch.Tensor)
    np.testing.assert_array_equal(got.numpy(),
                                  _want("predict", encode(ENCODER, RAW.astype(np.float32))))


def test_no_encoder_is_a_clear_error():
    net = random_netlist(3, n_inputs=5, n_classes=2)
    for target, opts in _targets():
        m = build(net, target, **opts)
        assert m.encoder is None
        with pytest.raises(EncodingError, match="no encoder"):
            m.predict(np.zeros((2, 5)), encode=True)


def test_no_head_is_a_netlist_error():
    net = random_netlist(4, n_inputs=5, n_classes=0)
    for target, opts in _targets():
        m = build(net, target, **opts)
        assert m.outputs([[0, 1, 0, 1, 1]]).shape == (1, net.n_outputs)
        with pytest.raises(NetlistError, match="head"):
            m.predict([[0, 1, 0, 1, 1]])


_NO_TORCH = textwrap.dedent("""
    import sys
    import numpy as np
    from dlgn.compiler import random_netlist
    from dlgn.runtime import build
    net = random_netlist(5, n_inputs=7, n_classes=2)
    X = np.random.default_rng(0).integers(0, 2, size=(50, 7))
    for target, opts in [("sim", {})] + [tuple(t) for t in eval(sys.argv[1])]:
        m = build(net, target, **opts)
        m.predict(X); m.scores(X.tolist()); m.outputs(X.astype(bool))
    assert "torch" not in sys.modules, "torch was imported for numpy input"
    print("ok")
""")


def test_numpy_inputs_never_import_torch(tmp_path):
    targets = [t for t in _targets() if t[0] != "sim"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, "-c", _NO_TORCH, repr(targets)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


# ---------------------------------------------------------------- CUDA tensors (GPU)
@pytest.mark.gpu
def test_cuda_tensors_in_cuda_tensors_out():
    torch = pytest.importorskip("torch")
    models = [build(NET, "sim")] + ([build(NET, "c")] if HAS_CC else []) + [build(NET, "cuda")]
    for m in models:
        for tdtype in (torch.uint8, torch.bool, torch.int64):
            T = torch.from_numpy(X).to(tdtype).cuda()
            for kind, _ in KINDS:
                got = getattr(m, kind)(T)
                assert isinstance(got, torch.Tensor) and got.is_cuda, (m.target, kind)
                np.testing.assert_array_equal(got.cpu().numpy(), _want(kind, X))
        got = m.predict(torch.from_numpy(RAW).cuda(), encode=True)
        assert got.is_cuda
        np.testing.assert_array_equal(got.cpu().numpy(), _want("predict", encode(ENCODER, RAW)))
        T = torch.from_numpy(X).long().cuda()
        T[1, 1] = -1
        with pytest.raises(ValueError, match="0 or 1"):
            m.scores(T)
