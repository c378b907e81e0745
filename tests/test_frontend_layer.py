"""LogicLayer: initialization, discretization, eval-mode lookup, connections, errors."""
import importlib
import io

import numpy as np
import pytest
import torch

from dlgn.compiler.gates import GATE_TABLES, eval_table, passthrough_table
from dlgn.frontend.functional import logic_forward_literal
from dlgn.frontend.layer import LogicLayer, make_connections
from dlgn.frontend.relax import op_literal_forward


pytestmark = pytest.mark.usefixtures("one_torch_thread")

CASES = [("iwp", k) for k in range(1, 7)] + [("op", 2)]


@pytest.mark.parametrize("phi", ["sigmoid", "sin"])
@pytest.mark.parametrize("param,k", CASES)
def test_residual_init_discretizes_to_pass_through(param, k, phi):
    layer = LogicLayer(40, 64, k, param, "residual", phi=phi, seed=k)
    assert layer.tables().dtype == np.uint64
    assert (layer.tables() == np.uint64(passthrough_table(k, 0))).all()
    layer.eval()
    x = (torch.rand(10, 40) > 0.5).float()
    assert torch.equal(layer(x), x[:, layer.idx[:, 0]])


def test_residual_init_statistics_and_gaussian_init():
    layer = LogicLayer(10, 4000, 2, "iwp", "residual", phi="sigmoid", seed=0)
    sign = torch.tensor([-1.0, -1.0, 1.0, 1.0])  # pass-through A = 0b1100
    noise = layer.weight.detach() - 3.0 * sign
    assert abs(noise.mean().item()) < 0.01 and abs(noise.std().item() - 0.25) < 0.01
    layer = LogicLayer(10, 4000, 3, "iwp", "residual", phi="sin", seed=0)
    assert abs((layer.weight.detach().abs().mean() - 1.2).item()) < 0.05
    op = LogicLayer(10, 50, 2, "op", "residual", seed=0)
    assert (op.weight.argmax(1) == 3).all() and op.weight.max().item() == 5.0
    assert op.weight.sum().item() == 5.0 * 50
    g = LogicLayer(10, 4000, 2, "iwp", "gaussian", seed=0).weight.detach()
    assert abs(g.mean().item()) < 0.05 and abs(g.std().item() - 1) < 0.05
    g = LogicLayer(10, 4000, 2, "op", "gaussian", seed=0).weight.detach()
    assert g.shape == (4000, 16) and abs(g.std().item() - 1) < 0.05


@pytest.mark.parametrize("phi", ["sigmoid", "sin"])
@pytest.mark.parametrize("param,k", CASES)
def test_eval_is_truth_table_lookup_and_train_is_relaxed(param, k, phi):
    layer = LogicLayer(12, 30, k, param, "gaussian", phi=phi, seed=100 + k)
    tabs, fan = layer.tables(), layer.fanin()
    assert fan.shape == (30, k) and fan.dtype == np.int64
    xb = (torch.rand(21, 12, generator=torch.Generator().manual_seed(k)) > 0.5)
    layer.eval()
    y = layer(xb.float())
    ref = [[eval_table(int(tabs[j]), k, xb[s, fan[j]].int().tolist()) for j in range(30)]
           for s in range(21)]
    assert torch.equal(y, torch.tensor(ref, dtype=torch.float32))
    assert torch.equal(layer(xb), y)  # bool input too
    # tables() follows the parametrization's rule
    w = layer.weight.detach()
    if param == "iwp":
        om = torch.sigmoid(w) if phi == "sigmoid" else 0.5 + 0.5 * torch.sin(w)
        bits = (om >= 0.5).numpy()
        expect = [sum(int(b) << u for u, b in enumerate(row)) for row in bits]
    else:
        expect = [int(GATE_TABLES[i]) for i in w.argmax(1).tolist()]
    assert tabs.tolist() == expect
    layer.train()
    x = torch.rand(5, 12, dtype=torch.float64)
    layer64 = layer.double()
    ref = op_literal_forward(x, layer64.idx, layer64.weight) if param == "op" else \
        logic_forward_literal(x, layer64.idx, layer64.omega())
    torch.testing.assert_close(layer64(x), ref, rtol=0, atol=1e-12)


def test_discretized_table_of_a_flipped_gate_is_caught():
    """Negative test: flipping one weight's sign changes tables() and the eval output."""
    layer = LogicLayer(6, 8, 2, "iwp", seed=0)
    before = layer.tables().copy()
    with torch.no_grad():
        layer.weight[3, 0] = -layer.weight[3, 0]
    after = layer.tables()
    assert (before != after).sum() == 1 and before[3] ^ after[3] == 1


