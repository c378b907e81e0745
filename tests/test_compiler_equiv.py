"""Equivalence checking: exhaustive, random, SAT miter, BLIF and ABC cec; a deliberately
wrong pass must be caught by each of them."""
import numpy as np
import pytest

from _compiler_util import all_inputs, same_function
from dlgn.compiler import GATE_TABLES, NetlistError, optimize, random_layered, \
    random_netlist, simulate
from dlgn.compiler.io.blif import parse_blif, read_blif, write_blif
from dlgn.compiler.equiv import check_equivalent, exhaustive_words
from dlgn.compiler.passes import support_reduction
from dlgn.tools.abc import cec as abc_cec, find_abc

pytest.importorskip("pysat", reason="python-sat is not installed")
needs_abc = pytest.mark.skipif(find_abc() is None, reason="no ABC binary (pyosys or berkeley-abc)")


def wrong_inverter_absorption(net):
    """A deliberately broken pass: it turns every inverter into a wire (forgets NOT)."""
    out = support_reduction(net).net
    inv = (out.arity == 1) & (out.table == 1)
    out.table[inv] = 2
    return out


def differs(a, b, x):
    X = np.asarray(x, dtype=np.uint8)[None, :]
    return not np.array_equal(simulate(a, X), simulate(b, X))


def test_exhaustive_words_enumerate_every_vector():
    from dlgn.compiler.simulate import pack_bits
    for n in (0, 3, 7, 9):
        total = 1 << n
        W = (total + 63) // 64
        got = exhaustive_words(n, 0, W)
        X = np.zeros((W * 64, n), np.uint8)
        X[:total] = all_inputs(n)
        expect = pack_bits(X)
        if total % 64:
            mask = np.uint64((1 << total) - 1)
            got[:, -1] &= mask
            expect[:, -1] &= mask
        assert np.array_equal(got, expect)


@pytest.mark.parametrize("seed", range(4))
def test_methods_agree_on_optimized_nets(seed):
    net = random_netlist(seed, n_inputs=9, n_gates=120, max_arity=6, n_outputs=12,
                         n_classes=3, p_const=0.1, p_dup=0.2)
    opt = optimize(net)
    for method in ("auto", "exhaustive", "random", "sat"):
        r = check_equivalent(net, opt, method)
        assert r.equivalent and r.counterexample is None, method
    assert check_equivalent(net, opt).method == "exhaustive"


def test_negative_wrong_pass_is_caught_by_every_method():
    net = random_layered(5, n_inputs=12, layers=(60, 60, 40), n_classes=4,
                         tables=GATE_TABLES.astype(np.uint64))
    bad = wrong_inverter_absorption(net)
    assert ((net.arity == 2) & ((net.table == 3) | (net.table == 5))).any()
    assert not same_function(net, bad)  # the bug is observable on this net
    for method in ("exhaustive", "random", "sat"):
        r = check_equivalent(net, bad, method, n_random=4096)
        assert not r.equivalent, method
        assert r.counterexample.shape == (12,) and differs(net, bad, r.counterexample)
        assert 0 <= r.output < net.n_outputs
    assert check_equivalent(net, support_reduction(net).net, "sat").equivalent


@needs_abc
def test_negative_wrong_pass_is_caught_by_abc():
    net = random_layered(5, n_inputs=12, layers=(60, 60, 40), n_classes=4,
                         tables=GATE_TABLES.astype(np.uint64))
    bad = wrong_inverter_absorption(net)
    ok, log = abc_cec(net, bad)
    assert not ok and "NOT EQUIVALENT" in log.upper()
    r = check_equivalent(net, bad, "abc")
    assert not r.equivalent and r.method == "abc"
    if r.counterexample is not None:  # ABC's pattern, confirmed by the simulator
        assert differs(net, bad, r.counterexample)
    ok, log = abc_cec(net, optimize(net))
    assert ok, log


@needs_abc
@pytest.mark.parametrize("kind", ["layered", "dense", "mixed"])
def test_formal_proofs_on_thousand_gate_nets(kind):
    if kind == "layered":
        net = random_layered(11, n_inputs=64, layers=(400, 400, 400, 300), n_classes=10)
    elif kind == "dense":  # AND/OR/XOR/NAND/NOR/XNOR only: over 1,000 gates survive
        net = random_layered(11, n_inputs=64, layers=(400, 400, 400, 300), n_classes=10,
                             tables=[8, 14, 6, 7, 1, 9])
    else:
        net = random_netlist(12, n_inputs=40, n_gates=1200, max_arity=4, n_outputs=30,
                             n_classes=3, p_const=0.05, p_dup=0.2, window=200)
    assert net.n_gates >= 1000
    opt = optimize(net)
    if kind == "dense":
        assert opt.n_gates >= 1000
    assert check_equivalent(net, opt, "sat").equivalent
    assert abc_cec(net, opt)[0]
    # one flipped table entry in a live gate is found by both
    bad = opt.copy()
    g = int(bad.outputs[np.flatnonzero(bad.outputs >= bad.first_gate)[0]]) - bad.first_gate
    bad.table[g] ^= np.uint64(1 << 1)
    r = check_equivalent(net, bad, "sat")
    if r.equivalent:  # that entry can be unreachable; flip a reachable one instead
        bad.table[g] ^= np.uint64(0b11)
        r = check_equivalent(net, bad, "sat")
    assert not r.equivalent and differs(net, bad, r.counterexample)
    assert not abc_cec(net, bad)[0]


