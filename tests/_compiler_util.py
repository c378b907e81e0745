"""Helpers shared by the compiler tests (not a test module)."""
import importlib

import numpy as np
from hypothesis import strategies as st

from dlgn.compiler import Netlist, random_netlist, simulate
from dlgn.compiler.gates import eval_table


def all_inputs(n):
    """Every input vector of n bits (row s has input i = bit i of s)."""
    return ((np.arange(1 << n)[:, None] >> np.arange(n)[None, :]) & 1).astype(np.uint8)


def scalar_eval(net: Netlist, x):
    """One gate at a time: the definition, independent of the vectorized simulator."""
    v = [0, 1] + [int(b) for b in x]
    for g in range(net.n_gates):
        k = int(net.arity[g])
        v.append(eval_table(int(net.table[g]), k, [v[i] for i in net.fanin[g, :k]]))
    return np.array([v[o] ^ int(inv) for o, inv in zip(net.outputs, net.invert)], dtype=bool)


def same_function(a: Netlist, b: Netlist) -> bool:
    """Exhaustive comparison (inputs <= 16) through the reference simulator."""
    X = all_inputs(a.n_inputs)
    return a.n_inputs == b.n_inputs and np.array_equal(simulate(a, X), simulate(b, X))


@st.composite
def netlists(draw, max_inputs=8, max_gates=40):
    """Random netlists with every edge case: arity 0-6 (1-6 mostly), duplicate and constant
    fan-ins, outputs that are constants or inputs, empty and single-gate nets."""
    seed = draw(st.integers(0, 2**32 - 1))
    max_arity = draw(st.integers(1, 6))
    n_gates = draw(st.sampled_from([0, 1, 2, draw(st.integers(3, max_gates))]))
    n_outputs = draw(st.integers(1, 10))
    return random_netlist(seed, n_inputs=draw(st.integers(0, max_inputs)), n_gates=n_gates,
                          max_arity=max_arity, min_arity=draw(st.sampled_from([0, 1, 1])),
                          n_outputs=n_outputs, n_classes=draw(st.integers(0, min(3, n_outputs))),
                          p_const=draw(st.sampled_from([0.0, 0.1, 0.3])),
                          p_dup=draw(st.sampled_from([0.0, 0.2, 0.5])),
                          p_special_output=0.2, window=draw(st.sampled_from([None, 4])))


def union(nets) -> Netlist:
    """Disjoint union of head-less netlists (inputs, gates and outputs side by side): many
    random nets checked by one compiler run."""
    n_in = sum(n.n_inputs for n in nets)
    K = max(n.max_arity for n in nets)
    fan, ar, tab, outs, inv = [], [], [], [], []
    in_base, gate_base = 0, 2 + n_in
    for n in nets:
        remap = np.empty(n.n_nodes, dtype=np.int64)
        remap[:2] = [0, 1]
        remap[2:2 + n.n_inputs] = 2 + in_base + np.arange(n.n_inputs)
        remap[n.first_gate:] = gate_base + np.arange(n.n_gates)
        full = np.zeros((n.n_gates, K), dtype=np.int64)
        full[:, :n.fanin.shape[1]] = remap[n.fanin.astype(np.int64)]
        full[~(np.arange(K)[None, :] < n.arity[:, None])] = 0
        fan.append(full)
        ar.append(n.arity)
        tab.append(n.table)
        outs.append(remap[n.outputs])
        inv.append(n.invert)
        in_base += n.n_inputs
        gate_base += n.n_gates
    return Netlist(n_in, np.concatenate(fan), np.concatenate(ar), np.concatenate(tab),
                   np.concatenate(outs), np.concatenate(inv)).check()


def check_c_model(model, net, rng, batches):
    """A built C model equals the reference simulator on random rows of each batch size
    (uint8 rows, bool rows for odd sizes): outputs, scores, predict and predict_packed."""
    sim = importlib.import_module("dlgn.compiler.simulate")   # the module, not the function
    for n in batches:
        X = rng.integers(0, 2, size=(n, net.n_inputs)).astype(np.uint8)
        if n % 2:
            X = X.astype(bool)
        got = model.outputs(X)
        assert got.dtype == bool and got.shape == (n, net.n_outputs)
        np.testing.assert_array_equal(got, sim.simulate(net, X))
        if net.n_classes:
            s = model.scores(X)
            assert s.dtype == np.int32 and s.shape == (n, net.n_classes)
            np.testing.assert_array_equal(s, sim.scores(net, X))
            p = model.predict(X)
            assert p.shape == (n,)
            np.testing.assert_array_equal(p, sim.predict(net, X))
            Xp = np.packbits(X.astype(np.uint8), axis=1, bitorder="little")
            np.testing.assert_array_equal(model.predict_packed(Xp), sim.predict(net, X))