def test_six_input_table_uses_bit_63():
    layer = LogicLayer(8, 3, 6, "iwp", "residual", seed=0)
    with torch.no_grad():
        layer.weight.fill_(-3.0)
        layer.weight[0, 63] = 3.0  # AND of 6 inputs
        layer.weight[1] = 3.0
    t = layer.tables()
    assert int(t[0]) == 1 << 63 and int(t[1]) == (1 << 64) - 1 and int(t[2]) == 0
    layer.eval()
    x = torch.ones(2, 8)
    x[1, layer.idx[0, 2]] = 0
    y = layer(x)
    assert y[:, 0].tolist() == [1.0, 0.0] and y[:, 1].tolist() == [1.0, 1.0]


def test_connections_survive_state_dict_and_to():
    a = LogicLayer(50, 40, 3, seed=1)
    b = LogicLayer(50, 40, 3, seed=2)
    assert not torch.equal(a.idx, b.idx)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b.load_state_dict(torch.load(buf, weights_only=True))
    assert torch.equal(a.idx, b.idx) and torch.equal(a.weight, b.weight)
    assert "idx" in a.state_dict()
    c = a.to(torch.float64)
    assert c.idx.dtype == torch.long and c.weight.dtype == torch.float64
    assert torch.equal(c.idx, b.idx)
    c = c.to("cpu")
    assert np.array_equal(c.tables(), b.tables())


def test_seeds_are_deterministic():
    a, b = LogicLayer(30, 20, 2, seed=7), LogicLayer(30, 20, 2, seed=7)
    assert torch.equal(a.idx, b.idx) and torch.equal(a.weight, b.weight)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(LogicLayer(30, 20, generator=g1).idx, LogicLayer(30, 20, generator=g2).idx)


@pytest.mark.parametrize("n_in,n_out,k", [(5, 10, 2), (6, 15, 2), (784, 8000, 2), (8, 56, 3),
                                          (100, 3000, 6), (7, 7, 1), (6, 1, 6)])
def test_unique_connections_are_unique(n_in, n_out, k):
    idx = make_connections(n_in, n_out, k, "unique", torch.Generator().manual_seed(0))
    assert idx.shape == (n_out, k) and idx.dtype == torch.long
    assert idx.min() >= 0 and idx.max() < n_in
    srt = idx.sort(1).values
    assert (srt[:, 1:] != srt[:, :-1]).all()
    assert len({tuple(r) for r in srt.tolist()}) == n_out


def test_random_connections_spread_over_inputs():
    idx = make_connections(100, 1000, 2, "random", torch.Generator().manual_seed(0))
    counts = torch.bincount(idx.flatten(), minlength=100)
    assert counts.min() == 20 and counts.max() == 20  # every input used equally often


def test_impossible_requests_raise():
    with pytest.raises(ValueError, match="C\\(5,2\\) = 10"):
        LogicLayer(5, 11, 2, connections="unique")
    with pytest.raises(ValueError, match="at least arity"):
        LogicLayer(2, 1, 3, connections="unique")
    with pytest.raises(ValueError, match="only supported for arity 2"):
        LogicLayer(5, 4, 3, "op")
    with pytest.raises(ValueError, match="arity"):
        LogicLayer(5, 4, 7)
    with pytest.raises(ValueError, match="parametrization"):
        LogicLayer(5, 4, 2, "xyz")
    with pytest.raises(ValueError, match="init"):
        LogicLayer(5, 4, 2, init="zeros")
    with pytest.raises(ValueError, match="connections"):
        LogicLayer(5, 4, 2, connections="dense")
    with pytest.raises(ValueError, match="phi"):
        LogicLayer(5, 4, 2, phi="relu")
    with pytest.raises(ValueError, match="backend"):
        LogicLayer(5, 4, 2, backend="cuda")
    with pytest.raises(ValueError, match=">= 1"):
        LogicLayer(0, 4)
    layer = LogicLayer(5, 4)
    with pytest.raises(ValueError, match="input \\[batch, 5\\]"):
        layer(torch.rand(3, 6))
    with pytest.raises(TypeError):
        layer(np.zeros((3, 5)))
    with pytest.raises(TypeError, match="floating"):
        layer(torch.zeros(3, 5, dtype=torch.long))


def test_backend_selection(monkeypatch):
    layer = LogicLayer(6, 4, 2, backend="auto", seed=0)
    x = torch.rand(3, 6)
    torch.testing.assert_close(layer(x), logic_forward_literal(x, layer.idx, layer.omega()))
    real_import = importlib.import_module

    def no_triton(name, *a):
        if name == "dlgn.frontend.triton_layer":
            raise ImportError("No module named 'triton'")
        return real_import(name, *a)
    monkeypatch.setattr(importlib, "import_module", no_triton)
    layer.backend = "triton"
    with pytest.raises(ImportError, match="backend='triton' needs triton"):
        layer(x)
