"""NetlistBuilder: every literal it returns computes the gate it was given (against a
scalar definition written here), with and without rewriting; what it folds and hashes;
what it rejects; and a frontend module with skip wiring lowering through it."""
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from _compiler_util import all_inputs
from dlgn.compiler import simulate
from dlgn.compiler.builder import FALSE, FLAGS, TRUE, BuilderError, NetlistBuilder
from dlgn.compiler.gates import eval_table, table_of

AND, OR, XOR, NAND = (table_of(n) for n in ("AND", "OR", "XOR", "NAND"))


def lit_value(values, lit):
    """Value of a literal given the values of the nodes (the definition)."""
    return values[lit >> 1] ^ (lit & 1)


@st.composite
def programs(draw):
    """A random sequence of add() batches: arity 0-6, negated, constant (0-3) and
    duplicate fan-in literals, batches that repeat gates already made."""
    n_inputs = draw(st.integers(0, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    n_batches = draw(st.integers(1, 6))
    return n_inputs, seed, n_batches, draw(st.sampled_from([True, False, ("const",),
                                                            ("strash", "absorb"),
                                                            ("dup", "support", "bypass")]))


def run_program(n_inputs, seed, n_batches, rewrite):
    rng = np.random.default_rng(seed)
    b = NetlistBuilder(n_inputs, rewrite=rewrite)
    lits = list(range(4)) + [int(x) ^ s for x in b.input_lits() for s in (0, 1)]
    spec = []  # (fan-in literals, table, returned literal)
    for _ in range(n_batches):
        n = int(rng.integers(0, 12))
        k = int(rng.integers(0, 7))
        fan = np.array([[lits[int(rng.integers(0, len(lits)))] for _ in range(k)]
                        for _ in range(n)], dtype=np.int64).reshape(n, k)
        if n and k > 1 and rng.random() < 0.5:
            fan[:, 1] = fan[:, 0] ^ int(rng.integers(0, 2))  # duplicate (maybe negated)
        nbits = 1 << k
        tab = rng.integers(0, 1 << min(nbits, 62), size=n, dtype=np.int64).astype(np.uint64)
        if n and rng.random() < 0.3 and spec:  # repeat an earlier gate of the same arity
            same = [s for s in spec if len(s[0]) == k]
            if same:
                f0, t0, _ = same[int(rng.integers(0, len(same)))]
                fan[0], tab[0] = f0, t0
        out = b.add(fan, tab)
        assert out.shape == (n,) and out.dtype == np.int64
        for i in range(n):
            spec.append((fan[i].tolist(), int(tab[i]), int(out[i])))
        lits += [int(o) ^ s for o in out for s in (0, 1)]
    return b, spec


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_every_returned_literal_computes_its_gate(prog):
    n_inputs, seed, n_batches, rewrite = prog
    b, spec = run_program(n_inputs, seed, n_batches, rewrite)
    outs = np.array([s[2] for s in spec], dtype=np.int64)
    net = b.finish(outs)
    net.check()
    X = all_inputs(n_inputs)
    got = simulate(net, X)
    for r, x in enumerate(X):
        # the definition: node values of the constants and inputs, literals of the spec
        values = {0: 0, 1: 1}
        values.update({2 + i: int(v) for i, v in enumerate(x)})
        lv = {}

        def val(lit, values=values, lv=lv):
            node = lit >> 1
            if node in values:
                return values[node] ^ (lit & 1)
            return lv[lit & ~1] ^ (lit & 1)

        for i, (fan, tab, out) in enumerate(spec):
            want = eval_table(tab, len(fan), [val(f) for f in fan])
            assert got[r, i] == want, (i, fan, tab, out)
            # later gates read the returned literal: record it under its node's plain literal
            lv.setdefault(out & ~1, want ^ (out & 1))


@settings(max_examples=60, deadline=None)
@given(programs())
def test_rewriting_builds_fewer_gates_and_no_wires(prog):
    n_inputs, seed, n_batches, _ = prog
    full, _ = run_program(n_inputs, seed, n_batches, True)
    plain, _ = run_program(n_inputs, seed, n_batches, False)
    assert full.n_gates <= plain.n_gates
    net = full.finish([])
    assert not ((net.arity == 1) & ((net.table == 1) | (net.table == 2))).any()
    assert not (net.arity == 0).any()
    assert not (net.table & np.uint64(1)).any()  # polarity normalized


def test_folding_and_hashing():
    b = NetlistBuilder(3)
    x0, x1, x2 = (int(v) for v in b.input_lits())
    g = b.add([[x0, x1]], [AND])[0]
    assert b.n_gates == 1
    assert b.add([[x1, x0]], [AND])[0] == g                    # commuted: hashed
    assert b.add([[x0, x1]], [NAND])[0] == g ^ 1               # complement: negated literal
    assert b.add([[x0 ^ 1, x1 ^ 1]], [table_of("NOR")])[0] == g  # NOR(~a, ~b) = AND(a, b)
    assert b.add([[x0, FALSE]], [OR])[0] == x0                 # constant folded to a wire
    assert b.add([[x0, TRUE]], [AND])[0] == x0
    assert b.add([[x0, x0]], [XOR])[0] == FALSE                # duplicate fan-in folded
    assert b.add([[x2, x0]], [table_of("A")])[0] == x2         # unread fan-in dropped
    assert b.add([[x2]], [1])[0] == x2 ^ 1                     # inverter absorbed
    assert b.add(np.zeros((1, 0), np.int64), [1])[0] == TRUE   # a 0-input constant gate
    two = b.add([[x0, x2], [x2, x0]], [XOR, XOR])              # within one call
    assert two[0] == two[1] and b.n_gates == 2
    net = b.finish([g, two[0] ^ 1], group_sizes=[1, 1], tau=2.0, meta={"a": 1})
    assert net.invert.tolist() == [False, True] and net.meta == {"a": 1} and net.tau == 2.0


def test_no_rewrite_appends_as_given():
    b = NetlistBuilder(2, rewrite=False)
    x0, x1 = (int(v) for v in b.input_lits())
    a = b.add([[x0, x1], [x0, x1], [x0, x0]], [AND, AND, XOR])
    assert a.tolist() == [8, 10, 12] and b.n_gates == 3
    c = b.add([[x0 ^ 1, TRUE ^ 1]], [AND])[0]  # negations go into the table; ~1 reads node 0
    net = b.finish([c])
    assert net.fanin[3].tolist() == [2, 0] and net.table[3] == table_of("NOT_A_AND_B")


@pytest.mark.parametrize("flag", FLAGS)
def test_each_flag_alone_keeps_the_function(flag):
    from dlgn.compiler import random_netlist
    from dlgn.compiler.passes.base import rebuild
    net = random_netlist(3, n_inputs=6, n_gates=80, max_arity=6, p_const=0.2, p_dup=0.3)
    out = rebuild(net, {flag}).net
    X = all_inputs(6)
    assert np.array_equal(simulate(out, X), simulate(net, X))


def test_bad_gates_are_rejected():
    b = NetlistBuilder(2)
    with pytest.raises(BuilderError, match="not a literal"):
        b.add([[2, 99]], [AND])
    with pytest.raises(BuilderError, match="not a literal"):
        b.add([[-1, 4]], [AND])
    with pytest.raises(BuilderError, match="wider"):
        b.add([[4, 6]], [16])
    with pytest.raises(BuilderError, match="exceeds"):
        b.add(np.zeros((1, 7), np.int64), [0])
    with pytest.raises(BuilderError, match="tables"):
        b.add([[4, 6]], [AND, OR])
    with pytest.raises(BuilderError, match="integer"):
        b.add([[4.0, 6.0]], [AND])
    with pytest.raises(BuilderError, match="rewrite"):
        NetlistBuilder(2, rewrite={"nope"})
    with pytest.raises(BuilderError):
        NetlistBuilder(-1)
    with pytest.raises(BuilderError, match="output literal"):
        b.finish([40])
    assert b.n_gates == 0  # nothing half-made


def test_from_netlist_without_rewrite_is_a_copy():
    from dlgn.compiler import random_netlist
    net = random_netlist(5, n_inputs=5, n_gates=50, max_arity=4, p_const=0.2, p_dup=0.3)
    b, lits = NetlistBuilder.from_netlist(net, rewrite=False)
    assert lits.tolist() == (2 * np.arange(net.n_nodes)).tolist()
    out = b.finish(lits[net.outputs] ^ net.invert, net.group_sizes, net.tau)
    assert out.same_structure(net)


# ---------------------------------------------------------------- skip wiring
class SkipConcat(torch.nn.Module):
    """Its input next to a logic layer's output: [x, layer(x)] (a skip connection)."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer
        self.in_features = layer.in_features
        self.out_features = layer.in_features + layer.out_features

    def forward(self, h):
        return torch.cat([h, self.layer(h)], dim=1)

    def lower(self, builder, in_lits):
        return np.concatenate([in_lits, self.layer.lower(builder, in_lits)])

    @property
    def weight(self):
        return self.layer.weight


def test_a_module_with_skip_wiring_lowers_as_is():
    from dlgn.frontend.layer import LogicLayer
    from dlgn.frontend.net import LogicNet
    torch.manual_seed(0)
    net = LogicNet(12, layers=[20, 30], n_classes=3, arity=3, seed=1)
    gen = torch.Generator().manual_seed(2)
    net.layers = torch.nn.ModuleList([SkipConcat(LogicLayer(12, 20, 3, generator=gen)),
                                      LogicLayer(32, 30, 2, generator=gen)])
    for p in net.parameters():
        p.data.normal_(0, 3, generator=gen)
    net.eval()
    X = np.random.default_rng(0).integers(0, 2, (300, 12)).astype(np.uint8)
    with torch.no_grad():
        ref = net.forward_bits(torch.from_numpy(X).float()).argmax(1).numpy()
    nl = net.discretize()
    assert nl.n_gates == 50
    # the second layer reads primary inputs directly (the skip), not only layer-1 gates
    second = nl.fanin[20:, :2]
    assert (second < nl.first_gate).any() and (second >= nl.first_gate).any()
    from dlgn.compiler import predict
    assert np.array_equal(predict(nl, X), ref)
