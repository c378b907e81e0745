"""The reference simulator: what a Netlist means (DESIGN.md section 5).

Bit-parallel over uint64 words (sample ``s`` is bit ``s % 64`` of word ``s // 64``),
vectorized per (level, arity) group: a gate's output is the OR over the table's set
entries ``u`` of the minterm ``AND_i (x_i if bit (k-1-i) of u else NOT x_i)``.  This is
the definition every pass and backend is checked against, so it stays simple.
"""
from __future__ import annotations

import numpy as np

from .netlist import Netlist, NetlistError

__all__ = ["check_bits", "check_bit_bytes", "pack_bits", "unpack_bits", "simulate_words",
           "simulate", "scores", "predict", "scores_from_bits", "argmax_first"]

_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_CHUNK_BYTES = 64 << 20


def check_bits(X, n_inputs: int) -> np.ndarray:
    """Validate input bits: a 2-D bool or uint8 array of 0/1 with ``n_inputs`` columns.

    The one rule every runtime applies (simulator, C, CUDA, Verilog): a bool array is read
    as its bytes, which must be 0 or 1 too -- numpy can hold other bytes in a bool array
    (``np.frombuffer(b"\\x02", bool)``, ``u8.view(bool)``), and backends that read bytes
    would disagree on them.  Raises TypeError (type, dtype) or ValueError (shape, values)."""
    if not isinstance(X, np.ndarray):
        raise TypeError(f"input bits must be a numpy array, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"input bits must be 2-D (samples x {n_inputs} bits), got shape {X.shape}")
    if X.shape[1] != n_inputs:
        raise ValueError(f"the netlist reads {n_inputs} input bits per sample, "
                         f"got {X.shape[1]} columns")
    if X.dtype != np.bool_ and X.dtype != np.uint8:
        raise TypeError(f"input bits must be bool or uint8 (0/1), got dtype {X.dtype}; "
                        f"convert with X.astype(np.uint8)")
    if X.size:
        check_bit_bytes(int(X.view(np.uint8).max()), X.dtype == np.bool_)
    return X


def check_bit_bytes(top: int, is_bool: bool) -> None:
    """The value rule of :func:`check_bits` for a caller that found the largest byte ``top``
    itself (the CUDA runtime, on device tensors): ValueError unless ``top`` is 0 or 1."""
    if top <= 1:
        return
    if is_bool:
        raise ValueError(f"input bits must be 0/1 (got byte {top} in a bool array)")
    raise ValueError(f"uint8 input bits must be 0 or 1 (found {top}); encode features first")


def pack_bits(X: np.ndarray) -> np.ndarray:
    """Rows of bits (N x n) -> bit-planes uint64[n, ceil(N/64)] (sample s -> word s//64, bit s%64)."""
    X = np.asarray(X)
    n_samples, n = X.shape
    W = (n_samples + 63) // 64
    if n == 0 or W == 0:
        return np.zeros((n, W), dtype=np.uint64)
    pad = np.zeros((n, W * 64), dtype=np.uint8)
    pad[:, :n_samples] = X.T.astype(np.uint8)
    packed = np.packbits(pad, axis=1, bitorder="little")  # [n, W*8] bytes
    return packed.view("<u8").astype(np.uint64, copy=False).reshape(n, W)


def unpack_bits(words: np.ndarray, n_samples: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: uint64[n, W] -> bool[n_samples, n]."""
    words = np.ascontiguousarray(words, dtype=np.uint64)
    n = words.shape[0]
    if n == 0 or n_samples == 0:
        return np.zeros((n_samples, n), dtype=bool)
    b = np.unpackbits(words.astype("<u8").view(np.uint8).reshape(n, -1), axis=1,
                      bitorder="little")
    return b[:, :n_samples].T.astype(bool)


def _eval_group(vals, fanin, tables, k):
    """Outputs (uint64[g, W]) of g gates of arity k."""
    g, W = fanin.shape[0], vals.shape[1]
    if k == 0:
        return np.where((tables & np.uint64(1)).astype(bool)[:, None], _ALL, np.uint64(0)) \
            * np.ones((1, W), dtype=np.uint64)
    m = np.full((g, 1, W), _ALL, dtype=np.uint64)
    for i in range(k):  # x_0 becomes the most significant bit of u
        x = vals[fanin[:, i]][:, None, :]
        m = np.stack([m & ~x, m & x], axis=2).reshape(g, -1, W)
    u = np.arange(1 << k, dtype=np.uint64)
    sel = ((tables[:, None] >> u[None, :]) & np.uint64(1)).astype(bool)  # [g, 2^k]
    m[~sel] = 0
    return np.bitwise_or.reduce(m, axis=1)


def simulate_words(net: Netlist, in_words: np.ndarray) -> np.ndarray:
    """Evaluate every node on packed inputs uint64[n_inputs, W]; returns uint64[n_nodes, W]."""
    in_words = np.asarray(in_words, dtype=np.uint64)
    if in_words.ndim != 2 or in_words.shape[0] != net.n_inputs:
        raise ValueError(f"expected packed inputs of shape ({net.n_inputs}, W), got {in_words.shape}")
    W = in_words.shape[1]
    vals = np.empty((net.n_nodes, W), dtype=np.uint64)
    vals[0] = 0
    vals[1] = _ALL
    vals[2:2 + net.n_inputs] = in_words
    if net.n_gates == 0 or W == 0:
        return vals
    lev = net.levels()[net.first_gate:]
    order = np.lexsort((net.arity, lev))
    keys = lev[order].astype(np.int64) * 8 + net.arity[order]
    bounds = np.flatnonzero(np.diff(keys)) + 1
    for grp in np.split(order, bounds):
        k = int(net.arity[grp[0]])
        step = max(1, _CHUNK_BYTES // (8 * max(W, 1) * (1 << k) * 2))
        for s in range(0, grp.size, step):
            gs = grp[s:s + step]
            vals[net.first_gate + gs] = _eval_group(vals, net.fanin[gs], net.table[gs], k)
    return vals


def _output_words(net: Netlist, X) -> tuple[np.ndarray, int]:
    X = check_bits(X, net.n_inputs)
    words = simulate_words(net, pack_bits(X))[net.outputs]
    words[net.invert] = ~words[net.invert]
    return words, X.shape[0]


def simulate(net: Netlist, X) -> np.ndarray:
    """Output bits (bool[N, O], polarity applied) of the netlist on input bits X (N x n_inputs)."""
    words, n = _output_words(net, X)
    return unpack_bits(words, n)


def scores_from_bits(net: Netlist, bits: np.ndarray) -> np.ndarray:
    """GroupSum counts int32[N, C]: the number of ones in each contiguous output group."""
    if net.n_classes == 0:
        raise NetlistError("this netlist has no GroupSum head (group_sizes is empty)")
    bounds = np.concatenate([[0], np.cumsum(net.group_sizes)])
    out = np.zeros((bits.shape[0], net.n_classes), dtype=np.int32)
    for c in range(net.n_classes):
        out[:, c] = bits[:, bounds[c]:bounds[c + 1]].sum(axis=1)
    return out


def argmax_first(counts: np.ndarray) -> np.ndarray:
    """Index of the first maximum per row (torch.argmax / numpy semantics), int64."""
    if counts.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    return np.argmax(counts, axis=1).astype(np.int64)


def scores(net: Netlist, X) -> np.ndarray:
    """Integer class counts int32[N, C]; the model's real scores are these / ``net.tau``."""
    return scores_from_bits(net, simulate(net, X))


def predict(net: Netlist, X) -> np.ndarray:
    """Predicted class per sample (first maximum on ties), int64[N]."""
    return argmax_first(scores(net, X))
