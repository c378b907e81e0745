"""Every pass and the pipeline preserve the function, keep check() true, fire where they
should and do nothing where they must not."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from _compiler_util import all_inputs, netlists, same_function, scalar_eval
from dlgn.compiler import GATE_TABLES, Netlist, optimize, optimize_with_report, random_layered, \
    random_netlist, simulate
from dlgn.compiler.gates import table_of
from dlgn.compiler.passes import PASSES, absorb_inverters, bypass_wires, constant_propagation, \
    eliminate_dead, fold, merge_duplicate_fanins, renumber_levels, structural_hashing, \
    support_reduction
from dlgn.compiler.pipeline import DEFAULT_PASSES

AND, OR, XOR, A, B = (table_of(n) for n in ("AND", "OR", "XOR", "A", "B"))


def net_of(n_inputs, gates, outputs, invert=None, K=None):
    """gates: list of (fanins, table)."""
    K = K or max([len(f) for f, _ in gates] + [1])
    fan = np.zeros((len(gates), K), np.int64)
    for g, (f, _) in enumerate(gates):
        fan[g, :len(f)] = f
    return Netlist(n_inputs, fan, [len(f) for f, _ in gates], [t for _, t in gates],
                   outputs, invert).check()


# ---------------------------------------------------------------- properties
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(netlists())
def test_every_pass_preserves_the_function(net):
    X = all_inputs(net.n_inputs)
    ref = simulate(net, X)
    for name, p in PASSES.items():
        res = p(net)
        out, report = res.net, res.changes
        out.check()
        assert res.changed == any(report.values())
        assert np.array_equal(simulate(out, X), ref), name
        assert np.array_equal(out.group_sizes, net.group_sizes) and out.tau == net.tau
        assert all(isinstance(v, int) and v >= 0 for v in report.values()), name


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(netlists(max_inputs=10, max_gates=80))
def test_pipeline_preserves_the_function_and_reaches_a_fixed_point(net):
    opt = optimize(net)
    opt.check()
    assert same_function(net, opt)
    assert opt.n_gates <= net.n_gates
    again = optimize(opt)
    assert again.same_structure(opt)
    # no gate of the optimized net is a wire, an inverter, a constant or reads a constant
    assert not ((opt.arity == 1) & ((opt.table == 1) | (opt.table == 2))).any()
    assert not (opt.arity == 0).any()
    used = np.arange(opt.max_arity)[None, :] < opt.arity[:, None].astype(int)
    assert not ((opt.fanin < 2) & used).any()


def test_pipeline_agrees_with_the_scalar_definition():
    net = random_netlist(7, n_inputs=6, n_gates=60, max_arity=6, n_outputs=8, p_const=0.2,
                         p_dup=0.3)
    opt = optimize(net)
    for x in all_inputs(6):
        assert np.array_equal(scalar_eval(opt, x), scalar_eval(net, x))


# ---------------------------------------------------------------- each pass fires
def test_constant_propagation_fires():
    net = net_of(2, [([2, 1], AND), ([3, 0], AND), ([], 1)], [4, 5, 6])
    res = constant_propagation(net)
    r, out = res.changes, res.net
    assert r["constant_fanins"] == 2 and r["constants"] == 2
    assert out.outputs.tolist()[1:] == [0, 1]           # AND(x1, 0) = 0; the 0-input gate = 1
    assert out.n_gates == 1 and out.arity[0] == 1 and out.table[0] == 2  # AND(x0, 1) = x0
    assert same_function(net, out)


def test_support_reduction_fires():
    net = net_of(2, [([2, 3], A), ([2, 3], B)], [4, 5])
    res = support_reduction(net)
    r, out = res.changes, res.net
    assert r["unused_fanins"] == 2
    assert out.arity.tolist() == [1, 1] and out.fanin[:, 0].tolist() == [2, 3]
    assert same_function(net, out)


def test_duplicate_fanins_merge():
    net = net_of(2, [([2, 2], XOR), ([3, 3], AND), ([2, 3, 2], 0b10010110)], [4, 5, 6])
    res = merge_duplicate_fanins(net)
    r, out = res.changes, res.net
    assert r["duplicate_fanins"] == 3
    assert out.arity.tolist() == [1, 1, 2]
    assert out.table[0] == 0 and out.table[1] == 2
    assert same_function(net, out)


def test_wire_bypass_fires():
    net = net_of(2, [([3], 2), ([4, 2], AND)], [4, 5])
    res = bypass_wires(net)
    r, out = res.changes, res.net
    assert r["wires"] == 1 and out.n_gates == 1
    assert out.outputs[0] == 3 and out.fanin[0].tolist() == [3, 2]
    assert same_function(net, out)


def test_inverter_absorption_into_consumers_and_head():
    net = net_of(2, [([3], 1), ([4, 2], AND)], [4, 5])       # NOT x1; AND(NOT x1, x0)
    res = absorb_inverters(net)
    r, out = res.changes, res.net
    assert r["inverters"] == 1 and out.n_gates == 1
    assert out.outputs[0] == 3 and out.invert[0]             # the head absorbed NOT
    assert out.fanin[0].tolist() == [3, 2] and out.table[0] == table_of("NOT_A_AND_B")
    assert same_function(net, out)
    nand = net_of(2, [([2, 3], table_of("NAND"))], [4])
    out = absorb_inverters(nand).net
    assert out.table[0] == AND and out.invert[0]              # stored as AND, inverted


def test_structural_hashing_merges_commuted_duplicates():
    net = net_of(2, [([2, 3], AND), ([3, 2], AND), ([4, 5], XOR)], [6, 4])
    res = structural_hashing(net)
    r, out = res.changes, res.net
    assert r["duplicates"] == 1 and out.n_gates == 2
    assert same_function(net, out)
    # complementary gates merge once polarity is normalized
    net = net_of(2, [([2, 3], AND), ([2, 3], table_of("NAND"))], [4, 5])
    out = fold(net).net
    assert out.n_gates == 1 and out.outputs.tolist() == [4, 4] and out.invert.tolist() == [0, 1]


def test_dead_gates_are_removed():
    net = net_of(2, [([2, 3], AND), ([2, 3], OR), ([4, 3], XOR)], [6])
    res = eliminate_dead(net)
    r, out = res.changes, res.net
    assert r["dead"] == 1 and out.n_gates == 2 and out.outputs.tolist() == [5]
    assert same_function(net, out)


def test_renumbering_sorts_by_level():
    net = net_of(2, [([2, 3], AND), ([4, 3], OR), ([2, 3], XOR)], [5, 6])
    out = renumber_levels(net).net
    lev = out.levels()[out.first_gate:]
    assert lev.tolist() == [1, 1, 2]
    assert out.table.tolist() == [AND, XOR, OR]
    assert same_function(net, out)


# ---------------------------------------------------------------- each pass must not fire
@pytest.mark.parametrize("name", sorted(PASSES))
def test_pass_does_not_fire_on_a_clean_net(name):
    # every gate reads two distinct, non-constant, ascending nodes, depends on both, has a
    # table that is 0 on input 00, no structural duplicates, every gate live, level order
    net = net_of(3, [([2, 3], AND), ([3, 4], XOR), ([2, 4], OR), ([5, 6], AND),
                     ([6, 7], XOR), ([8, 9], OR)], [9, 10, 7], invert=[False, True, False])
    res = PASSES[name](net)
    assert res.net.same_structure(net), name
    assert not res.changed and all(v == 0 for v in res.changes.values()), (name, res.changes)


def test_pipeline_report():
    net = random_layered(3, n_inputs=30, layers=(200, 200, 100), n_classes=10)
    opt, rows = optimize_with_report(net)
    assert rows and {r["pass"] for r in rows} == set(DEFAULT_PASSES)
    r0 = rows[0]
    for key in ("pass", "iteration", "gates_before", "gates_after", "depth_before",
                "depth_after", "removed"):
        assert key in r0
    assert r0["gates_before"] == net.n_gates
    assert rows[-1]["gates_after"] == opt.n_gates
    removed = {}
    for r in rows:
        for k, v in r["removed"].items():
            removed[k] = removed.get(k, 0) + v
    for k in ("constants", "wires", "inverters", "duplicates", "dead"):
        assert k in removed
    assert removed["constants"] > 0 and removed["wires"] > 0 and removed["dead"] > 0
    assert opt.same_structure(optimize(net))
    X = np.random.default_rng(0).integers(0, 2, (500, 30), dtype=np.uint8)
    assert np.array_equal(simulate(opt, X), simulate(net, X))


def test_uniform_gate_types_reduce_like_the_reference():
    # a 10K-gate random layered net of the 16 two-input gates: simple passes reached 2,665
    net = random_layered(0, n_inputs=784, layers=(2000,) * 5,
                         tables=GATE_TABLES.astype(np.uint64), n_classes=10)
    opt = optimize(net)
    assert opt.n_gates < 0.3 * net.n_gates
    X = np.random.default_rng(1).integers(0, 2, (256, 784), dtype=np.uint8)
    assert np.array_equal(simulate(opt, X), simulate(net, X))


def test_optimize_rejects_bad_input():
    with pytest.raises(TypeError):
        optimize("not a netlist")
    with pytest.raises(ValueError):
        optimize(random_netlist(0), max_iterations=0)


def test_hash_collisions_never_merge_different_gates(monkeypatch):
    from dlgn.compiler import builder as _rebuild
    net = random_layered(4, n_inputs=16, layers=(80, 80, 40), n_classes=4,
                         tables=[8, 14, 6, 7, 1, 9, 8, 8])
    good = optimize(net)
    monkeypatch.setattr(_rebuild, "_C1", np.uint64(0))   # every hash collides
    monkeypatch.setattr(_rebuild, "_C2", np.uint64(0))
    monkeypatch.setattr(_rebuild, "_P", (np.uint64(0),) * 6)
    bad_hash = optimize(net)
    assert same_function(net, bad_hash)
    # the exact fallback still merges the duplicates within a level
    dup = net_of(2, [([2, 3], AND), ([3, 2], AND), ([2, 3], OR), ([4, 5], XOR), ([6], 2)],
                 [7, 5, 8])
    out = structural_hashing(dup).net
    assert out.n_gates == 4 and same_function(dup, out)
    assert good.n_gates <= bad_hash.n_gates


@pytest.mark.parametrize("flags", range(16))
def test_two_input_fast_path_equals_the_generic_rewrite(flags):
    from dlgn.compiler.builder import FLAGS, _group, _group2
    fl = {f: bool(flags >> i & 1) for i, f in enumerate(FLAGS)}
    rng = np.random.default_rng(flags)
    n = 4000
    node = rng.integers(0, 6, size=(n, 2))
    neg = rng.integers(0, 2, size=(n, 2))
    neg[node < 2] = 0  # the caller turns a negated constant into the other constant
    table = rng.integers(0, 16, size=n).astype(np.uint64)
    nlev = rng.integers(0, 3, size=8).astype(np.int32)
    nlev[:2] = 0
    ka, fa, ta, ca = _group(node, neg, table, 2, fl, nlev)
    kb, fb, tb, cb = _group2(node, neg, table, fl, nlev)
    assert np.array_equal(ka, kb) and np.array_equal(ta, tb) and np.array_equal(ca, cb)
    assert np.array_equal(np.where(np.arange(2)[None, :] < ka[:, None], fa, 0), fb)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(netlists(max_inputs=8, max_gates=60))
def test_pipeline_of_the_separate_passes(net):
    passes = (constant_propagation, merge_duplicate_fanins, support_reduction, bypass_wires,
              absorb_inverters, structural_hashing, eliminate_dead, renumber_levels)
    opt = optimize(net, passes=passes)
    assert same_function(net, opt)
    assert optimize(opt, passes=passes).same_structure(opt)
    assert opt.n_gates == optimize(net).n_gates


def test_fold_merges_duplicates_across_levels_in_one_sweep():
    # g2 = AND(wire(x0), x1) sits at level 2 but equals g0 = AND(x1, x0) at level 1
    net = net_of(2, [([3, 2], AND), ([2], 2), ([5, 3], AND)], [4, 6])
    res = fold(net)
    r, out = res.changes, res.net
    assert out.n_gates == 1 and r["duplicates"] == 1 and r["wires"] == 1
    assert out.outputs.tolist() == [4, 4]
    assert fold(renumber_levels(out).net).net.same_structure(out)
