"""LogicNet: eval-mode predictions equal the reference simulator on the discretized netlist,
GroupSum, config rebuild, and model files (weights-only)."""
import json

import numpy as np
import pytest
import torch

from dlgn.compiler.simulate import predict, scores
from dlgn.frontend.checkpoint import ModelFileError, load_model, read_model_file, save_model
from dlgn.frontend.encoders import OneHotEncoder, ThermometerEncoder
from dlgn.frontend.head import GroupSum
from dlgn.frontend.net import LogicNet
from dlgn.compiler.encoding import encode


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _bits(n, d, seed):
    return (np.random.default_rng(seed).random((n, d)) > 0.5).astype(np.uint8)


@pytest.mark.parametrize("param,k,phi", [("iwp", 2, "sigmoid"), ("iwp", 3, "sin"),
                                         ("op", 2, "sigmoid"), ("iwp", 6, "sigmoid")])
def test_eval_predictions_equal_simulator(param, k, phi):
    net = LogicNet(24, [60, 45, 30], n_classes=3, arity=k, parametrization=param,
                   init="gaussian", tau=3.0, phi=phi, seed=k)
    nl = net.discretize()
    assert nl.n_inputs == 24 and nl.n_gates == 135 and list(nl.group_sizes) == [10] * 3
    assert nl.tau == 3.0 and nl.meta["config"] == net.config
    json.dumps(nl.meta)
    net.eval()
    for B in (0, 1, 63, 64, 65):
        X = _bits(B, 24, B)
        with torch.no_grad():
            s = net(torch.from_numpy(X).float())
        assert s.shape == (B, 3)
        assert torch.equal(s, torch.from_numpy(scores(nl, X)).float() / 3.0)
        assert np.array_equal(s.argmax(1).numpy(), predict(nl, X))
        assert np.array_equal(net.predict(X).numpy(), predict(nl, X))
    # negative test: one flipped table bit in an output gate is seen by the comparison
    X = np.array(list(np.ndindex(*(2,) * 12)), dtype=np.uint8)
    X = np.concatenate([X, X], axis=1)[:, :24]
    broken = nl.copy()
    broken.table[-1] ^= np.uint64(1 << int(np.random.default_rng(0).integers(0, 1 << k)))
    with torch.no_grad():
        s = net(torch.from_numpy(X).float())
    counts = np.rint(s.numpy() * 3.0).astype(np.int32)
    assert np.array_equal(counts, scores(nl, X))
    assert not np.array_equal(counts, scores(broken, X))


def test_ties_resolve_to_the_first_class_like_the_simulator():
    # 2 bits per class: many samples tie; predictions must still match bit for bit
    net = LogicNet(6, [8, 8], n_classes=4, init="gaussian", tau=1.0, seed=11).eval()
    X = np.array(list(np.ndindex(*(2,) * 6)), dtype=np.uint8)  # all 64 inputs
    nl = net.discretize()
    counts = scores(nl, X)
    top = counts.max(1, keepdims=True)
    assert ((counts == top).sum(1) > 1).any(), "the test needs ties"
    assert np.array_equal(net.predict(torch.from_numpy(X)).numpy(), predict(nl, X))
    # a network whose outputs are all equal: every sample is a 4-way tie -> class 0
    with torch.no_grad():
        net.layers[-1].weight.fill_(5.0)  # TRUE gates
    assert (net.predict(X) == 0).all() and (predict(net.discretize(), X) == 0).all()


def test_encoder_net_matches_simulator_on_raw_features():
    rng = np.random.default_rng(0)
    Xraw = rng.normal(size=(65, 5)).astype(np.float32)
    enc = ThermometerEncoder(4, "quantile").fit(Xraw)
    net = LogicNet(5, [40, 20], n_classes=2, init="gaussian", encoder=enc, seed=1).eval()
    nl = net.discretize()
    assert nl.n_inputs == 20 and nl.meta["encoder"] == enc.to_dict()
    bits = encode(nl.meta["encoder"], Xraw)
    assert torch.equal(net.encode(torch.from_numpy(Xraw)), torch.from_numpy(bits).float())
    assert np.array_equal(net.predict(torch.from_numpy(Xraw)).numpy(), predict(nl, bits))
    with pytest.raises(ValueError, match="in_features=4"):
        LogicNet(4, [40, 20], n_classes=2, encoder=enc)
    with pytest.raises(ValueError, match="fitted"):
        LogicNet(5, [40], n_classes=2, encoder=ThermometerEncoder(3))


def test_train_mode_is_relaxed_and_trains():
    torch.manual_seed(0)
    X = torch.from_numpy(_bits(256, 8, 0)).float()
    y = (X[:, 0].long() ^ X[:, 1].long())  # XOR of two inputs
    net = LogicNet(8, [64, 64, 32], n_classes=2, tau=4.0, seed=0, init="gaussian")
    s = net(X)
    assert s.requires_grad and not torch.equal(s, s.round())
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(net(X), y)
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
        opt.step()
    assert (net.predict(X) == y).float().mean() > 0.9


