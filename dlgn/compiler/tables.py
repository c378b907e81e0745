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
           "depends_on", "support", "full_mask", "fix_inputs", "negate_inputs",
           "identify_inputs", "select_inputs"]


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


def _shift(k: int) -> np.ndarray:
    """Bit position of input x_j in an entry index: int64[1, k] (x_0 is the MSB)."""
    return (k - 1 - np.arange(k, dtype=np.int64))[None, :]


def _entries(k: int) -> np.ndarray:
    return np.arange(1 << k, dtype=np.int64)[None, :]


def _colmask(mask, n: int, k: int) -> np.ndarray:
    """bool[n, k] per-gate input mask -> int64[n, 1] entry-index bit mask."""
    m = np.broadcast_to(np.asarray(mask, dtype=bool), (n, k))
    return (m.astype(np.int64) << _shift(k)).sum(axis=1, keepdims=True)


# ---- bit-matrix primitives: every rewrite of a table is one remap of its entries
def fix_inputs(bits: np.ndarray, k: int, mask, values) -> np.ndarray:
    """Bit matrices with the inputs in ``mask`` (bool[n, k]) fixed to ``values`` (0/1
    [n, k]); the result keeps arity k and no longer depends on the fixed inputs."""
    n = bits.shape[0]
    m = _colmask(mask, n, k)
    v = _colmask(np.asarray(values, dtype=bool) & np.asarray(mask, dtype=bool), n, k)
    return remap(bits, (_entries(k) & ~m) | v)


def negate_inputs(bits: np.ndarray, k: int, mask) -> np.ndarray:
    """Bit matrices of the same gates with the inputs in ``mask`` (bool[n, k]) complemented."""
    return remap(bits, _entries(k) ^ _colmask(mask, bits.shape[0], k))


def identify_inputs(bits: np.ndarray, k: int, rep) -> np.ndarray:
    """Bit matrices where input j reads input ``rep[:, j]`` (int[n, k], ``rep[:, j] <= j``;
    ``rep[:, j] == j`` keeps it): the gate seen with fan-in j wired to fan-in rep[j].  An
    identified input no longer matters."""
    n = bits.shape[0]
    rep = np.broadcast_to(np.asarray(rep, dtype=np.int64), (n, k))
    u = _entries(k)
    src = np.zeros((n, 1 << k), dtype=np.int64)
    for j in range(k):
        val = (u >> (k - 1 - rep[:, j:j + 1])) & 1
        src |= val << (k - 1 - j)
    return remap(bits, src)


def select_inputs(bits: np.ndarray, k: int, perm, newk=None) -> np.ndarray:
    """Bit matrices of gates whose new input j (j < ``newk``) is old input ``perm[:, j]``;
    the old inputs not selected must not matter (they read 0).  ``newk`` (per gate, default
    k) is the new arity; entries at or above 2**newk are 0.  The result has 2**k columns."""
    n = bits.shape[0]
    perm = np.broadcast_to(np.asarray(perm, dtype=np.int64), (n, k))
    newk = np.broadcast_to(np.asarray(k if newk is None else newk, dtype=np.int64), (n,))
    u = _entries(k)
    src = np.zeros((n, 1 << k), dtype=np.int64)
    for j in range(k):
        active = (j < newk)[:, None]
        b = (u >> np.maximum(newk - 1 - j, 0)[:, None]) & 1
        src |= np.where(active, b << (k - 1 - perm[:, j])[:, None], 0)
    out = remap(bits, src)
    return np.where(u < (np.int64(1) << newk)[:, None], out, 0).astype(bits.dtype)


# ---- the same rewrites on packed tables
def _onehot(i, n: int, k: int) -> np.ndarray:
    i = np.broadcast_to(np.asarray(i, dtype=np.int64), (n,))
    return np.arange(k)[None, :] == i[:, None]


def cofactor(tables, k: int, i, value) -> np.ndarray:
    """Tables with input ``i`` fixed to ``value`` (per gate arrays or scalars); the result
    keeps arity k and no longer depends on x_i."""
    k = _check_k(k)
    bits = explode(tables, k)
    n = bits.shape[0]
    v = np.broadcast_to(np.asarray(value, dtype=np.int64), (n,))[:, None] != 0
    return implode(fix_inputs(bits, k, _onehot(i, n, k), np.broadcast_to(v, (n, k))))


def negate_input(tables, k: int, i) -> np.ndarray:
    """Tables of the same gates with input ``i`` complemented (per gate or scalar)."""
    k = _check_k(k)
    bits = explode(tables, k)
    return implode(negate_inputs(bits, k, _onehot(i, bits.shape[0], k)))


def permute_inputs(tables, k: int, perm) -> np.ndarray:
    """Tables of gates whose new input j is old input ``perm[:, j]`` (perm: int[n, k] or [k]).

    With fan-ins ``f``, the gate ``(f[perm], permute_inputs(t, k, perm))`` computes the
    same function as ``(f, t)``."""
    k = _check_k(k)
    return implode(select_inputs(explode(tables, k), k, perm))


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
