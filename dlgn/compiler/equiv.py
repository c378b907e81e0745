"""Equivalence of two netlists: exhaustive, random vectors, SAT miter or ABC ``cec``.

Two netlists are equivalent when they read the same number of inputs and produce the
same output bits (per-output polarity applied) on every input; their GroupSum heads must
have the same group sizes (compared, not proven: it is data, not logic)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .netlist import Netlist
from .simulate import check_bits, pack_bits, simulate, simulate_words, unpack_bits

__all__ = ["EquivResult", "check_equivalent", "output_words", "exhaustive_words",
           "EXHAUSTIVE_MAX_INPUTS"]

log = logging.getLogger(__name__)
EXHAUSTIVE_MAX_INPUTS = 20
_CHUNK_WORDS = 1024  # 65,536 vectors per simulation chunk


@dataclass
class EquivResult:
    equivalent: bool
    method: str
    counterexample: np.ndarray | None = None  # bool[n_inputs]: input bits that differ
    output: int | None = None                 # first output index that differs

    def __bool__(self) -> bool:
        return self.equivalent


def _check_compatible(a: Netlist, b: Netlist) -> None:
    if not isinstance(a, Netlist) or not isinstance(b, Netlist):
        raise TypeError("check_equivalent compares two Netlists")
    if a.n_inputs != b.n_inputs:
        raise ValueError(f"the netlists read {a.n_inputs} and {b.n_inputs} inputs")
    if a.n_outputs != b.n_outputs:
        raise ValueError(f"the netlists have {a.n_outputs} and {b.n_outputs} outputs")
    if not np.array_equal(a.group_sizes, b.group_sizes):
        raise ValueError(f"the heads differ: group sizes {a.group_sizes.tolist()} and "
                         f"{b.group_sizes.tolist()}")


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


def _abc_counterexample(a, b, text):
    """ABC prints separating patterns ("Input pattern: pi3=1 ..." or "INPUT: pi0 = 1'h0,
    ..."; the numbering is not always the port order): return the first one the reference
    simulator confirms, else no counterexample."""
    import re
    for line in re.findall(r"(?:Input pattern:|INPUT:)(.*)", text):
        x = np.zeros(a.n_inputs, dtype=bool)
        for i, v in re.findall(r"pi(\d+)\s*=\s*(?:1'h)?([01])", line.split("OUTPUT")[0]):
            if int(i) < a.n_inputs:
                x[int(i)] = v == "1"
        X = x[None, :].astype(np.uint8)
        diff = np.flatnonzero(simulate(a, X)[0] != simulate(b, X)[0])
        if diff.size:
            return EquivResult(False, "abc", x, int(diff[0]))
    return EquivResult(False, "abc")


def check_equivalent(a: Netlist, b: Netlist, method: str = "auto", vectors=None,
                     n_random: int = 65536, seed: int = 0) -> EquivResult:
    """Compare ``a`` and ``b``.

    ``method``: ``"exhaustive"`` (all 2**n inputs; at most 20 inputs), ``"random"``
    (``n_random`` random vectors plus the rows of ``vectors``), ``"sat"`` (a proof with a
    SAT miter), ``"abc"`` (a proof with ABC ``cec``), or ``"auto"`` (exhaustive when
    ``n_inputs <= 20``, random otherwise).  ``equivalent=True`` from ``random`` is
    evidence, not proof."""
    _check_compatible(a, b)
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
    if method == "sat":
        from .sat import sat_equivalent
        return sat_equivalent(a, b)
    if method == "abc":
        from .blif import abc_cec
        ok, text = abc_cec(a, b)
        if ok:
            return EquivResult(True, "abc")
        return _abc_counterexample(a, b, text)
    raise ValueError(f"unknown method {method!r}; choose auto, exhaustive, random, sat, abc")
