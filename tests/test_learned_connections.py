"""Learned connections and hard-forward estimators: the candidate mixture against its
literal reference, discretized learned-connection nets equal to their eval forward on every
backend CI runs, exact resumption of a learned-connection run."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dlgn.compiler.simulate import scores
from dlgn.frontend.functional import select_candidates, select_candidates_literal
from dlgn.frontend.layer import ESTIMATORS, SELECTIONS, LogicLayer
from dlgn.frontend.net import LogicNet
from dlgn.frontend.train import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _bits(n, d, seed):
    return (np.random.default_rng(seed).random((n, d)) > 0.5).astype(np.uint8)


@pytest.mark.parametrize("dense", [False, True])
@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("B", [0, 1, 65])
def test_select_candidates_equals_literal_forward_and_gradients(hard, B, dense):
    g = torch.Generator().manual_seed(B + 10 * hard)
    n_in, R, K = 13, 21, 5
    cand = torch.randint(0, n_in, (R, K), generator=g)
    cand[0] = 3                                   # duplicate candidates in one row
    x1 = torch.rand(B, n_in, generator=g, dtype=torch.float64).requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    l1 = torch.randn(R, K, generator=g, dtype=torch.float64).requires_grad_()
    l2 = l1.detach().clone().requires_grad_()
    choice = l1.detach().argmax(1) if hard else None
    y1 = select_candidates(x1, cand, torch.softmax(l1, 1), choice, dense=dense)
    y2 = select_candidates_literal(x2, cand, torch.softmax(l2, 1), choice)
    assert y1.shape == (B, R)
    assert torch.allclose(y1, y2, atol=1e-12)
    if hard:          # the forward is the chosen candidate exactly
        assert torch.equal(y1, x1.detach()[:, cand.gather(1, choice[:, None]).squeeze(1)])
    w = torch.randn(B, R, generator=g, dtype=torch.float64)
    (y1 * w).sum().backward()
    (y2 * w).sum().backward()
    assert torch.allclose(x1.grad, x2.grad, atol=1e-12)
    assert torch.allclose(l1.grad, l2.grad, atol=1e-12)


def test_select_candidates_gradcheck():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 7, generator=g, dtype=torch.float64, requires_grad=True)
    cand = torch.randint(0, 7, (6, 3), generator=g)
    p = torch.softmax(torch.randn(6, 3, generator=g, dtype=torch.float64), 1).requires_grad_()
    for dense in (False, True):
        assert torch.autograd.gradcheck(lambda a, b, d=dense: select_candidates(a, cand, b, dense=d),
                                        (x, p))


def _learned_net(k, param="iwp", n_in=24, layers=(60, 45, 30), seed=0, **kw):
    net = LogicNet(n_in, list(layers), n_classes=3, arity=k, parametrization=param,
                   init="gaussian", tau=3.0, connections="learned", candidates=4, seed=seed,
                   **kw)
    with torch.no_grad():             # trained-looking logits: the arg-max is not candidate 0
        for layer in net.layers:
            layer.conn_weight.normal_(generator=torch.Generator().manual_seed(seed + k))
    return net


def _check_net_equals_netlist(net, n_in=24):
    nl = net.discretize()
    net.eval()
    for B in (0, 1, 63, 64, 65):
        X = _bits(B, n_in, B)
        with torch.no_grad():
            s = net(torch.from_numpy(X).float())
        assert torch.equal(s, torch.from_numpy(scores(nl, X)).float() / net.head.tau)
    return nl


@pytest.mark.parametrize("k,param", [(1, "iwp"), (2, "iwp"), (2, "op"), (3, "iwp"),
                                     (4, "iwp"), (5, "iwp"), (6, "iwp")])
def test_learned_net_lowers_to_its_eval_forward(k, param):
    net = _learned_net(k, param)
    nl = _check_net_equals_netlist(net)
    for layer in net.layers:
        w = layer.wires()
        assert not torch.equal(w, layer.cand[:, :, 0])      # the logits chose other wires
        chosen = layer.cand.gather(2, layer.conn_weight.argmax(2, keepdim=True)).squeeze(2)
        assert torch.equal(w, chosen)
    assert nl.meta["config"]["connections"] == "learned"
    assert nl.meta["config"]["candidates"] == 4


def test_learned_net_on_c_cuda_shim_and_verilog(tmp_path):
    from dlgn.compiler import optimize
    from dlgn.runtime import build
    net = _learned_net(3)
    nl = _check_net_equals_netlist(net)
    X = _bits(200, 24, 5)
    want = scores(nl, X)
    assert np.array_equal(build(nl, "c", cache_dir=tmp_path).scores(X), want)
    assert np.array_equal(build(optimize(nl), "c", cache_dir=tmp_path).scores(X), want)
    try:
        cuda = build(nl, "cuda", cpu_shim=True, cache_dir=tmp_path)
    except RuntimeError as e:                     # no host C++ compiler
        pytest.skip(str(e))
    assert np.array_equal(cuda.scores(X), want)
    import shutil
    if shutil.which("iverilog"):
        from dlgn.backends.verilog_sim import simulate_verilog
        from dlgn.compiler.simulate import predict
        got = simulate_verilog(optimize(nl), X[:64])
        assert got["passed"] and np.array_equal(got["class_id"], predict(nl, X[:64]))


@pytest.mark.parametrize("selection", SELECTIONS)
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_every_selection_and_estimator_trains_and_stays_exact(selection, estimator):
    g = torch.Generator().manual_seed(1)
    X = (torch.rand(256, 16, generator=g) > 0.5).float()
    y = ((X[:, 0] > 0) ^ (X[:, 5] > 0)).long()          # xor of two inputs
    net = LogicNet(16, [32, 32, 16], n_classes=2, tau=2.0, connections="learned",
                   candidates=6, selection=selection, estimator=estimator, seed=3)
    before = [w.detach().clone() for w in net.parameters()]
    hist = train(net, (X.numpy(), y.numpy(), X.numpy(), y.numpy()), epochs=3,
                 batch_size=64, lr=0.05, progress=False, eval_every=0)
    assert all(not torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert np.isfinite(hist["loss"]).all()
    _check_net_equals_netlist(net, 16)


def test_hard_estimator_forward_is_the_discrete_net():
    """estimator="hard" with hard selection: the training-mode forward on 0/1 bits is the
    discretized net's (up to gates whose omega is within rounding of 1/2)."""
    net = _learned_net(2, estimator="hard", selection="hard")
    X = torch.from_numpy(_bits(100, 24, 1)).float()
    net.train()
    with torch.no_grad():
        soft = net(X)
    net.eval()
    with torch.no_grad():
        hard = net(X)
    assert torch.equal(soft, hard)


