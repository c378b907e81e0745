"""Feature encoding without torch: raw features -> the input bits a netlist reads.

``encode(encoder_dict, X)`` is bit-for-bit the torch encoders of
:mod:`dlgn.frontend.encoders` (``encoder.to_dict()`` is its first argument); the compiled
runtime and the CLI use it on raw features.  Encoder dicts (JSON):

* ``{"type": "thermometer", "n_features": F, "bits_per_feature": n, "method": m,
  "thresholds": [[F x n floats]]}`` -- bit ``f*n + j`` is ``x_f > thresholds[f][j]``;
  with ``"code": "binary"`` the thresholds are ``F x (2**n - 1)`` and the n bits
  of feature f are the binary digits, most significant first, of its level: the number of
  thresholds ``x_f`` exceeds (the same information as a ``2**n - 1``-bit thermometer in n
  bits; over 8-bit pixels with thresholds at q >= 64, 128, 192 they are the pixel's bits 7
  and 6 themselves);
* ``{"type": "onehot", "n_features": F, "categories": [[values of feature f], ...],
  "handle_unknown": "error"|"ignore"}`` -- bit ``offset_f + c`` is ``x_f == categories[f][c]``
  (an unseen value raises, or gives feature f all zeros with "ignore");
  Optional ``"category_names": [[str for each category of feature f], ...]``: the names a
  user writes for the categories (``"Private"``; the values are then their integer codes),
  read by :func:`features_from_rows` from CSV rows;
* ``{"type": "identity", "n_features": F}`` -- the features are already 0/1 bits;
* ``{"type": "concat", "n_features": F, "parts": [encoder dicts]}`` -- each part reads the
  same F-column raw row (most with a ``select`` of their own columns) and the bits are the
  parts' bits one after the other: e.g. a thermometer for each numeric column of a table
  (its own number of thresholds) and a one-hot for its categorical columns, each column
  encoded once.  Parts are not themselves ``concat``.

Any encoder may also select its F features from a wider raw row: ``"raw_features": R`` and
``"select": [F column indices into 0..R-1]`` (a crop of an image, a subset of columns).
``encode`` then takes R columns and encodes ``X[:, select]``; :func:`central_crop` gives the
indices of an image's central square.

All comparisons are made in float64 (exact for every float32, integer below 2**53 and bool
input), so numpy and torch agree exactly.
"""
from __future__ import annotations

import numpy as np

from ..errors import DlgnError

__all__ = ["ENCODER_TYPES", "THERMOMETER_CODES", "MAX_BINARY_BITS", "thermometer_n_thresholds",
           "EncodingError", "FeatureTypeError", "check_features",
           "check_encoder_dict", "encoder_n_bits", "encoder_raw_features", "encode",
           "central_crop", "features_from_rows", "unknown_category_message"]

ENCODER_TYPES = ("thermometer", "onehot", "identity", "concat")
THERMOMETER_CODES = ("unary", "binary")
#: The most bits a binary-coded thermometer gives a feature (2**8 - 1 thresholds).
MAX_BINARY_BITS = 8


def thermometer_n_thresholds(d: dict) -> int:
    """Thresholds per feature of a thermometer dict: ``bits_per_feature``, or
    ``2**bits_per_feature - 1`` with ``"code": "binary"``."""
    n = int(d["bits_per_feature"])
    return (1 << n) - 1 if d.get("code", "unary") == "binary" else n


class EncodingError(DlgnError, ValueError):
    """Bad encoder description or bad raw features."""


class FeatureTypeError(EncodingError, TypeError):
    """Raw features of a type that cannot be encoded (not numbers, not an array)."""


