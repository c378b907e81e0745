"""The learned head (``head_weights`` / ``GroupSum(max_weight=W)``): an integer weight in
0..W per output bit, trained straight-through, lowered as repeated outputs; the netlist's
scores and every backend's predictions equal the eval forward, weight 0 drops an output,
and the model file, the CLI and the conv net carry it."""
import json

import numpy as np
import pytest
import torch

from dlgn.compiler.head import lower_head
from dlgn.compiler.pipeline import optimize
from dlgn.compiler.simulate import predict, scores, simulate
from dlgn.frontend.checkpoint import load_model, save_model
from dlgn.frontend.head import MAX_HEAD_WEIGHT, GroupSum
from dlgn.frontend.net import LogicNet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _bits(n, d, seed):
    return (np.random.default_rng(seed).random((n, d)) > 0.5).astype(np.uint8)


def _net(W=3, seed=0, **kw):
    cfg = dict(layers=[60, 45, 30], n_classes=3, arity=2, init="gaussian", tau=3.0,
               head_weights=W, seed=seed)
    cfg.update(kw)
    net = LogicNet(24, **cfg)
    with torch.no_grad():  # weights spread over -1 .. W+1: every integer, clamped ends too
        net.head.score_weight.copy_(torch.from_numpy(
            np.random.default_rng(seed).uniform(-1.0, W + 1.0, 30)))
    return net.eval()


def test_lowered_weights_equal_the_eval_forward():
    net = _net()
    w = net.head.integer_weights()
    assert set(w) <= set(range(4)) and 0 in w and 3 in w
    nl = net.discretize()
    # an output of weight k is listed k times, weight 0 not at all
    assert list(nl.group_sizes) == [sum(w[c * 10:(c + 1) * 10]) for c in range(3)]
    assert nl.n_outputs == sum(w) and nl.meta["config"]["head_weights"] == 3
    # scale-free scores: the netlist's tau is tau times the mean weight
    assert nl.tau == pytest.approx(3.0 * sum(w) / 30) and nl.tau == net.head.effective_tau
    json.dumps(nl.meta)
    for B in (0, 1, 63, 64, 65):
        X = _bits(B, 24, B)
        with torch.no_grad():
            s = net(torch.from_numpy(X).float())
            plain = net.layers[2](net.layers[1](net.layers[0](torch.from_numpy(X).float())))
        want = (plain.numpy() * np.array(w)).reshape(B, 3, 10).sum(-1)
        assert np.array_equal(np.rint(s.numpy() * nl.tau), want)
        np.testing.assert_allclose(s.numpy(), want / nl.tau, rtol=1e-6)
        assert np.array_equal(scores(nl, X), want)
        assert np.array_equal(s.argmax(1).numpy(), predict(nl, X))
        assert np.array_equal(net.predict(X).numpy(), predict(nl, X))
    # the lowered head (both styles) and the optimized netlist keep the weighted counts
    X = _bits(300, 24, 7)
    want = scores(nl, X)
    opt = optimize(nl)
    assert np.array_equal(scores(opt, X), want)
    for style in ("adders", "lut6"):
        headless, lay = lower_head(opt, style=style)
        out = simulate(headless, X).astype(np.int64)
        for c in range(3):
            o, n = lay.count_offset[c], lay.count_bits[c]
            counts = (out[:, o:o + n] << np.arange(n)).sum(1)
            assert np.array_equal(counts, want[:, c])
        idx = (out[:, lay.idx_offset:lay.idx_offset + lay.idx_bits]
               << np.arange(lay.idx_bits)).sum(1)
        assert np.array_equal(idx, predict(nl, X))


def test_a_class_of_weight_zero_and_all_zero_weights():
    net = _net(W=2, seed=3)
    with torch.no_grad():
        net.head.score_weight[10:20] = -0.4        # class 1 has no output left
    nl = net.discretize()
    assert nl.group_sizes[1] == 0
    X = _bits(65, 24, 1)
    assert (scores(nl, X)[:, 1] == 0).all()
    with torch.no_grad():
        assert np.array_equal(net(torch.from_numpy(X).float()).argmax(1).numpy(),
                              predict(nl, X))
        net.head.score_weight.fill_(0.2)          # every weight rounds to 0
    nl = net.discretize()
    assert nl.n_outputs == 0 and list(nl.group_sizes) == [0, 0, 0] and nl.tau == 3.0
    with torch.no_grad():
        assert (net(torch.from_numpy(X).float()) == 0).all()
    assert (predict(nl, X) == 0).all() and (net.predict(X).numpy() == 0).all()


def test_c_build_of_a_weighted_head(tmp_path):
    from dlgn.runtime.c_build import build_c
    net = _net(W=3, seed=5)
    nl = optimize(net.discretize())
    X = _bits(130, 24, 2)
    m = build_c(nl, cache_dir=tmp_path)
    for n in (0, 1, 63, 64, 65, 130):
        assert np.array_equal(m.predict(X[:n]), predict(nl, X[:n]))
        assert np.array_equal(m.scores(X[:n]), scores(nl, X[:n]))


