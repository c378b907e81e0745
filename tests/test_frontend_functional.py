"""The reduced multilinear forward (our training path) against the literal formulas, and the
hard forward against the one-gate-at-a-time definition (gates.eval_table)."""
import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from dlgn.compiler.gates import GATE_TABLES, eval_table
from dlgn.frontend import functional as F
from dlgn.frontend.functional import logic_forward_hard, logic_forward_literal, logic_forward_torch
from dlgn.frontend.relax import gate_relaxations, op_literal_forward, op_soft_table, phi_fn


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _case(k, B=7, n_in=9, n_out=13, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(B, n_in, generator=g, dtype=dtype).requires_grad_()
    idx = torch.randint(0, n_in, (n_out, k), generator=g)
    idx[0] = idx[0, 0]  # a gate wired to the same input k times
    w = torch.rand(n_out, 1 << k, generator=g, dtype=dtype).requires_grad_()
    return x, idx, w


def _grads(fn, x, idx, w, seed=1):
    y = fn(x, idx, w)
    gy = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=y.dtype)
    gx, gw = torch.autograd.grad((y * gy).sum(), (x, w))
    return y.detach(), gx, gw


@pytest.mark.parametrize("k", range(1, 7))
def test_reduced_equals_literal_values_and_gradients(k):
    x, idx, w = _case(k, seed=k)
    y1, gx1, gw1 = _grads(logic_forward_torch, x, idx, w)
    y2, gx2, gw2 = _grads(logic_forward_literal, x, idx, w)
    torch.testing.assert_close(y1, y2, rtol=0, atol=1e-12)
    torch.testing.assert_close(gx1, gx2, rtol=0, atol=1e-12)
    torch.testing.assert_close(gw1, gw2, rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", range(3, 7))
def test_binary_inputs_take_the_vertex_path_with_the_literal_values_and_gradients(k, monkeypatch):
    x, idx, w = _case(k, B=9, seed=20 + k)
    xb = (x.detach() > 0.5).to(x.dtype).requires_grad_()
    ref = _grads(logic_forward_literal, xb, idx, w)
    interp = _grads(lambda a, i, b: F._GateK.apply(a.t(), i, b).t(), xb, idx, w)
    monkeypatch.setattr(F._GateK, "apply", None)     # the vertex path must not need it
    got = _grads(logic_forward_torch, xb, idx, w)
    for a, b, c in zip(got, ref, interp):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
        torch.testing.assert_close(a, c, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n", [0, 1, F._BINARY_PROBE, F._BINARY_PROBE + 1, 3 * F._BINARY_PROBE])
def test_is_binary_looks_at_every_entry(n):
    """The probe of the first entries only shortens the answer: a single non-0/1 entry
    anywhere (in the probe or past it, contiguous or not) still makes it False."""
    x = (torch.arange(n) % 3 == 0).float()
    assert F.is_binary(x) and F.is_binary(x.view(1, -1).t()) and F.is_binary(x[::2])
    for at in {0, n // 2, n - 1} if n else ():
        y = x.clone()
        y[at] = 0.5
        assert not F.is_binary(y) and not F.is_binary(y.view(1, -1).t())
        assert not F.is_binary(torch.stack([x, y], 1)) and not F.is_binary(y[at % 2::2][None])


@settings(max_examples=30, deadline=None)
@given(st.integers(3, 6), st.sampled_from([0, 1, 63, 64, 65]), st.integers(1, 12),
       st.integers(1, 10), st.integers(0, 2 ** 31))
def test_property_vertex_path_equals_interpolation(k, B, n_in, n_out, seed):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(B, n_in, generator=g) > 0.5).float().requires_grad_()
    idx = torch.randint(0, n_in, (n_out, k), generator=g)
    w = torch.rand(n_out, 1 << k, generator=g).requires_grad_()
    assert F.is_binary(x) and (B == 0 or not F.is_binary(x.detach() * 0.5 + 0.25))
    a = _grads(logic_forward_torch, x, idx, w)
    b = _grads(lambda p, i, q: F._GateK.apply(p.t(), i, q).t(), x, idx, w)
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v, rtol=1e-5, atol=1e-5)   # float32 sums


@pytest.mark.parametrize("B", [0, 1, 63, 64, 65])
@pytest.mark.parametrize("k", range(3, 7))
def test_interpolation_backward_equals_literal_at_every_batch_size(k, B):
    """The relaxed k-input path (_GateK: row-by-row input gradients, the first level and
    omega's gradient as batched products) against the literal formula, duplicate fan-ins
    included, at batch sizes 0, 1 (every level's differences then have one column, as the
    first level's do) and around 64."""
    x, idx, w = _case(k, B=B, seed=40 + k + B)
    assert B == 0 or not F.is_binary(x)
    got = _grads(logic_forward_torch, x, idx, w)
    for a, b in zip(got, _grads(logic_forward_literal, x, idx, w)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 6])
