"""Shared helper: keep/reorder gates and rewrite every node reference."""
from __future__ import annotations

import numpy as np

from ..netlist import Netlist

__all__ = ["select_gates", "used_mask"]


def used_mask(net: Netlist) -> np.ndarray:
    """bool[G, K]: which fan-in columns each gate reads."""
    return np.arange(net.max_arity)[None, :] < net.arity[:, None].astype(np.int64)


def select_gates(net: Netlist, order: np.ndarray) -> Netlist:
    """A netlist whose gate j is old gate ``order[j]`` (a subset or a reordering that keeps
    every fan-in before its reader); fan-ins and outputs are renumbered."""
    first = net.first_gate
    order = np.asarray(order, dtype=np.int64)
    new = np.full(net.n_nodes, -1, dtype=np.int32)
    new[:first] = np.arange(first)
    new[first + order] = first + np.arange(order.size, dtype=np.int32)
    K = net.max_arity
    fan = np.empty((order.size, K), dtype=np.int32)
    step = 1 << 16
    for a in range(0, order.size, step):  # chunked: bounded scratch memory
        o = order[a:a + step]
        used = np.arange(K)[None, :] < net.arity[o, None].astype(np.int64)
        fan[a:a + step] = np.where(used, new[net.fanin[o]], 0)
    return Netlist(net.n_inputs, fan, net.arity[order], net.table[order],
                   new[net.outputs.astype(np.int64)], net.invert.copy(),
                   net.group_sizes.copy(), net.tau, dict(net.meta))