def test_straight_through_training_moves_the_weights():
    torch.manual_seed(0)
    net = LogicNet(24, [60, 30], n_classes=3, head_weights=3, seed=1, estimator="hard")
    assert torch.equal(net.head.score_weight, torch.ones(30))  # starts as the plain GroupSum
    X = torch.from_numpy(_bits(64, 24, 0)).float()
    y = torch.from_numpy(np.arange(64) % 3)
    opt = torch.optim.Adam(net.parameters(), lr=0.2)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(net(X), y)
        opt.zero_grad()
        loss.backward()
        assert net.head.score_weight.grad is not None
        assert net.head.score_weight.grad.abs().sum() > 0  # the rounding passes the gradient
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert net.head.integer_weights() != [1] * 30
    # train mode scores use the same rounded weights (straight-through value)
    net.train()
    with torch.no_grad():
        hard_train = net(X)
    net.eval()
    with torch.no_grad():
        assert torch.allclose(hard_train, net(X))


def test_model_file_round_trip(tmp_path):
    net = _net(W=4, seed=2)
    save_model(net, tmp_path / "m.pt")
    back = load_model(tmp_path / "m.pt")
    assert back.config["head_weights"] == 4 and back.head.max_weight == 4
    assert back.head.integer_weights() == net.head.integer_weights()
    X = _bits(65, 24, 3)
    assert np.array_equal(back.predict(X).numpy(), net.predict(X).numpy())
    # a plain net records no head_weights (older files and configs are unchanged)
    plain = LogicNet(24, [30], n_classes=3, seed=0)
    assert "head_weights" not in plain.config and not list(plain.head.parameters())


@pytest.mark.parametrize("bad", [dict(max_weight=-1), dict(max_weight=MAX_HEAD_WEIGHT + 1),
                                 dict(max_weight=2.0), dict(max_weight=True),
                                 dict(max_weight=2), dict(max_weight=2, width=31),
                                 dict(max_weight=2, width=0)])
def test_bad_heads_raise(bad):
    with pytest.raises(ValueError):
        GroupSum(3, **bad)


def test_a_learned_head_checks_its_width():
    h = GroupSum(3, 1.0, max_weight=2, width=30)
    with pytest.raises(ValueError, match="30 outputs"):
        h(torch.zeros(2, 33))
    assert "max_weight=2" in repr(h)


def test_conv_net_with_a_learned_head():
    from dlgn.compiler.shared import simulate_shared
    from dlgn.frontend.convnet import ConvLogicNet
    from dlgn.frontend.encoders import ThermometerEncoder
    X = np.random.default_rng(0).random((40, 100)).astype(np.float32)
    enc = ThermometerEncoder(2).fit(X)
    net = ConvLogicNet(100, image=(1, 10, 10), conv=[dict(channels=4, padding=1, pool=2)],
                       layers=[30], n_classes=3, encoder=enc, seed=0, init="gaussian",
                       head_weights=2)
    with torch.no_grad():
        net.head.score_weight.copy_(torch.from_numpy(
            np.random.default_rng(1).uniform(-1, 3, 30)))
    net.eval()
    assert net.config["head_weights"] == 2
    bits = net.encode(torch.from_numpy(X)).numpy().astype(np.uint8)
    p = net.predict(X).numpy()
    sn = net.discretize_shared()
    assert np.array_equal(predict(net.discretize(), bits), p)
    assert np.array_equal(predict(sn.expand(), bits), p)
    assert sn.tail.n_outputs == sum(net.head.integer_weights())
    assert simulate_shared(sn, bits).shape == (40, sn.tail.n_outputs)


def test_train_cli_head_weights(tmp_path, capsys, caplog):
    import logging
    from dlgn.cli import main
    out = tmp_path / "m.pt"
    caplog.set_level(logging.INFO, logger="dlgn")
    rc = main(["train", "--dataset", "monk1", "--layers", "2x60", "--epochs", "2",
               "--head-weights", "3", "--no-progress", "-o", str(out)])
    assert rc in (0, None)
    net = load_model(out)
    assert net.config["head_weights"] == 3 and net.head.max_weight == 3
    assert "head weights 0..3" in caplog.text
    assert main(["train", "--dataset", "monk1", "--head-weights", "16", "-o", str(out)]) == 2
    assert "must be 0..15" in capsys.readouterr().err


def test_scaling_every_weight_changes_no_score():
    """Doubling every weight is no free temperature: the scores stay as they are."""
    net = _net(W=4, seed=4)
    with torch.no_grad():
        net.head.score_weight.copy_(torch.from_numpy(
            np.random.default_rng(4).integers(0, 3, 30).astype(np.float32)))
        X = torch.from_numpy(_bits(65, 24, 5)).float()
        before = net(X)
        net.head.score_weight.mul_(2)
        assert torch.allclose(net(X), before)