def test_reduced_gradcheck(k):
    x, idx, w = _case(k, B=3, n_in=5, n_out=4, seed=10 + k)
    assert torch.autograd.gradcheck(lambda a, b: logic_forward_torch(a, idx, b), (x, w))


def test_literal_formula_at_the_corners_is_the_truth_table():
    # the reference itself: on 0/1 inputs the multilinear form reads entry u (x_0 = MSB)
    k = 3
    idx = torch.tensor([[0, 1, 2]])
    w = torch.rand(1, 8, dtype=torch.float64)
    for bits in itertools.product((0, 1), repeat=k):
        x = torch.tensor([bits], dtype=torch.float64)
        u = bits[0] * 4 + bits[1] * 2 + bits[2]
        assert logic_forward_literal(x, idx, w).item() == pytest.approx(w[0, u].item())
        assert logic_forward_torch(x, idx, w).item() == pytest.approx(w[0, u].item())


def test_op_reduced_equals_literal_16_term_sum():
    x, idx, _ = _case(2, B=11, seed=5)
    z = torch.randn(idx.shape[0], 16, dtype=torch.float64, requires_grad=True)
    gy = torch.randn(11, idx.shape[0], dtype=torch.float64)
    y1 = logic_forward_torch(x, idx, op_soft_table(z))
    y2 = op_literal_forward(x, idx, z)
    torch.testing.assert_close(y1, y2, rtol=0, atol=1e-12)
    g1 = torch.autograd.grad((y1 * gy).sum(), (x, z))
    g2 = torch.autograd.grad((y2 * gy).sum(), (x, z))
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_relaxations_agree_with_tables_at_corners():
    for a, b in itertools.product((0.0, 1.0), repeat=2):
        g = gate_relaxations(torch.tensor(a), torch.tensor(b))
        u = int(2 * a + b)
        assert g.tolist() == [float((int(t) >> u) & 1) for t in GATE_TABLES]
    z = torch.full((16, 16), -50.0)
    z[range(16), range(16)] = 50.0  # gate i selected
    T = op_soft_table(z)
    expect = torch.tensor([[(int(t) >> u) & 1 for u in range(4)] for t in GATE_TABLES])
    torch.testing.assert_close(T, expect.float(), atol=1e-6, rtol=0)


def test_broken_reduced_form_is_caught(monkeypatch):
    """Negative test: a reduced form that swaps the roles of a and b must fail the check."""
    orig = F.reduced_coeffs
    x, idx, w = _case(2, seed=3)
    torch.testing.assert_close(logic_forward_torch(x, idx, w), logic_forward_literal(x, idx, w))

    def swapped(omega):
        return orig(omega)[:, [0, 2, 1, 3]]
    monkeypatch.setattr(F, "reduced_coeffs", swapped)
    y1 = logic_forward_torch(x, idx, w)
    y2 = logic_forward_literal(x, idx, w)
    assert not torch.allclose(y1, y2, atol=1e-6)


