"""Lowering: layered gate networks (fan-in indices and truth tables per layer) -> Netlist.

Each layer is one :meth:`~dlgn.compiler.builder.NetlistBuilder.add` call: layer ``l``'s
fan-in indices select among the literals of layer ``l-1`` (layer 0 reads the primary
inputs).  By default nothing is rewritten (``rewrite=False``), so gate ``j`` of layer ``l``
becomes node ``2 + n_inputs + (gates before layer l) + j``; ``rewrite=True`` folds as it
builds.  Networks whose layers read any earlier literal (skip and residual wiring) lower
through the builder directly, as ``LogicNet.discretize()`` does.
"""
from __future__ import annotations

import numpy as np

from .builder import NetlistBuilder
from .gates import MAX_ARITY
from .netlist import Netlist, NetlistError

__all__ = ["lower_layers", "add_layer"]


def add_layer(builder: NetlistBuilder, in_lits: np.ndarray, fanin, tables) -> np.ndarray:
    """Add one layer whose gate ``j`` reads ``in_lits[fanin[j]]`` with ``tables[j]``;
    returns the layer's literals.  ``fanin`` is int[n, k] of indices into ``in_lits``."""
    t = np.asarray(tables)
    if t.dtype.kind not in "iu":
        raise NetlistError(f"truth tables must be integers, got dtype {t.dtype}")
    t = t.astype(np.uint64).reshape(-1)
    f = np.asarray(fanin)
    if f.dtype.kind not in "iu":
        raise NetlistError(f"fan-in indices must be integers, got dtype {f.dtype}")
    f = f.astype(np.int64).reshape(t.shape[0], -1)
    if f.shape[1] > MAX_ARITY:
        raise NetlistError(f"arity {f.shape[1]} exceeds the maximum of {MAX_ARITY}")
    width = len(in_lits)
    if f.size and (f.min() < 0 or f.max() >= width):
        bad = int(f.max()) if f.max() >= width else int(f.min())
        raise NetlistError(f"a gate reads index {bad} but its input has {width} features")
    return builder.add(np.asarray(in_lits, dtype=np.int64)[f], t)


def lower_layers(n_inputs: int, layers, *, group_sizes=None, tau: float = 1.0,
                 meta: dict | None = None, rewrite=False) -> Netlist:
    """Build a Netlist from ``layers = [(fanin int[n_l, k_l], table int[n_l]), ...]``.

    ``fanin`` holds indices into the previous layer's outputs (0-based); ``table`` uses the
    convention of :mod:`dlgn.compiler.gates`.  The last layer's gates are the outputs, split
    by ``group_sizes`` (default: no head)."""
    if isinstance(n_inputs, bool) or not isinstance(n_inputs, (int, np.integer)) or n_inputs < 0:
        raise NetlistError("n_inputs must be an int >= 0")
    b = NetlistBuilder(int(n_inputs), rewrite=rewrite,
                       capacity=sum(len(np.asarray(t).reshape(-1)) for _, t in layers))
    lits = b.input_lits()
    for li, (f, t) in enumerate(layers):
        try:
            lits = add_layer(b, lits, f, t)
        except NetlistError as e:
            raise NetlistError(f"layer {li}: {e}") from None
    return b.finish(lits, group_sizes, tau, meta)
