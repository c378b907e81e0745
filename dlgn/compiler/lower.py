"""Lowering: layered gate networks (fan-in indices and truth tables per layer) -> Netlist.

This is what ``LogicNet.discretize()`` calls.  Layer ``l`` reads the outputs of layer
``l-1`` (layer 0 reads the primary inputs); its gate ``j`` becomes node
``2 + n_inputs + (gates before layer l) + j``.  No optimization happens here.
"""
from __future__ import annotations

import numpy as np

from .gates import MAX_ARITY
from .netlist import Netlist, NetlistError

__all__ = ["lower_layers"]


def lower_layers(n_inputs: int, layers, *, group_sizes=None, tau: float = 1.0,
                 meta: dict | None = None) -> Netlist:
    """Build a Netlist from ``layers = [(fanin int[n_l, k_l], table int[n_l]), ...]``.

    ``fanin`` holds indices into the previous layer's outputs (0-based); ``table`` uses the
    convention of :mod:`dlgn.compiler.gates`.  The last layer's gates are the outputs, split
    by ``group_sizes`` (default: no head)."""
    if n_inputs < 0:
        raise NetlistError("n_inputs must be >= 0")
    K = max([1] + [int(np.asarray(f).reshape(len(np.asarray(t)), -1).shape[1]) for f, t in layers])
    if K > MAX_ARITY:
        raise NetlistError(f"arity {K} exceeds the maximum of {MAX_ARITY}")
    fanins, arities, tables = [], [], []
    prev_base, prev_width, base = 2, n_inputs, 2 + n_inputs
    for li, (f, t) in enumerate(layers):
        t = np.asarray(t).astype(np.uint64).reshape(-1)
        f = np.asarray(f, dtype=np.int64).reshape(t.shape[0], -1)
        k = f.shape[1]
        if f.size and (f.min() < 0 or f.max() >= prev_width):
            raise NetlistError(f"layer {li} reads index {int(f.max())} but its input has "
                               f"{prev_width} features")
        full = np.zeros((f.shape[0], K), dtype=np.int64)
        full[:, :k] = f + prev_base
        fanins.append(full)
        arities.append(np.full(f.shape[0], k, dtype=np.uint8))
        tables.append(t)
        prev_base, prev_width = base, f.shape[0]
        base += f.shape[0]
    G = base - 2 - n_inputs
    fanin = np.concatenate(fanins) if fanins else np.zeros((0, K), dtype=np.int64)
    arity = np.concatenate(arities) if arities else np.zeros(0, dtype=np.uint8)
    table = np.concatenate(tables) if tables else np.zeros(0, dtype=np.uint64)
    outputs = np.arange(prev_base, prev_base + prev_width, dtype=np.int64)
    if group_sizes is None:
        group_sizes = np.zeros(0, dtype=np.int32)
    net = Netlist(n_inputs, fanin.reshape(G, K), arity, table, outputs,
                  group_sizes=group_sizes, tau=tau, meta=meta or {})
    return net.check()