@pytest.mark.parametrize("k", range(1, 7))
def test_hard_forward_is_the_truth_table_lookup(k):
    rng = np.random.default_rng(k)
    n_in, n_out, B = 8, 17, 33
    idx = rng.integers(0, n_in, (n_out, k))
    tabs = rng.integers(0, 2 ** 63, n_out, dtype=np.uint64) * np.uint64(2) + \
        rng.integers(0, 2, n_out, dtype=np.uint64)  # bit 63 used too
    tabs &= np.uint64((1 << (1 << k)) - 1)
    xb = rng.integers(0, 2, (B, n_in))
    t_long = torch.from_numpy(tabs.view(np.int64).copy())
    for xt in (torch.tensor(xb, dtype=torch.float32), torch.tensor(xb, dtype=torch.bool),
               torch.tensor(xb, dtype=torch.uint8)):
        y = logic_forward_hard(xt, torch.from_numpy(idx), t_long)
        ref = np.array([[eval_table(int(tabs[j]), k, list(xb[s, idx[j]])) for j in range(n_out)]
                        for s in range(B)])
        assert np.array_equal(y.numpy(), ref)
        assert y.dtype.is_floating_point


def test_hard_forward_thresholds_floats_at_half():
    idx = torch.tensor([[0]])
    t = torch.tensor([0b10])  # identity
    x = torch.tensor([[0.49], [0.5], [0.9], [0.0]])
    assert logic_forward_hard(x, idx, t).flatten().tolist() == [0.0, 1.0, 1.0, 0.0]


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(0, 9), st.integers(1, 12), st.integers(1, 10),
       st.integers(0, 2 ** 31))
def test_property_reduced_equals_literal(k, B, n_in, n_out, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(B, n_in, generator=g, dtype=torch.float64)
    idx = torch.randint(0, n_in, (n_out, k), generator=g)
    w = phi_fn("sin")(torch.randn(n_out, 1 << k, generator=g, dtype=torch.float64))
    torch.testing.assert_close(logic_forward_torch(x, idx, w), logic_forward_literal(x, idx, w),
                               rtol=0, atol=1e-12)


def test_float32_and_chained_layers_backward():
    # a chain: the second layer receives a transposed (non-contiguous) view
    x, idx1, w1 = _case(2, B=5, n_in=6, n_out=8, seed=2, dtype=torch.float32)
    idx2 = torch.randint(0, 8, (4, 2))
    w2 = torch.rand(4, 4, requires_grad=True)
    outs = []
    for fn in (logic_forward_torch, logic_forward_literal):
        y = fn(fn(x, idx1, w1), idx2, w2)
        outs.append((y,) + torch.autograd.grad(y.sum(), (x, w1, w2)))
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_bad_arguments_raise():
    x = torch.rand(3, 4)
    with pytest.raises(ValueError, match="omega"):
        logic_forward_torch(x, torch.zeros(2, 2, dtype=torch.long), torch.rand(2, 8))
    with pytest.raises(ValueError, match="long"):
        logic_forward_torch(x, torch.zeros(2, 2, dtype=torch.int32), torch.rand(2, 4))
    with pytest.raises(ValueError, match="2-D"):
        logic_forward_torch(x[0], torch.zeros(2, 2, dtype=torch.long), torch.rand(2, 4))
    with pytest.raises(ValueError, match="arity"):
        logic_forward_torch(x, torch.zeros(2, 7, dtype=torch.long), torch.rand(2, 128))
    with pytest.raises(ValueError, match="tables"):
        logic_forward_hard(x, torch.zeros(2, 2, dtype=torch.long), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="OP logits"):
        op_soft_table(torch.rand(3, 4))
    with pytest.raises(ValueError, match="phi"):
        phi_fn("tanh")
