"""Input encoders (torch modules): raw features -> 0/1 input bits.

* :class:`ThermometerEncoder` -- ``n_bits`` thresholds per feature (uniform between the
  training minimum and maximum, or at data quantiles); bit ``f*n_bits + j`` is
  ``x_f > threshold[f, j]``; with ``code="binary"`` the ``2**n_bits - 1`` thresholds'
  level (how many the feature exceeds) is written as ``n_bits`` binary digits instead.
* :class:`OneHotEncoder` -- one bit per category of each (categorical) feature.
* :class:`IdentityEncoder` -- already-binary data, checked to be 0/1.
* :class:`ConcatEncoder` -- encoders side by side on one raw row, each on its own columns
  (a thermometer per numeric column, a one-hot for the categorical ones): their bits one
  after the other.

Each has ``fit(X)``, ``forward(X) -> float 0/1 bits``, ``n_features`` (raw features),
``n_bits`` (output bits), ``to_dict()`` (JSON) and ``from_dict()``.  Thresholds and
categories are float64 buffers and every comparison is made in float64, so
:func:`dlgn.compiler.encoding.encode` (numpy) gives the same bits exactly.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dlgn.compiler.encoding import (MAX_BINARY_BITS, THERMOMETER_CODES, EncodingError,
                                    FeatureTypeError, check_encoder_dict, check_features,
                                    unknown_category_message)

__all__ = ["ThermometerEncoder", "OneHotEncoder", "IdentityEncoder", "ConcatEncoder",
           "encoder_from_dict", "THERMOMETER_METHODS"]

THERMOMETER_METHODS = ("uniform", "quantile")
_INT_DTYPES = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def _check_torch(X, n_features: int) -> torch.Tensor:
    """Validate raw features for forward(): numeric, 2-D, n_features columns, finite -> float64."""
    if isinstance(X, np.ndarray):
        X = torch.from_numpy(check_features(X, n_features))
    if not isinstance(X, torch.Tensor):
        raise FeatureTypeError(f"features must be a torch.Tensor or numpy array, got "
                               f"{type(X).__name__}")
    if not (X.dtype.is_floating_point or X.dtype in _INT_DTYPES):
        raise FeatureTypeError(f"features must be numeric (bool, int or float), got dtype "
                               f"{X.dtype}")
    if X.dim() != 2:
        raise EncodingError(f"features must be 2-D (samples x features), got shape "
                            f"{tuple(X.shape)}")
    if X.shape[1] != n_features:
        raise EncodingError(f"expected {n_features} features per sample, got {X.shape[1]}")
    X = X.to(torch.float64)
    if X.numel() and not torch.isfinite(X).all():
        bad = "NaN" if torch.isnan(X).any() else "infinite"
        raise EncodingError(f"features contain {bad} values; impute or clip them before "
                            f"encoding")
    return X


class _Encoder(nn.Module):
    type_name = ""

    def __init__(self):
        super().__init__()
        self._n_features = None
        self.select = None        # column indices into the raw row (a crop), or None
        self.raw_features = None

    def crop(self, select, raw_features: int):
        """Read the features from columns ``select`` of a raw row of ``raw_features`` (e.g.
        :func:`dlgn.compiler.encoding.central_crop`); returns self.  Fit on the selected
        columns; after this the encoder takes whole raw rows."""
        sel = [int(i) for i in select]
        if not sel or min(sel) < 0 or max(sel) >= int(raw_features):
            raise ValueError(f"crop indices must lie in 0..{int(raw_features) - 1}")
        if self.fitted and len(sel) != self._n_features:
            raise ValueError(f"the encoder was fitted on {self._n_features} features but "
                             f"the crop selects {len(sel)}")
        self.select, self.raw_features = sel, int(raw_features)
        return self

    @property
    def n_raw_features(self) -> int:
        """Columns of the raw rows ``forward`` takes (``n_features`` without a crop)."""
        return self.raw_features if self.select is not None else self.n_features

    def _select(self, X):
        if self.select is None:
            return X
        if isinstance(X, np.ndarray):
            X = check_features(X, self.raw_features)[:, self.select]
        elif isinstance(X, torch.Tensor):
            X = _check_torch(X, self.raw_features)[:, self.select]
        else:
            raise FeatureTypeError(f"features must be a torch.Tensor or numpy array, got "
                                   f"{type(X).__name__}")
        return X

    def _crop_dict(self, d: dict) -> dict:
        if self.select is not None:
            d = dict(d, select=list(self.select), raw_features=self.raw_features)
        return d

    _exact = ()  # float64 buffers that module.to(dtype) / .half() must not round

    def _apply(self, fn, *args, **kwargs):
        keep = {n: getattr(self, n) for n in self._exact if getattr(self, n) is not None}
        out = super()._apply(fn, *args, **kwargs)
        for n, t in keep.items():
            cur = getattr(self, n)
            if cur.dtype != torch.float64:
                if isinstance(cur, nn.Parameter):
                    cur.data = t.detach().to(device=cur.device)
                else:
                    setattr(self, n, t.to(device=cur.device))
        return out

    @property
    def fitted(self) -> bool:
        return self._n_features is not None

    def _need_fit(self):
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(X_train) first")

    @property
    def n_features(self) -> int:
        self._need_fit()
        return self._n_features

    @property
    def n_bits(self) -> int:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict):
        check_encoder_dict(d)
        if d["type"] != cls.type_name:
            raise ValueError(f"{cls.__name__}.from_dict got an encoder of type {d['type']!r}")
        enc = cls._from_dict(d)
        if "select" in d:
            enc.crop(d["select"], d["raw_features"])
        return enc


class ThermometerEncoder(_Encoder):
    """``n_bits`` threshold bits per feature (the output has ``n_features * n_bits`` bits).

    ``learnable=True``: the thresholds are trained with the net.  They start where ``fit``
    puts them and are parametrized in units of the feature's fitted span (parameter
    ``position`` [F, n], threshold = low + span * position, float64), so one learning rate
    suits every feature.  In training mode a bit is ``x > threshold`` in the forward and
    ``sigmoid((x - threshold) / width)`` in the backward (straight-through; width = span /
    (2 (n + 1))); in eval mode, in :meth:`to_dict` and so in the netlist it is the exact
    comparison with the current thresholds.

    ``code="binary"``: each feature has ``2**n_bits - 1`` thresholds and its ``n_bits``
    output bits are the binary digits (most significant first) of its level, the number of
    thresholds it exceeds -- the information of a ``2**n_bits - 1``-bit thermometer in
    ``n_bits`` inputs, and with thresholds aligned to a pixel's top bits those bits
    themselves (an encoder of no gates).  Not learnable."""
    type_name = "thermometer"
    _exact = ("thresholds",)

    def __init__(self, n_bits: int, method: str = "uniform", learnable: bool = False,
                 code: str = "unary"):
        super().__init__()
        if isinstance(n_bits, bool) or not isinstance(n_bits, int) or n_bits < 1:
            raise ValueError(f"n_bits must be a positive int, got {n_bits!r}")
        if method not in THERMOMETER_METHODS:
            raise ValueError(f"method must be one of {THERMOMETER_METHODS}, got {method!r}")
        if code not in THERMOMETER_CODES:
            raise ValueError(f"code must be one of {THERMOMETER_CODES}, got {code!r}")
        if code == "binary" and learnable:
            raise ValueError("a binary-coded thermometer's thresholds cannot be learned")
        if code == "binary" and n_bits > MAX_BINARY_BITS:
            raise ValueError(f"a binary-coded thermometer has at most {MAX_BINARY_BITS} bits "
                             f"per feature, got {n_bits}")
        self.bits_per_feature, self.method, self.learnable = n_bits, method, bool(learnable)
        self.code = code
        #: thresholds per feature
        self.n_thresholds = (1 << n_bits) - 1 if code == "binary" else n_bits
        if self.learnable:
            self._exact = ("position", "low", "span")
            self.register_parameter("position", None)
            self.register_buffer("low", None)
            self.register_buffer("span", None)
        else:
            self.register_buffer("thresholds", None)

    def __getattr__(self, name):
        if name == "thresholds" and self.__dict__.get("learnable"):
            pos = self._parameters.get("position")
            return None if pos is None else self._buffers["low"] + self._buffers["span"] * pos
        return super().__getattr__(name)

    def fit(self, X):
        X = check_features(X)
        if X.shape[0] == 0:
            raise ValueError("cannot fit an encoder on zero samples")
        q = np.arange(1, self.n_thresholds + 1, dtype=np.float64) / (self.n_thresholds + 1)
        if self.method == "uniform":
            lo, hi = X.min(axis=0), X.max(axis=0)
            thr = lo[:, None] + (hi - lo)[:, None] * q[None, :]
        else:
            thr = np.quantile(X, q, axis=0).T
        self._set(np.ascontiguousarray(thr, dtype=np.float64))
        return self

    def fit_thresholds(self, thresholds):
        """Use the given thresholds (F x n_thresholds, increasing along each row) instead
        of fitting them; returns self."""
        thr = np.asarray(thresholds, dtype=np.float64)
        if thr.ndim != 2 or thr.shape[1] != self.n_thresholds:
            raise ValueError(f"thresholds must be F x {self.n_thresholds}, got shape "
                             f"{thr.shape}")
        if not np.isfinite(thr).all() or (np.diff(thr, axis=1) <= 0).any():
            raise ValueError("thresholds must be finite and increasing along each feature")
        self._set(thr)
        return self

    def _set(self, thr):
        thr = np.array(thr, dtype=np.float64)
        self._n_features = int(thr.shape[0])
        if not self.learnable:
            self.thresholds = torch.from_numpy(thr)
            return
        lo = thr.min(axis=1, keepdims=True) if thr.size else np.zeros((thr.shape[0], 1))
        hi = thr.max(axis=1, keepdims=True) if thr.size else np.zeros((thr.shape[0], 1))
        n = self.bits_per_feature
        span = np.where(hi > lo, (hi - lo) * (n + 1) / max(1, n - 1), 1.0) if n > 1 \
            else np.maximum(np.abs(lo), 1.0)
        low = lo - span / (n + 1) if n > 1 else lo - 0.5 * span
        self.low = torch.from_numpy(low)
        self.span = torch.from_numpy(span)
        # thresholds = low + span * position: the fitted ones (up to rounding) to start with
        self.position = nn.Parameter(torch.from_numpy((thr - low) / span))

    @property
    def n_bits(self) -> int:
        return self.n_features * self.bits_per_feature

    def forward(self, X) -> torch.Tensor:
        self._need_fit()
        X = _check_torch(self._select(X), self._n_features)
        thr = self.thresholds
        bits = X.unsqueeze(2) > thr.detach().to(X.device).unsqueeze(0)
        if self.code == "binary":
            level = bits.sum(dim=2, dtype=torch.int64)
            shifts = torch.arange(self.bits_per_feature - 1, -1, -1, device=X.device)
            bits = ((level.unsqueeze(2) >> shifts) & 1).bool()
        out = bits.to(torch.get_default_dtype())
        if self.learnable and self.training and torch.is_grad_enabled():
            width = self.span / (2 * (self.bits_per_feature + 1))
            soft = torch.sigmoid((X.unsqueeze(2) - thr.unsqueeze(0)) / width.unsqueeze(0))
            out = out + (soft - soft.detach()).to(out.dtype)
        return out.reshape(X.shape[0], -1)

    def to_dict(self) -> dict:
        self._need_fit()
        d = {"type": self.type_name, "n_features": self._n_features,
             "bits_per_feature": self.bits_per_feature, "method": self.method,
             "thresholds": self.thresholds.detach().cpu().tolist()}
        if self.learnable:
            d["learnable"] = True
        if self.code != "unary":
            d["code"] = self.code
        return self._crop_dict(d)

    @classmethod
    def _from_dict(cls, d):
        enc = cls(d["bits_per_feature"], d.get("method", "uniform"),
                  learnable=bool(d.get("learnable", False)), code=d.get("code", "unary"))
        enc._set(np.asarray(d["thresholds"], dtype=np.float64).reshape(d["n_features"],
                                                                        enc.n_thresholds))
        return enc


class OneHotEncoder(_Encoder):
    """One bit per category.  ``categories``: a list (per feature) of category values, or
    None to learn the sorted distinct values in ``fit``.  ``handle_unknown``: "error" raises on
    a value outside the categories, "ignore" encodes it as all zeros.  ``category_names``:
    optional, per feature the names of its categories (kept in the netlist, so that rows
    with names, e.g. a CSV file for ``dlgn predict``, can be encoded)."""
    type_name = "onehot"
    _exact = ("cat_values",)

    def __init__(self, categories=None, handle_unknown: str = "error", category_names=None):
        super().__init__()
        if handle_unknown not in ("error", "ignore"):
            raise ValueError(f"handle_unknown must be 'error' or 'ignore', got {handle_unknown!r}")
        self.handle_unknown = handle_unknown
        self.register_buffer("cat_values", None)
        self.register_buffer("cat_feature", None)
        self.categories = None
        self.category_names = None if category_names is None else \
            [[str(n) for n in names] for names in category_names]
        if categories is not None:
            self._set([list(np.asarray(c, dtype=np.float64).reshape(-1)) for c in categories])

    def _set(self, cats):
        cats = [[float(v) for v in c] for c in cats]
        check_encoder_dict({"type": "onehot", "n_features": len(cats), "categories": cats,
                            "handle_unknown": self.handle_unknown,
                            **({"category_names": self.category_names}
                               if self.category_names is not None else {})})
        self.categories = cats
        self.cat_values = torch.tensor([v for c in cats for v in c], dtype=torch.float64)
        self.cat_feature = torch.tensor([f for f, c in enumerate(cats) for _ in c], dtype=torch.long)
        self._n_features = len(cats)

    def fit(self, X):
        X = check_features(X, self._n_features if self.categories is not None else None)
        if self.categories is None:
            self._set([np.unique(X[:, f]).tolist() for f in range(X.shape[1])])
        return self

    @property
    def n_bits(self) -> int:
        self._need_fit()
        return int(self.cat_values.numel())

    def forward(self, X) -> torch.Tensor:
        self._need_fit()
        X = _check_torch(self._select(X), self._n_features)
        bits = X[:, self.cat_feature.to(X.device)] == self.cat_values.to(X.device).unsqueeze(0)
        if self.handle_unknown == "error" and X.shape[0]:
            known = torch.zeros(X.shape, dtype=torch.long, device=X.device)
            known.index_add_(1, self.cat_feature.to(X.device), bits.long())
            if (known == 0).any():
                r, f = (known == 0).nonzero()[0].tolist()
                raise EncodingError(unknown_category_message(self.to_dict(), f, r,
                                                             float(X[r, f].item())))
        return bits.to(torch.get_default_dtype())

    def to_dict(self) -> dict:
        self._need_fit()
        d = {"type": self.type_name, "n_features": self._n_features,
             "categories": [list(c) for c in self.categories],
             "handle_unknown": self.handle_unknown}
        if self.category_names is not None:
            d["category_names"] = [list(n) for n in self.category_names]
        return self._crop_dict(d)

    @classmethod
    def _from_dict(cls, d):
        return cls(d["categories"], d.get("handle_unknown", "error"), d.get("category_names"))


class IdentityEncoder(_Encoder):
    """Already-binary features (checked to be 0/1)."""
    type_name = "identity"

    def __init__(self, n_features: int | None = None):
        super().__init__()
        if n_features is not None:
            if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 0:
                raise ValueError(f"n_features must be a non-negative int, got {n_features!r}")
            self._n_features = n_features

    def fit(self, X):
        X = check_features(X, self._n_features)
        self._n_features = X.shape[1]
        return self

    @property
    def n_bits(self) -> int:
        return self.n_features

    def forward(self, X) -> torch.Tensor:
        self._need_fit()
        X = _check_torch(self._select(X), self._n_features)
        if X.numel() and not ((X == 0) | (X == 1)).all():
            raise EncodingError("identity encoder: features must already be 0/1 bits")
        return X.to(torch.get_default_dtype())

    def to_dict(self) -> dict:
        return self._crop_dict({"type": self.type_name, "n_features": self.n_features})

    @classmethod
    def _from_dict(cls, d):
        return cls(d["n_features"])


class ConcatEncoder(_Encoder):
    """Encoders side by side on one raw row of ``n_features`` columns: each part reads the
    whole row (usually through a crop of its own columns, see :meth:`_Encoder.crop`) and the
    output is the parts' bits one after the other.  Built from fitted parts; ``fit(X)``
    refits every part on its columns of X."""
    type_name = "concat"

    def __init__(self, parts, n_features: int):
        super().__init__()
        parts = list(parts)
        if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
            raise ValueError(f"n_features must be a positive int, got {n_features!r}")
        for i, p in enumerate(parts):
            if not isinstance(p, _Encoder) or isinstance(p, ConcatEncoder):
                raise TypeError(f"part {i} must be a (non-concat) dlgn encoder, got "
                                f"{type(p).__name__}")
            if p.fitted and p.n_raw_features != n_features:
                raise ValueError(f"part {i} reads {p.n_raw_features} raw features, the "
                                 f"encoder {n_features}")
        self.parts = nn.ModuleList(parts)
        self._n_features = int(n_features)

    def fit(self, X):
        X = check_features(X, self._n_features)
        for p in self.parts:
            p.fit(X if p.select is None else X[:, p.select])
        return self

    @property
    def n_bits(self) -> int:
        return sum(p.n_bits for p in self.parts)

    def forward(self, X) -> torch.Tensor:
        X = _check_torch(self._select(X), self._n_features)
        outs = [p(X) for p in self.parts]
        if not outs:
            return X.new_zeros((X.shape[0], 0)).to(torch.get_default_dtype())
        return torch.cat(outs, dim=1)

    def to_dict(self) -> dict:
        return self._crop_dict({"type": self.type_name, "n_features": self._n_features,
                                "parts": [p.to_dict() for p in self.parts]})

    @classmethod
    def _from_dict(cls, d):
        return cls([encoder_from_dict(p) for p in d["parts"]], d["n_features"])


_TYPES = {c.type_name: c for c in (ThermometerEncoder, OneHotEncoder, IdentityEncoder,
                                   ConcatEncoder)}


def encoder_from_dict(d: dict):
    """Rebuild any encoder from its ``to_dict()``."""
    check_encoder_dict(d)
    return _TYPES[d["type"]].from_dict(d)