def test_learned_layer_validation():
    with pytest.raises(ValueError, match="candidates"):
        LogicLayer(8, 4, connections="learned", candidates=-1)
    with pytest.raises(ValueError, match="conn_tau"):
        LogicLayer(8, 4, connections="learned", conn_tau=0.0)
    with pytest.raises(ValueError, match="selection"):
        LogicLayer(8, 4, connections="learned", selection="argmax")
    with pytest.raises(ValueError, match="estimator"):
        LogicLayer(8, 4, estimator="st")
    layer = LogicLayer(8, 4, connections="learned", candidates=3, seed=0)
    assert layer.cand.shape == (4, 2, 3) and layer.conn_weight.shape == (4, 2, 3)
    assert "idx" not in dict(layer.named_buffers())
    assert int(layer.cand.max()) < 8
    assert "candidates=3" in repr(layer)


def test_learned_run_resumes_bit_identically(tmp_path):
    g = torch.Generator().manual_seed(2)
    X = (torch.rand(128, 12, generator=g) > 0.5).float().numpy()
    y = (X[:, 1] > 0).astype(np.int64)
    data = (X, y, X, y)
    kw = dict(epochs=3, batch_size=32, lr=0.05, progress=False, eval_every=1, seed=7,
              schedule="cosine")

    def make(seed=0):
        return LogicNet(12, [24, 16], n_classes=2, tau=2.0, connections="learned",
                        candidates=5, selection="gumbel", estimator="gumbel", seed=seed)
    ref = make()
    h_ref = train(ref, data, checkpoint=tmp_path / "ref.pt", **kw)
    ck = tmp_path / "ck.pt"
    a = make()
    assert train(a, data, checkpoint=ck, max_steps=5, **kw)["stopped"]
    b = make(seed=99)
    h_b = train(b, data, checkpoint=ck, resume=True, **kw)
    sa, sb = ref.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert h_b["loss"] == h_ref["loss"] and h_b["discrete_acc"] == h_ref["discrete_acc"]
    assert np.array_equal(ref.discretize().fanin, b.discretize().fanin)


