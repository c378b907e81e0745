"""Equivalence of two netlists: exhaustive, random vectors, or a proof method.

Two netlists are equivalent when they read the same number of inputs and produce the
same output bits (per-output polarity applied) on every input; their GroupSum heads must
have the same group sizes (compared, not proven: it is data, not logic).  The result type
and that precondition live in :mod:`dlgn.compiler.verdict`.

Proof methods are a registry, :data:`PROOF_METHODS` (name -> ``fn(a, b) -> EquivResult``):
``"sat"`` (the SAT miter of :mod:`dlgn.compiler.sat`) is built in; ``"abc"`` (ABC ``cec``)
is registered by :mod:`dlgn.tools.abc` when ``dlgn.tools`` is imported, because the
compiler never imports the tool drivers (they import the compiler).
"""
from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from .netlist import Netlist
from .sat import sat_equivalent
from .simulate import check_bits, pack_bits, simulate_words, unpack_bits
from .verdict import EquivResult, check_compatible

__all__ = ["EquivResult", "check_equivalent", "output_words", "exhaustive_words",
           "EXHAUSTIVE_MAX_INPUTS", "PROOF_METHODS", "register_proof_method"]

log = logging.getLogger(__name__)
EXHAUSTIVE_MAX_INPUTS = 20
_CHUNK_WORDS = 1024  # 65,536 vectors per simulation chunk


#: Proof methods by name: ``fn(a, b) -> EquivResult`` (see the module docstring).
PROOF_METHODS: dict[str, Callable[[Netlist, Netlist], EquivResult]] = {"sat": sat_equivalent}
# where a method that is not registered yet comes from
_PROVIDERS = {"abc": "dlgn.tools (import dlgn.tools, or call dlgn.tools.abc.abc_equivalent)"}


def register_proof_method(name: str, fn: Callable[[Netlist, Netlist], EquivResult]) -> None:
    """Make ``check_equivalent(a, b, method=name)`` call ``fn(a, b)``."""
    if name in ("auto", "exhaustive", "random") or not callable(fn):
        raise ValueError(f"cannot register {name!r} as a proof method")
    PROOF_METHODS[name] = fn


def output_words(net: Netlist, in_words: np.ndarray) -> np.ndarray:
    """Output words uint64[O, W] (polarity applied) on packed inputs."""
    w = simulate_words(net, in_words)[net.outputs]
    w[net.invert] = ~w[net.invert]
    return w


def exhaustive_words(n_inputs: int, start_word: int, n_words: int) -> np.ndarray:
    """Packed inputs for vectors ``64*start_word ...``: sample s has input i = bit i of s."""
    s = (np.uint64(start_word) + np.arange(n_words, dtype=np.uint64)) * np.uint64(64)
    out = np.zeros((n_inputs, n_words), dtype=np.uint64)
    lane = np.arange(64, dtype=np.uint64)
    for i in range(n_inputs):
        if i < 6:
            pat = ((lane >> np.uint64(i)) & np.uint64(1)) << lane
            out[i] = np.bitwise_or.reduce(pat)
        else:
            out[i] = np.where((s >> np.uint64(i)) & np.uint64(1), np.uint64(0xFFFFFFFFFFFFFFFF),
                              np.uint64(0))
    return out


def _first_diff(wa, wb, n_valid):
    d = wa ^ wb
    if n_valid % 64:
        d[:, -1] &= np.uint64((1 << (n_valid % 64)) - 1)
    rows, cols = np.nonzero(d)
    if rows.size == 0:
        return None
    # earliest sample, then lowest output
    bits = unpack_bits(d, n_valid)  # [N, O]
    s, o = np.argwhere(bits)[0]
    return int(s), int(o)


def _exhaustive(a, b):
    n = a.n_inputs
    total = 1 << n
    n_words = (total + 63) // 64
    for w0 in range(0, n_words, _CHUNK_WORDS):
        w1 = min(n_words, w0 + _CHUNK_WORDS)
        X = exhaustive_words(n, w0, w1 - w0)
        valid = min(total - 64 * w0, 64 * (w1 - w0))
        hit = _first_diff(output_words(a, X), output_words(b, X), valid)
        if hit is not None:
            s = 64 * w0 + hit[0]
            cex = ((s >> np.arange(n)) & 1).astype(bool)
            return EquivResult(False, "exhaustive", cex, hit[1])
    return EquivResult(True, "exhaustive")


def _vectors(a, b, X, method):
    for s0 in range(0, X.shape[0], 64 * _CHUNK_WORDS):
        Xc = X[s0:s0 + 64 * _CHUNK_WORDS]
        P = pack_bits(Xc)
        hit = _first_diff(output_words(a, P), output_words(b, P), Xc.shape[0])
        if hit is not None:
            return EquivResult(False, method, Xc[hit[0]].astype(bool), hit[1])
    return EquivResult(True, method)


def check_equivalent(a: Netlist, b: Netlist, method: str = "auto", vectors=None,
                     n_random: int = 65536, seed: int = 0) -> EquivResult:
    """Compare ``a`` and ``b``.

    ``method``: ``"exhaustive"`` (all 2**n inputs; at most 20 inputs), ``"random"``
    (``n_random`` random vectors plus the rows of ``vectors``), ``"sat"`` (a proof with a
    SAT miter), ``"abc"`` (a proof with ABC ``cec``, once :mod:`dlgn.tools` is imported),
    any other name in :data:`PROOF_METHODS`, or ``"auto"`` (exhaustive when
    ``n_inputs <= 20``, random otherwise).  ``equivalent=True`` from ``random`` is
    evidence, not proof."""
    check_compatible(a, b)
    if method == "auto":
        method = "exhaustive" if a.n_inputs <= EXHAUSTIVE_MAX_INPUTS else "random"
    if method == "exhaustive":
        if a.n_inputs > EXHAUSTIVE_MAX_INPUTS:
            raise ValueError(f"exhaustive checking is limited to {EXHAUSTIVE_MAX_INPUTS} "
                             f"inputs; this netlist has {a.n_inputs}")
        return _exhaustive(a, b)
    if method == "random":
        rng = np.random.default_rng(seed)
        X = rng.integers(0, 2, size=(int(n_random), a.n_inputs), dtype=np.uint8)
        if vectors is not None:
            V = check_bits(np.asarray(vectors), a.n_inputs).astype(np.uint8)
            X = np.concatenate([V, X])
        return _vectors(a, b, X, "random")
    fn = PROOF_METHODS.get(method)
    if fn is not None:
        return fn(a, b)
    if method in _PROVIDERS:
        raise ValueError(f"method {method!r} is provided by {_PROVIDERS[method]}")
    raise ValueError(f"unknown method {method!r}; choose auto, exhaustive, random, "
                     f"{', '.join(sorted(set(PROOF_METHODS) | set(_PROVIDERS)))}")