def test_group_sum():
    h = GroupSum(3, tau=2.0)
    x = torch.tensor([[1.0, 0, 1, 1, 0, 0]])
    assert h(x).tolist() == [[0.5, 1.0, 0.0]]
    with pytest.raises(ValueError, match="not divisible"):
        h(torch.zeros(1, 7))
    with pytest.raises(ValueError, match="not divisible"):
        LogicNet(4, [10, 10], n_classes=3)
    with pytest.raises(ValueError):
        GroupSum(0)
    with pytest.raises(ValueError):
        GroupSum(2, tau=0.0)


def test_config_rebuilds_the_same_net():
    net = LogicNet(10, [20, 20], n_classes=2, arity=3, seed=5)
    json.dumps(net.config)
    twin = LogicNet.from_config(json.loads(json.dumps(net.config)))
    for (k1, v1), (k2, v2) in zip(net.state_dict().items(), twin.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    net2 = LogicNet(10, [20, 20], n_classes=2)
    assert isinstance(net2.config["seed"], int)
    with pytest.raises(ValueError, match="unknown keys"):
        LogicNet.from_config({**net.config, "depth": 3})


def test_bad_net_input_raises():
    net = LogicNet(10, [20], n_classes=2, seed=0)
    with pytest.raises(ValueError, match="\\[batch, 10\\]"):
        net(torch.zeros(3, 9))
    with pytest.raises(ValueError, match="NaN"):
        net(torch.full((3, 10), float("nan")))
    with pytest.raises(TypeError):
        net("abc")


def test_save_load_round_trip_weights_only(tmp_path):
    Xc = np.random.default_rng(0).integers(0, 3, (50, 4))
    enc = OneHotEncoder().fit(Xc)
    net = LogicNet(4, [30, 20], n_classes=2, parametrization="op", encoder=enc, seed=2,
                   init="gaussian")
    p = save_model(net, tmp_path / "m.pt", epoch=3, history=[0.5, 0.25], note="hi",
                   opt={"lr": torch.tensor(0.01)})
    raw = torch.load(p, weights_only=True)
    assert raw["format"] == "dlgn-model" and raw["version"] == 1
    assert raw["extra"]["epoch"] == 3 and raw["config"] == net.config
    back = load_model(p)
    assert not back.training and back.config == net.config
    for (k1, v1), (k2, v2) in zip(net.state_dict().items(), back.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    net.train(), back.train()
    X = torch.from_numpy(Xc)
    assert torch.equal(net(X), back(X))
    net.eval(), back.eval()
    assert torch.equal(net(X), back(X))
    assert back.discretize().content_hash() == net.discretize().content_hash()
    assert read_model_file(p)["extra"]["history"] == [0.5, 0.25]
    with pytest.raises(TypeError, match="cannot be stored"):
        save_model(net, tmp_path / "x.pt", bad=object())


def test_bad_model_files_raise(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file at all")
    with pytest.raises(ModelFileError):
        load_model(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ModelFileError, match="not a dlgn model file"):
        load_model(other)
    net = LogicNet(4, [8], n_classes=2, seed=0)
    good = save_model(net, tmp_path / "good.pt")
    data = good.read_bytes()
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        load_model(trunc)
    obj = torch.load(good, weights_only=True)
    obj["version"] = 99
    torch.save(obj, tmp_path / "v99.pt")
    with pytest.raises(ModelFileError, match="version 99"):
        load_model(tmp_path / "v99.pt")
    obj["version"] = 1
    obj["state_dict"].pop("layers.0.idx")
    torch.save(obj, tmp_path / "noidx.pt")
    with pytest.raises(ModelFileError, match="valid LogicNet"):
        load_model(tmp_path / "noidx.pt")
    pickled = tmp_path / "pickled.pt"
    torch.save({"format": "dlgn-model", "version": 1, "obj": GroupSum(2)}, pickled)
    with pytest.raises(ModelFileError):
        load_model(pickled)


def test_to_float64_keeps_connections_and_predictions():
    net = LogicNet(12, [24, 12], n_classes=3, seed=4, init="gaussian").eval()
    X = torch.from_numpy(_bits(30, 12, 1)).float()
    p = net.predict(X)
    net64 = net.to(torch.float64)
    assert net64.layers[0].idx.dtype == torch.long
    assert torch.equal(net64.predict(X.double()), p)


@pytest.mark.gpu
def test_cuda_net_matches_cpu_and_simulator():
    net = LogicNet(16, [40, 20], n_classes=2, init="gaussian", seed=9, backend="torch")
    X = torch.from_numpy(_bits(65, 16, 3)).float()
    soft_cpu = net(X)
    gpu = LogicNet.from_config(net.config).cuda()
    torch.testing.assert_close(gpu(X.cuda()).cpu(), soft_cpu, rtol=1e-5, atol=1e-5)
    gpu.eval()
    assert np.array_equal(gpu.predict(X.cuda()).cpu().numpy(),
                          predict(net.discretize(), X.numpy().astype(np.uint8)))