def test_learned_net_save_load_round_trip(tmp_path):
    from dlgn.frontend.checkpoint import load_model, save_model
    net = _learned_net(2)
    save_model(net, tmp_path / "m.pt")
    back = load_model(tmp_path / "m.pt")
    assert back.config == net.config
    a, b = net.discretize(), back.discretize()
    assert np.array_equal(a.fanin, b.fanin) and np.array_equal(a.table, b.table)


def test_learnable_thermometer_trains_and_lowers_exactly(tmp_path):
    """Learned thresholds move in training; the netlist's encoder metadata holds the moved
    thresholds, so raw features through ``encode`` + the simulator give the eval forward."""
    from dlgn.compiler.encoding import encode
    from dlgn.frontend.checkpoint import load_model, save_model
    from dlgn.frontend.encoders import ThermometerEncoder, encoder_from_dict
    g = np.random.default_rng(0)
    X = g.random((400, 6)).astype(np.float32) * np.array([1, 2, 5, 10, 1, 1], np.float32)
    y = ((X[:, 0] > 0.7) ^ (X[:, 2] > 1.0)).astype(np.int64)
    enc = ThermometerEncoder(3, learnable=True).fit(X)
    fixed = ThermometerEncoder(3).fit(X)
    assert torch.allclose(enc.thresholds, fixed.thresholds, rtol=0, atol=1e-12)
    assert enc.thresholds.dtype == torch.float64
    net = LogicNet(6, [48, 24], n_classes=2, tau=2.0, encoder=enc, connections="learned",
                   candidates=4, seed=0)
    t0 = enc.thresholds.detach().clone()
    train(net, (X, y, X, y), epochs=4, batch_size=50, lr=0.05, progress=False, eval_every=0)
    assert not torch.equal(enc.thresholds.detach(), t0)          # the thresholds learned
    nl = net.discretize()
    d = nl.meta["encoder"]
    assert d["learnable"] and np.array_equal(np.asarray(d["thresholds"]),
                                             enc.thresholds.detach().numpy())
    net.eval()
    with torch.no_grad():
        want = net(torch.from_numpy(X)).argmax(1).numpy()
    from dlgn.compiler.simulate import predict
    assert np.array_equal(predict(nl, encode(d, X)), want)
    # the model file keeps them; float32 conversion keeps them float64
    save_model(net, tmp_path / "m.pt")
    back = load_model(tmp_path / "m.pt")
    assert torch.equal(back.encoder.thresholds, enc.thresholds.detach())
    back.float()
    assert back.encoder.thresholds.dtype == torch.float64
    assert isinstance(back.encoder.position, torch.nn.Parameter)
    assert encoder_from_dict(d).learnable


@pytest.mark.parametrize("hard", [False, True])
def test_every_input_a_candidate(hard):
    """candidates=0: no candidate buffer, logits over all inputs; the same function as an
    explicit arange candidate list, and the net lowers to its eval forward."""
    g = torch.Generator().manual_seed(4)
    x1 = torch.rand(9, 11, generator=g, dtype=torch.float64).requires_grad_()
    x2 = x1.detach().clone().requires_grad_()
    l1 = torch.randn(5, 11, generator=g, dtype=torch.float64).requires_grad_()
    l2 = l1.detach().clone().requires_grad_()
    choice = l1.detach().argmax(1) if hard else None
    y1 = select_candidates(x1, None, torch.softmax(l1, 1), choice)
    y2 = select_candidates_literal(x2, torch.arange(11).expand(5, 11), torch.softmax(l2, 1),
                                   choice)
    assert torch.allclose(y1, y2, atol=1e-12)
    (y1 * y1).sum().backward()
    (y2 * y2).sum().backward()
    assert torch.allclose(x1.grad, x2.grad, atol=1e-12)
    assert torch.allclose(l1.grad, l2.grad, atol=1e-12)
    net = LogicNet(24, [40, 30], n_classes=3, arity=3, tau=3.0, connections="learned",
                   candidates=[0, 4], seed=2)
    assert "cand" not in dict(net.layers[0].named_buffers())
    assert net.layers[0].conn_weight.shape == (40, 3, 24)
    w = net.layers[0].wires()
    assert len(set(w.flatten().tolist())) > 12          # a random first wiring, not input 0
    X = torch.from_numpy(_bits(64, 24, 3)).float()
    y = torch.randint(0, 3, (64,), generator=g)
    train(net, (X.numpy(), y.numpy()), epochs=2, batch_size=16, lr=0.05, progress=False)
    _check_net_equals_netlist(net)
