"""Vectorized truth-table algebra over many gates at once (convention of gates.py).

A group of ``n`` gates of one arity ``k`` is handled either as packed tables (uint64[n])
or as a bit matrix (uint8[n, 2**k], entry ``u`` = output on input ``u``).  Input ``x_i``
is bit ``k-1-i`` of ``u`` (``x_0`` is the most significant).  Every function here works
on whole arrays: no Python loop runs over gates (loops run over inputs or entries, <= 64).
"""
from __future__ import annotations

import numpy as np

from .gates import MAX_ARITY

__all__ = ["explode", "implode", "remap", "cofactor", "negate_input", "permute_inputs",
           "depends_on", "support", "full_mask"]


def _check_k(k: int) -> int:
    k = int(k)
    if not 0 <= k <= MAX_ARITY:
        raise ValueError(f"arity must be 0..{MAX_ARITY}, got {k}")
    return k


def full_mask(k: int) -> np.uint64:
    """All-ones table of arity ``k`` as a numpy uint64."""
    k = _check_k(k)
    return np.uint64(0xFFFFFFFFFFFFFFFF) if k == 6 else np.uint64((1 << (1 << k)) - 1)


def explode(tables, k: int) -> np.ndarray:
    """Packed tables uint64[n] -> bit matrix uint8[n, 2**k]."""
    k = _check_k(k)
    t = np.asarray(tables, dtype=np.uint64).reshape(-1)
    u = np.arange(1 << k, dtype=np.uint64)
    return ((t[:, None] >> u[None, :]) & np.uint64(1)).astype(np.uint8)


def implode(bits) -> np.ndarray:
    """Bit matrix uint8/bool[n, 2**k] -> packed tables uint64[n] (inverse of explode)."""
    b = np.asarray(bits)
    P = b.shape[1]
    u = np.arange(P, dtype=np.uint64)
    return (b.astype(np.uint64) << u[None, :]).sum(axis=1, dtype=np.uint64)


def remap(bits: np.ndarray, src: np.ndarray) -> np.ndarray:
    """``out[g, u] = bits[g, src[g, u]]``: the one primitive behind every table rewrite."""
    return np.take_along_axis(bits, src, axis=1)


def _ubits(k: int) -> np.ndarray:
    """ubits[i, u] = value of input x_i in entry u (int64[k, 2**k])."""
    u = np.arange(1 << k, dtype=np.int64)
    return np.stack([(u >> (k - 1 - i)) & 1 for i in range(k)]) if k else np.zeros((0, 1), np.int64)


def cofactor(tables, k: int, i, value) -> np.ndarray:
    """Tables with input ``i`` fixed to ``value`` (per gate arrays or scalars); the result
    keeps arity k and no longer depends on x_i."""
    k = _check_k(k)
    bits = explode(tables, k)
    n = bits.shape[0]
    u = np.arange(1 << k, dtype=np.int64)[None, :]
    p = (k - 1 - np.broadcast_to(np.asarray(i, dtype=np.int64), (n,)))[:, None]
    v = np.broadcast_to(np.asarray(value, dtype=np.int64), (n,))[:, None]
    src = (u & ~(np.int64(1) << p)) | (v << p)
    return implode(remap(bits, src))


def negate_input(tables, k: int, i) -> np.ndarray:
    """Tables of the same gates with input ``i`` complemented (per gate or scalar)."""
    k = _check_k(k)
    bits = explode(tables, k)
    n = bits.shape[0]
    u = np.arange(1 << k, dtype=np.int64)[None, :]
    p = (k - 1 - np.broadcast_to(np.asarray(i, dtype=np.int64), (n,)))[:, None]
    return implode(remap(bits, u ^ (np.int64(1) << p)))


def permute_inputs(tables, k: int, perm) -> np.ndarray:
    """Tables of gates whose new input j is old input ``perm[:, j]`` (perm: int[n, k] or [k]).

    With fan-ins ``f``, the gate ``(f[perm], permute_inputs(t, k, perm))`` computes the
    same function as ``(f, t)``."""
    k = _check_k(k)
    bits = explode(tables, k)
    n = bits.shape[0]
    perm = np.broadcast_to(np.asarray(perm, dtype=np.int64), (n, k))
    ub = _ubits(k)  # new entry u' -> value of new input j
    src = np.zeros((n, 1 << k), dtype=np.int64)
    for j in range(k):
        src |= ub[j][None, :] << (k - 1 - perm[:, j])[:, None]
    return implode(remap(bits, src))


def depends_on(tables, k: int) -> np.ndarray:
    """bool[n, k]: whether each table depends on each of its k inputs."""
    k = _check_k(k)
    bits = explode(tables, k)
    return support(bits, k)


def support(bits: np.ndarray, k: int) -> np.ndarray:
    """Like :func:`depends_on` on a bit matrix."""
    u = np.arange(1 << k, dtype=np.int64)
    out = np.zeros((bits.shape[0], k), dtype=bool)
    for i in range(k):
        out[:, i] = (bits != bits[:, u ^ (1 << (k - 1 - i))]).any(axis=1)
    return out
