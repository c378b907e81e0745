"""LUT-k mapping (dlgn.compiler.lut_map) and the ABC read-back flow (dlgn.tools.abc_map):
every mapped net computes what the original does, every LUT has at most k inputs, the depth
is never above the optimum over all cuts, the output is deterministic."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _compiler_util import netlists, same_function
from dlgn.compiler import GATE_TABLES, LutMapError, Netlist, NetlistError, lut_map, optimize, \
    random_layered, random_netlist
from dlgn.compiler.equiv import check_equivalent
from dlgn.compiler.passes.lut_map import _normalize
from dlgn.tools.abc import find_abc

needs_abc = pytest.mark.skipif(find_abc() is None, reason="no ABC binary (berkeley-abc)")


def optimal_depth(net: Netlist, k: int) -> int:
    """The least LUT-k depth over *all* k-feasible cuts of ``net`` (exhaustive enumeration,
    small nets only): the unit-delay optimum a depth-optimal mapper reaches."""
    first = net.first_gate
    cuts = {v: [frozenset([v])] for v in range(first)}
    depth = dict.fromkeys(range(first), 0)
    for g in range(net.n_gates):
        v = first + g
        sets = [frozenset()]
        for f in net.fanin[g, :int(net.arity[g])].tolist():
            sets = list({s | c for s in sets for c in cuts[f] if len(s | c) <= k})
        depth[v] = min(1 + max((depth[x] for x in c), default=0) for c in sets)
        cuts[v] = [frozenset([v])] + sets
    live = [int(o) for o in net.outputs if o >= first]
    return max((depth[o] for o in live), default=0)


def check_mapping(net: Netlist, k: int, **kw):
    res = lut_map(net, k, **kw)
    out = res.net
    out.check()
    assert out.n_gates == 0 or int(out.arity.max()) <= k
    assert out.n_inputs == net.n_inputs and out.n_outputs == net.n_outputs
    assert np.array_equal(out.group_sizes, net.group_sizes) and out.tau == net.tau
    assert out.meta == net.meta
    assert same_function(net, out)
    assert res.stats["luts"] == out.n_gates and res.stats["depth"] == out.depth()
    assert res.changed == any(res.changes.values())
    return res


# ---------------------------------------------------------------- properties
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(netlists(max_inputs=8, max_gates=40), st.integers(2, 6))
def test_mapping_preserves_the_function_with_luts_of_at_most_k_inputs(net, k):
    res = check_mapping(net, k)
    # never deeper than the optimum over all cuts of the subject graph it maps
    assert res.stats["depth"] <= optimal_depth(_normalize(net, k), k)
    again = lut_map(net, k)
    assert again.net.content_hash() == res.net.content_hash()   # deterministic


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(netlists(max_inputs=7, max_gates=30), st.integers(2, 6), st.integers(1, 4),
       st.integers(0, 2), st.integers(0, 2))
def test_every_setting_is_correct(net, k, cuts, area_rounds, exact_rounds):
    check_mapping(net, k, cuts=cuts, area_rounds=area_rounds, exact_rounds=exact_rounds)


def test_edge_cases():
    # empty net; outputs that are inputs or constants, inverted
    empty = Netlist(3, np.zeros((0, 1)), [], [], [0, 1, 2, 4], [True, False, True, False])
    res = check_mapping(empty, 6)
    assert res.net.n_gates == 0 and not res.changed
    none = Netlist(0, np.zeros((0, 1)), [], [], [], [])
    assert check_mapping(none, 4).net.n_gates == 0
    # duplicate fan-ins, constant fan-ins, one- and six-input gates, an inverted output
    net = Netlist(6, [[2, 2, 0, 0, 0, 0], [3, 1, 0, 0, 0, 0], [2, 3, 4, 5, 6, 7],
                      [8, 0, 0, 0, 0, 0], [9, 10, 11, 0, 0, 0]],
                  [2, 2, 6, 1, 3], [0b0110, 0b1000, 0x6996966996696996, 0b01, 0b10010110],
                  [12, 11, 8, 1, 3], [True, False, True, False, True], [2, 3], 2.5,
                  {"source": "test"}).check()
    for k in range(2, 7):
        check_mapping(net, k)


def test_a_wide_gate_is_one_lut_and_narrow_k_decomposes_it():
    rng = np.random.default_rng(0)
    t = int(rng.integers(0, 1 << 62)) | (3 << 62)
    net = Netlist(6, [[2, 3, 4, 5, 6, 7]], [6], [t], [8]).check()
    assert check_mapping(net, 6).net.n_gates == 1
    for k in (2, 3, 4, 5):
        assert check_mapping(net, k).net.n_gates > 1


def test_clusters_two_input_gates_into_luts():
    net = optimize(random_layered(0, n_inputs=16, layers=(64, 32, 16, 8), n_classes=2,
                                  tables=np.array([1, 2, 4, 6, 7, 8, 9, 11, 13, 14], np.uint64)))
    res = check_mapping(net, 6)
    assert res.stats["luts"] < 0.7 * net.n_gates and res.stats["depth"] < net.depth()
    assert res.stats["gates_before"] == net.n_gates and res.changes["absorbed"] > 0


def test_a_mapped_net_maps_to_itself():
    net = optimize(random_netlist(3, n_inputs=8, n_gates=60, max_arity=3))
    once = lut_map(net, 4).net
    twice = lut_map(once, 4)
    assert same_function(net, twice.net)
    assert twice.net.n_gates <= once.n_gates


def test_bad_arguments_raise_typed_errors():
    net = random_netlist(0)
    for kw in ({"k": 1}, {"k": 7}, {"k": "6"}, {"k": 4.0}, {"k": True}, {"cuts": 0},
               {"cuts": 65}, {"area_rounds": -1}, {"exact_rounds": 17}):
        with pytest.raises(LutMapError):
            lut_map(net, **kw)
    assert issubclass(LutMapError, NetlistError)
    with pytest.raises(TypeError):
        lut_map("not a netlist")


# ---------------------------------------------------------------- against ABC
def _random_2input(seed, n_inputs, layers):
    tabs = GATE_TABLES.astype(np.uint64)
    tabs = tabs[[t not in (0, 3, 5, 10, 12, 15) for t in tabs.tolist()]]
    return optimize(random_layered(seed, n_inputs=n_inputs, layers=layers, tables=tabs))


@needs_abc
def test_abc_proves_a_10k_gate_mapping():
    net = _random_2input(1, 256, (2600,) * 4)
    assert net.n_gates > 9000
    res = lut_map(net, 6)
    assert int(res.net.arity.max()) <= 6 and res.stats["luts"] < 0.6 * net.n_gates
    assert check_equivalent(net, res.net, method="abc").equivalent


@needs_abc
def test_abc_read_back_flow():
    from dlgn.tools.abc_map import ABC_FLOWS, abc_lut_map
    net = optimize(random_netlist(5, n_inputs=8, n_gates=80, max_arity=3, n_outputs=6))
    for flow in ("if", "gia_if", "dch_if_mfs2", "gia_if_area_satlut"):
        assert flow in ABC_FLOWS
        got = abc_lut_map(net, 4, flow)
        assert got.luts == got.net.n_gates and got.depth == got.net.depth()
        assert got.net.n_gates == 0 or int(got.net.arity.max()) <= 4
        assert np.array_equal(got.net.group_sizes, net.group_sizes) and got.net.meta == net.meta
        assert same_function(net, got.net)
    ours = lut_map(net, 4).stats
    assert ours["depth"] <= abc_lut_map(net, 4, "if").depth
    with pytest.raises(LutMapError):
        abc_lut_map(net, 9)
