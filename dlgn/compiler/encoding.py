"""Feature encoding without torch: raw features -> the input bits a netlist reads.

``encode(encoder_dict, X)`` is bit-for-bit the torch encoders of
:mod:`dlgn.frontend.encoders` (``encoder.to_dict()`` is its first argument); the compiled
runtime and the CLI use it on raw features.  Encoder dicts (JSON):

* ``{"type": "thermometer", "n_features": F, "bits_per_feature": n, "method": m,
  "thresholds": [[F x n floats]]}`` -- bit ``f*n + j`` is ``x_f > thresholds[f][j]``;
* ``{"type": "onehot", "n_features": F, "categories": [[values of feature f], ...],
  "handle_unknown": "error"|"ignore"}`` -- bit ``offset_f + c`` is ``x_f == categories[f][c]``
  (an unseen value raises, or gives feature f all zeros with "ignore");
* ``{"type": "identity", "n_features": F}`` -- the features are already 0/1 bits.

Any encoder may also select its F features from a wider raw row: ``"raw_features": R`` and
``"select": [F column indices into 0..R-1]`` (a crop of an image, a subset of columns).
``encode`` then takes R columns and encodes ``X[:, select]``; :func:`central_crop` gives the
indices of an image's central square.

All comparisons are made in float64 (exact for every float32, integer below 2**53 and bool
input), so numpy and torch agree exactly.
"""
from __future__ import annotations

import numpy as np

__all__ = ["ENCODER_TYPES", "EncodingError", "check_features", "check_encoder_dict",
           "encoder_n_bits", "encoder_raw_features", "encode", "central_crop"]

ENCODER_TYPES = ("thermometer", "onehot", "identity")


class EncodingError(ValueError):
    """Bad encoder description or bad raw features."""


def check_features(X, n_features: int | None = None) -> np.ndarray:
    """Validate raw features (2-D, numeric, finite, ``n_features`` columns) -> float64 array."""
    if hasattr(X, "detach") and hasattr(X, "cpu"):  # a torch tensor, without importing torch
        X = X.detach().cpu().numpy()
    if not isinstance(X, np.ndarray):
        if isinstance(X, (list, tuple)):
            X = np.asarray(X)
        else:
            raise TypeError(f"features must be a numpy array, got {type(X).__name__}")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"features must be numeric (bool, int or float), got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"features must be 2-D (samples x features), got shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"expected {n_features} features per sample, got {X.shape[1]}")
    X = X.astype(np.float64, copy=False)
    if X.size and not np.isfinite(X).all():
        bad = "NaN" if np.isnan(X).any() else "infinite"
        raise ValueError(f"features contain {bad} values; impute or clip them before encoding")
    return X


def _int(d, key):
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise EncodingError(f"encoder field {key!r} must be a non-negative int, got {v!r}")
    return v


def check_encoder_dict(d) -> dict:
    """Validate an encoder dict; returns it.  Raises :class:`EncodingError`."""
    if not isinstance(d, dict):
        raise EncodingError(f"an encoder description is a dict, got {type(d).__name__}")
    t = d.get("type")
    if t not in ENCODER_TYPES:
        raise EncodingError(f"unknown encoder type {t!r}; known: {ENCODER_TYPES}")
    F = _int(d, "n_features")
    if t == "thermometer":
        n = _int(d, "bits_per_feature")
        thr = np.asarray(d.get("thresholds"), dtype=np.float64)
        if thr.shape != (F, n) and not (F * n == 0 and thr.size == 0):
            raise EncodingError(f"thermometer thresholds must be {F} x {n}, got shape {thr.shape}")
        if not np.isfinite(thr).all():
            raise EncodingError("thermometer thresholds must be finite")
    elif t == "onehot":
        cats = d.get("categories")
        if not isinstance(cats, list) or len(cats) != F:
            raise EncodingError(f"onehot categories must be a list of {F} lists")
        for f, c in enumerate(cats):
            c = np.asarray(c, dtype=np.float64).reshape(-1)
            if not np.isfinite(c).all() or np.unique(c).size != c.size:
                raise EncodingError(f"onehot categories of feature {f} must be distinct finite numbers")
        if d.get("handle_unknown", "error") not in ("error", "ignore"):
            raise EncodingError("onehot handle_unknown must be 'error' or 'ignore'")
    if "select" in d or "raw_features" in d:
        R = _int(d, "raw_features")
        sel = d.get("select")
        if not isinstance(sel, list) or len(sel) != F or not all(
                isinstance(i, int) and not isinstance(i, bool) and 0 <= i < R for i in sel):
            raise EncodingError(f"encoder select must be a list of {F} column indices in "
                                f"0..{R - 1}")
    return d


def encoder_raw_features(d) -> int:
    """Number of raw features (columns) an encoder dict reads."""
    check_encoder_dict(d)
    return d["raw_features"] if "raw_features" in d else d["n_features"]


def central_crop(height: int, width: int, size: int) -> list[int]:
    """Row-major column indices of the central ``size x size`` square of an image."""
    if not (0 < size <= min(height, width)):
        raise EncodingError(f"a {size}x{size} crop does not fit a {height}x{width} image")
    top, left = (height - size) // 2, (width - size) // 2
    return [int((top + r) * width + left + c) for r in range(size) for c in range(size)]


def encoder_n_bits(d) -> int:
    """Number of output bits of an encoder dict."""
    check_encoder_dict(d)
    if d["type"] == "thermometer":
        return d["n_features"] * d["bits_per_feature"]
    if d["type"] == "onehot":
        return sum(len(c) for c in d["categories"])
    return d["n_features"]


def _onehot_arrays(d):
    vals = np.concatenate([np.asarray(c, dtype=np.float64).reshape(-1) for c in d["categories"]]
                          + [np.zeros(0)])
    feat = np.concatenate([np.full(len(c), f, dtype=np.int64) for f, c in enumerate(d["categories"])]
                          + [np.zeros(0, dtype=np.int64)])
    return vals, feat


def encode(encoder_dict, X) -> np.ndarray:
    """Raw features X [N, F] -> input bits uint8 [N, n_bits] (see the module docstring)."""
    d = check_encoder_dict(encoder_dict)
    X = check_features(X, encoder_raw_features(d))
    if "select" in d:
        X = X[:, np.asarray(d["select"], dtype=np.int64)]
    t = d["type"]
    if t == "thermometer":
        thr = np.asarray(d["thresholds"], dtype=np.float64).reshape(d["n_features"],
                                                                     d["bits_per_feature"])
        bits = X[:, :, None] > thr[None, :, :]
        return bits.reshape(X.shape[0], -1).astype(np.uint8)
    if t == "onehot":
        vals, feat = _onehot_arrays(d)
        bits = X[:, feat] == vals[None, :]
        if d.get("handle_unknown", "error") == "error" and X.shape[0]:
            known = np.zeros(X.shape, dtype=np.int64)
            np.add.at(known.T, feat, bits.T.astype(np.int64))
            if (known == 0).any():
                r, f = np.argwhere(known == 0)[0]
                raise ValueError(f"onehot: unknown category {X[r, f]!r} of feature {f} "
                                 f"(sample {r}); known: {d['categories'][f]}")
        return bits.astype(np.uint8)
    if X.size and not np.isin(X, (0.0, 1.0)).all():
        raise ValueError("identity encoder: features must already be 0/1 bits")
    return X.astype(np.uint8)
