"""Random netlists for tests and benchmarks (no training needed).

``random_netlist`` draws arbitrary DAGs with every edge case the IR allows (mixed arity,
duplicate fan-ins, constant fan-ins, outputs that are constants or inputs, inverted
outputs); ``random_layered`` draws the layered nets a trained DLGN lowers to.
"""
from __future__ import annotations

import numpy as np

from .builder import NetlistBuilder
from .gates import MAX_ARITY
from .lower import lower_layers
from .netlist import Netlist

__all__ = ["random_netlist", "random_layered"]


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def random_netlist(seed=0, n_inputs: int = 8, n_gates: int = 32, max_arity: int = 2,
                   n_outputs: int = 8, n_classes: int = 2, *, min_arity: int = 1,
                   p_const: float = 0.05, p_dup: float = 0.1, p_invert: float = 0.2,
                   p_special_output: float = 0.1, window: int | None = None,
                   tau: float = 1.0) -> Netlist:
    """A random DAG.  ``window`` limits how far back a fan-in may reach (deeper nets)."""
    rng = _rng(seed)
    if not 1 <= max_arity <= MAX_ARITY or not 0 <= min_arity <= max_arity:
        raise ValueError("need 0 <= min_arity <= max_arity <= 6 and max_arity >= 1")
    first = 2 + n_inputs
    b = NetlistBuilder(n_inputs, rewrite=False, capacity=n_gates)
    arity = rng.integers(min_arity, max_arity + 1, size=n_gates)
    for g in range(n_gates):  # one gate at a time: a gate may read the one just made
        node = first + g
        lo = 2 if window is None else max(2, node - window)
        k = int(arity[g])
        fan = []
        for i in range(k):
            if node <= 2 or rng.random() < p_const:
                fan.append(int(rng.integers(0, 2)))
            elif i and rng.random() < p_dup:
                fan.append(fan[int(rng.integers(0, i))])
            else:
                fan.append(int(rng.integers(lo, node)))
        nbits = 1 << k
        t = int(rng.integers(0, 1 << min(nbits, 62), dtype=np.int64))
        if nbits == 64:
            t |= int(rng.integers(0, 4)) << 62
        b.add(np.array([fan], dtype=np.int64).reshape(1, k) * 2, np.array([t], dtype=np.uint64))
    n_nodes = first + n_gates
    outputs = np.empty(n_outputs, dtype=np.int64)
    for o in range(n_outputs):
        if n_gates == 0 or rng.random() < p_special_output:
            outputs[o] = rng.integers(0, n_nodes)
        else:
            outputs[o] = rng.integers(max(first, n_nodes - max(1, n_gates // 2)), n_nodes)
    invert = rng.random(n_outputs) < p_invert
    if n_classes:
        cuts = np.sort(rng.integers(0, n_outputs + 1, size=n_classes - 1))
        group_sizes = np.diff(np.concatenate([[0], cuts, [n_outputs]]))
    else:
        group_sizes = np.zeros(0, dtype=np.int32)
    return b.finish(2 * outputs + invert, group_sizes, tau)


def random_layered(seed=0, n_inputs: int = 784, layers=(8000,) * 4, arity: int = 2,
                   n_classes: int = 10, tau: float = 10.0, tables=None) -> Netlist:
    """A layered net like a trained DLGN: each layer reads random outputs of the previous.

    ``tables``: None draws uniform random truth tables; otherwise an array of allowed tables
    to draw from."""
    rng = _rng(seed)
    specs, width = [], n_inputs
    nbits = 1 << arity
    for n in layers:
        f = rng.integers(0, width, size=(n, arity))
        if tables is None:
            if nbits >= 64:
                t = rng.integers(0, 1 << 62, size=n, dtype=np.int64).astype(np.uint64) \
                    | (rng.integers(0, 4, size=n).astype(np.uint64) << np.uint64(62))
            else:
                t = rng.integers(0, 1 << nbits, size=n, dtype=np.int64).astype(np.uint64)
        else:
            t = rng.choice(np.asarray(tables, dtype=np.uint64), size=n)
        specs.append((f, t))
        width = n
    if n_classes and width % n_classes:
        raise ValueError(f"last layer width {width} is not divisible by {n_classes} classes")
    groups = [width // n_classes] * n_classes if n_classes else None
    return lower_layers(n_inputs, specs, group_sizes=groups, tau=tau)
