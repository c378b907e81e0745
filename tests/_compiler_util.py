"""Helpers shared by the compiler tests (not a test module)."""
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