def test_incompatible_netlists_raise():
    a = random_netlist(0, n_inputs=4, n_outputs=4, n_classes=2)
    b = a.copy()
    b.group_sizes = np.array([1, 3], np.int32) if a.group_sizes.tolist() != [1, 3] \
        else np.array([2, 2], np.int32)
    with pytest.raises(ValueError, match="group sizes"):
        check_equivalent(a, b)
    with pytest.raises(ValueError, match="inputs"):
        check_equivalent(a, random_netlist(0, n_inputs=5, n_outputs=4))
    with pytest.raises(ValueError):
        check_equivalent(a, a, method="magic")
    with pytest.raises(ValueError):
        check_equivalent(random_netlist(0, n_inputs=21), random_netlist(0, n_inputs=21),
                         "exhaustive")


def test_random_method_uses_supplied_vectors():
    net = random_layered(2, n_inputs=30, layers=(100, 100), n_classes=2)
    bad = net.copy()
    bad.invert[0] = ~bad.invert[0]
    X = np.zeros((1, 30), np.uint8)
    r = check_equivalent(net, bad, "random", vectors=X, n_random=0)
    assert not r.equivalent and r.output == 0 and not r.counterexample.any()


# ---------------------------------------------------------------- BLIF
@pytest.mark.parametrize("seed", range(6))
def test_blif_round_trip(seed, tmp_path):
    net = random_netlist(seed, n_inputs=7, n_gates=50, max_arity=6, min_arity=0,
                         n_outputs=9, n_classes=3, p_const=0.2, p_dup=0.2, p_special_output=0.3)
    text = write_blif(net, tmp_path / "n.blif")
    assert text == (tmp_path / "n.blif").read_text() == write_blif(net)  # deterministic
    back = read_blif(tmp_path / "n.blif", group_sizes=net.group_sizes)
    assert same_function(net, back)
    assert check_equivalent(net, back, "sat").equivalent


def test_read_blif_covers_and_errors():
    text = """# comment
.model t
.inputs a b \\
 c
.outputs o p q
.names a b c o
1-1 1
01- 1
.names a b p
11 0
.names q
1
.end
"""
    net = parse_blif(text)
    X = all_inputs(3)
    y = simulate(net, X)
    a, b, c = X[:, 0], X[:, 1], X[:, 2]
    assert np.array_equal(y[:, 0], ((a & c) | (~a & 1 & b)).astype(bool))
    assert np.array_equal(y[:, 1], ~(a & b).astype(bool))
    assert y[:, 2].all()
    for bad in (".inputs a\n.outputs o\n.names a z o\n11 1\n",        # undefined signal
                ".inputs a\n.outputs o\n.names a o\n1 1\n.names a o\n0 1\n",  # defined twice
                ".inputs a\n.outputs o\n.latch a o\n",                   # sequential
                ".inputs a\n.outputs o\n.names o p\n1 1\n.names p o\n1 1\n",  # loop
                ".inputs a b c d e f g\n.outputs o\n.names a b c d e f g o\n1111111 1\n"):
        with pytest.raises(NetlistError):
            parse_blif(bad)


@needs_abc
@pytest.mark.parametrize("kw", [dict(n_inputs=0, n_gates=5), dict(n_inputs=3, n_gates=0),
                                dict(n_inputs=3, n_gates=1, n_outputs=1, n_classes=0)])
def test_formal_checks_on_degenerate_nets(kw):
    for seed in range(3):
        net = random_netlist(seed, **kw, min_arity=0, p_special_output=0.5)
        opt = optimize(net)
        bad = opt.copy()
        bad.invert[0] = ~bad.invert[0]
        assert abc_cec(net, opt)[0] and not abc_cec(net, bad)[0]
        assert check_equivalent(net, opt, "sat").equivalent
        r = check_equivalent(net, bad, "sat")
        assert not r.equivalent and r.output == 0


@needs_abc
def test_counterexamples_are_confirmed():
    from dlgn.compiler import Netlist
    and6 = Netlist(7, [[2, 3, 4, 5, 6, 7]], [6], [np.uint64(1) << np.uint64(63)], [9, 2]).check()
    zero = Netlist(7, np.zeros((0, 1)), [], [], [0, 2]).check()
    for method in ("sat", "exhaustive"):
        r = check_equivalent(and6, zero, method)
        assert not r.equivalent and r.output == 0
        assert r.counterexample[:6].all(), method
    r = check_equivalent(and6, zero, "abc")  # ABC's pattern, confirmed by the simulator
    assert not r.equivalent and r.output == 0 and r.counterexample[:6].all()