def check_features(X, n_features: int | None = None) -> np.ndarray:
    """Validate raw features (2-D, numeric, finite, ``n_features`` columns) -> float64 array."""
    if hasattr(X, "detach") and hasattr(X, "cpu"):  # a torch tensor, without importing torch
        X = X.detach().cpu().numpy()
    if not isinstance(X, np.ndarray):
        if isinstance(X, (list, tuple)):
            X = np.asarray(X)
        else:
            raise FeatureTypeError(f"features must be a numpy array, got {type(X).__name__}")
    if X.dtype.kind not in "biuf":
        raise FeatureTypeError(f"features must be numeric (bool, int or float), got dtype "
                               f"{X.dtype}")
    if X.ndim != 2:
        raise EncodingError(f"features must be 2-D (samples x features), got shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise EncodingError(f"expected {n_features} features per sample, got {X.shape[1]}")
    X = X.astype(np.float64, copy=False)
    if X.size and not np.isfinite(X).all():
        bad = "NaN" if np.isnan(X).any() else "infinite"
        raise EncodingError(f"features contain {bad} values; impute or clip them before "
                            f"encoding")
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
        code = d.get("code", "unary")
        if code not in THERMOMETER_CODES:
            raise EncodingError(f"thermometer code must be one of {THERMOMETER_CODES}, got "
                                f"{code!r}")
        if code == "binary" and not 1 <= n <= MAX_BINARY_BITS:
            raise EncodingError(f"a binary-coded thermometer has 1..{MAX_BINARY_BITS} bits per "
                                f"feature, got {n}")
        T = thermometer_n_thresholds(d)
        thr = np.asarray(d.get("thresholds"), dtype=np.float64)
        if thr.shape != (F, T) and not (F * T == 0 and thr.size == 0):
            raise EncodingError(f"thermometer thresholds must be {F} x {T}, got shape {thr.shape}")
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
        names = d.get("category_names")
        if names is not None and not (
                isinstance(names, list) and len(names) == F
                and all(isinstance(n, list) and len(n) == len(c)
                        and all(isinstance(v, str) for v in n) and len(set(n)) == len(n)
                        for n, c in zip(names, cats))):
            raise EncodingError("onehot category_names must be, for each feature, a list of "
                                "distinct strings, one per category")
    elif t == "concat":
        parts = d.get("parts")
        if not isinstance(parts, list):
            raise EncodingError("concat parts must be a list of encoder dicts")
        for i, part in enumerate(parts):
            if isinstance(part, dict) and part.get("type") == "concat":
                raise EncodingError(f"concat part {i} is itself a concat encoder")
            check_encoder_dict(part)
            if encoder_raw_features(part) != F:
                raise EncodingError(f"concat part {i} reads {encoder_raw_features(part)} raw "
                                    f"features, the encoder {F}")
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
    if d["type"] == "concat":
        return sum(encoder_n_bits(p) for p in d["parts"])
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
    return _encode(d, check_features(X, encoder_raw_features(d)))


def _encode(d: dict, X: np.ndarray) -> np.ndarray:
    if "select" in d:
        X = X[:, np.asarray(d["select"], dtype=np.int64)]
    t = d["type"]
    if t == "concat":
        return np.concatenate([_encode(p, X) for p in d["parts"]]
                              + [np.zeros((X.shape[0], 0), np.uint8)], axis=1)
    if t == "thermometer":
        thr = np.asarray(d["thresholds"], dtype=np.float64).reshape(
            d["n_features"], thermometer_n_thresholds(d))
        bits = X[:, :, None] > thr[None, :, :]
        if d.get("code", "unary") == "binary":
            n = int(d["bits_per_feature"])
            level = bits.sum(axis=2, dtype=np.int64)
            bits = (level[:, :, None] >> np.arange(n - 1, -1, -1)[None, None, :]) & 1
        n_bits = d["n_features"] * int(d["bits_per_feature"])
        return bits.reshape(X.shape[0], n_bits).astype(np.uint8)
    if t == "onehot":
        vals, feat = _onehot_arrays(d)
        bits = X[:, feat] == vals[None, :]
        if d.get("handle_unknown", "error") == "error" and X.shape[0]:
            known = np.zeros(X.shape, dtype=np.int64)
            np.add.at(known.T, feat, bits.T.astype(np.int64))
            if (known == 0).any():
                r, f = (int(i) for i in np.argwhere(known == 0)[0])
                raise EncodingError(unknown_category_message(d, f, r, float(X[r, f])))
        return bits.astype(np.uint8)
    if X.size and not np.isin(X, (0.0, 1.0)).all():
        raise EncodingError("identity encoder: features must already be 0/1 bits")
    return X.astype(np.uint8)


def unknown_category_message(d: dict, f: int, row: int, value: float) -> str:
    """The one-line error for a value that is none of feature ``f``'s categories."""
    col = f" (raw column {d['select'][f]})" if "select" in d else ""
    cats = d["categories"][f]
    names = (d.get("category_names") or [None] * len(d["categories"]))[f]
    shown = [f"{c:g}" + (f"={n}" if n is not None else "")
             for c, n in zip(cats, names or [None] * len(cats))]
    if len(shown) > 12:
        shown = shown[:12] + [f"... ({len(cats)} in all)"]
    return (f"onehot: unknown category {value!r} of feature {f}{col} (sample {row}); "
            f"known: {', '.join(shown)}")


def _column_names(d: dict, out: dict, select=None) -> dict:
    """raw column -> {category name: value} over an encoder dict and its parts."""
    sel = d.get("select")
    cols = list(range(d["n_features"])) if sel is None else list(sel)
    if select is not None:
        cols = [select[c] for c in cols]
    if d["type"] == "concat":
        for p in d["parts"]:
            _column_names(p, out, cols)
    elif d["type"] == "onehot" and d.get("category_names"):
        for f, (names, values) in enumerate(zip(d["category_names"], d["categories"])):
            out.setdefault(cols[f], {}).update(zip(names, map(float, values)))
    return out


def features_from_rows(rows, encoder_dict=None) -> np.ndarray:
    """Raw feature rows given as strings (e.g. a CSV file's cells) -> a float64 array
    [N, F] for :func:`encode`: a cell is a number, or in a categorical column the name of a
    category (the encoder's ``category_names``), which becomes that category's value.
    Raises :class:`EncodingError` naming the first bad row and column."""
    rows = [list(r) for r in rows]
    d = check_encoder_dict(encoder_dict) if encoder_dict else None
    width = encoder_raw_features(d) if d else (len(rows[0]) if rows else 0)
    names = _column_names(d, {}) if d else {}
    X = np.empty((len(rows), width), dtype=np.float64)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise EncodingError(f"row {i + 1} has {len(row)} fields, expected {width}")
        for j, cell in enumerate(row):
            cell = str(cell).strip()
            table = names.get(j)
            if table is not None and cell in table:
                X[i, j] = table[cell]
                continue
            try:
                X[i, j] = float(cell)
            except ValueError:
                known = f"; known: {', '.join(list(table)[:12])}" if table else ""
                raise EncodingError(f"row {i + 1}, column {j}: {cell[:40]!r} is "
                                    + ("no category of this column" if table else
                                       "not a number") + known) from None
    return X
