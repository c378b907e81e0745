"""The reference simulator against the one-gate-at-a-time definition (gates.eval_table)."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dlgn.compiler import lower_layers, pack_bits, predict, random_netlist, scores, \
    simulate, unpack_bits
from dlgn.compiler.gates import GATE_COEFFS, GATE_NAMES, GATE_TABLES, difflogic_to_table, \
    eval_table, passthrough_table, table_of, table_to_difflogic
from dlgn.compiler.simulate import check_bits

from _compiler_util import all_inputs, scalar_eval


def test_two_input_tables_follow_the_convention():
    assert (table_of("AND"), table_of("OR"), table_of("XOR")) == (8, 14, 6)
    assert (table_of("A"), table_of("B"), table_of("NOT_A")) == (12, 10, 3)
    assert (table_of("FALSE"), table_of("TRUE")) == (0, 15)
    for op in range(16):
        t = difflogic_to_table(op)
        assert table_to_difflogic(t) == op
        # difflogic id = 8*T00 + 4*T01 + 2*T10 + T11
        bits = [(t >> u) & 1 for u in range(4)]
        assert op == 8 * bits[0] + 4 * bits[1] + 2 * bits[2] + bits[3]
        for a, b in itertools.product((0, 1), repeat=2):
            c0, c1, c2, c3 = GATE_COEFFS[op]
            assert c0 + c1 * a + c2 * b + c3 * a * b == eval_table(t, 2, [a, b]), GATE_NAMES[op]
    assert GATE_TABLES[1] == 8 and GATE_NAMES[6] == "XOR"
    with pytest.raises(ValueError):
        table_of("MAYBE")


@pytest.mark.parametrize("k", range(1, 7))
def test_passthrough_table_reads_x0(k):
    t = passthrough_table(k)
    for u in range(1 << k):
        xs = [(u >> (k - 1 - i)) & 1 for i in range(k)]
        assert eval_table(t, k, xs) == xs[0]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 6), n_in=st.integers(0, 6),
       n_gates=st.integers(0, 25))
def test_simulate_equals_scalar_definition(seed, k, n_in, n_gates):
    net = random_netlist(seed, n_inputs=n_in, n_gates=n_gates, max_arity=k, min_arity=0,
                         n_outputs=5, n_classes=2)
    X = all_inputs(n_in)
    got = simulate(net, X)
    for r, x in enumerate(X):
        np.testing.assert_array_equal(got[r], scalar_eval(net, x))


@pytest.mark.parametrize("n", [0, 1, 63, 64, 65, 200])
def test_pack_unpack_round_trip(n):
    rng = np.random.default_rng(n)
    X = rng.random((n, 37)) < 0.5
    words = pack_bits(X)
    assert words.shape == (37, (n + 63) // 64) and words.dtype == np.uint64
    np.testing.assert_array_equal(unpack_bits(words, n), X)
    if n:
        assert int(words[3, 0]) & 1 == int(X[0, 3])


@pytest.mark.parametrize("n", [0, 1, 63, 64, 65])
def test_scores_and_predict_first_maximum(n):
    net = random_netlist(3, n_inputs=6, n_gates=40, max_arity=3, n_outputs=9, n_classes=3)
    X = (np.random.default_rng(1).random((n, 6)) < 0.5).astype(np.uint8)
    bits = simulate(net, X)
    s = scores(net, X)
    assert s.shape == (n, 3) and s.dtype == np.int32
    bounds = np.concatenate([[0], np.cumsum(net.group_sizes)])
    for c in range(3):
        np.testing.assert_array_equal(s[:, c], bits[:, bounds[c]:bounds[c + 1]].sum(1))
    p = predict(net, X)
    for r in range(n):
        assert p[r] == min(np.flatnonzero(s[r] == s[r].max()))


def test_lowering_layers_and_checks():
    # 3 inputs -> layer of 2 gates -> layer of 2 gates (AND, XOR)
    l1 = (np.array([[0, 1], [1, 2]]), np.array([table_of("OR"), table_of("AND")]))
    l2 = (np.array([[0, 1], [1, 1]]), np.array([table_of("XOR"), table_of("A")]))
    net = lower_layers(3, [l1, l2], group_sizes=[1, 1], tau=2.0)
    assert net.n_gates == 4 and list(net.outputs) == [7, 8]
    X = np.array(list(itertools.product((0, 1), repeat=3)), dtype=np.uint8)
    y = simulate(net, X)
    for r, (a, b, c) in enumerate(X):
        g0, g1 = a | b, b & c
        assert list(y[r]) == [bool(g0 ^ g1), bool(g1)]
    assert net.depth() == 2
    with pytest.raises(ValueError, match="reads index"):
        lower_layers(3, [(np.array([[0, 3]]), np.array([8]))])


def test_bad_input_bits_raise_clear_errors():
    net = random_netlist(0, n_inputs=4, n_gates=5)
    with pytest.raises(ValueError, match="4 input bits"):
        simulate(net, np.zeros((2, 5), np.uint8))
    with pytest.raises(TypeError, match="dtype"):
        simulate(net, np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="0 or 1"):
        simulate(net, np.full((2, 4), 2, np.uint8))
    with pytest.raises(ValueError, match="2-D"):
        simulate(net, np.zeros(4, np.uint8))
    with pytest.raises(TypeError):
        check_bits([[0, 1, 0, 1]], 4)
