"""LogicNet: encoder (optional) + LogicLayers + GroupSum, and its discretization.

``net(x)`` returns class scores (GroupSum counts / tau).  In ``train()`` mode the layers
are relaxed; in ``eval()`` mode they are the discretized gates, and the predictions equal
those of the reference simulator on ``net.discretize()`` bit for bit.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dlgn.compiler.builder import NetlistBuilder
from dlgn.compiler.netlist import Netlist
from .encoders import _Encoder, encoder_from_dict
from .head import GroupSum
from .layer import LogicLayer

__all__ = ["LogicNet"]

_CONFIG_KEYS = ("in_features", "layers", "n_classes", "arity", "parametrization", "init", "tau",
                "connections", "phi", "encoder", "backend", "seed", "candidates", "selection",
                "estimator", "head_weights")


class LogicNet(nn.Module):
    """A Light DLGN: ``layers`` widths of ``arity``-input gates and a GroupSum head.

    ``encoder``: a fitted encoder module (or its ``to_dict()``); ``in_features`` is then the
    encoder's raw feature count and the netlist reads the encoded bits.  ``seed`` fixes the
    connections and the initialization (None: a random seed, recorded in ``config``).
    ``connections="learned"``: ``candidates`` (an int, or one per layer) and ``selection``
    go to every :class:`LogicLayer`, as does ``estimator``.  ``head_weights=W`` (1..15)
    learns an integer weight in 0..W for every output bit (see :class:`GroupSum`); 0 is
    the plain GroupSum."""

    _CONFIG_KEYS = _CONFIG_KEYS

    def __init__(self, in_features: int, layers=(8000,) * 4, n_classes: int = 10, arity: int = 2,
                 parametrization: str = "iwp", init: str = "residual", tau: float = 10.0,
                 connections: str = "random", phi: str = "sigmoid", encoder=None,
                 backend: str = "auto", seed: int | None = None, candidates: int = 8,
                 selection: str = "hard", estimator: str = "soft", head_weights: int = 0):
        super().__init__()
        if isinstance(layers, (int, np.integer)):
            layers = [int(layers)]
        layers = [int(w) for w in layers]
        if not layers:
            raise ValueError("a LogicNet needs at least one layer")
        seed = self._setup_io(in_features, encoder, n_classes, tau, seed)
        self._set_head(n_classes, tau, layers[-1], head_weights)
        gen = torch.Generator().manual_seed(int(seed))
        widths = [self.n_inputs] + layers
        per_layer = list(candidates) if isinstance(candidates, (list, tuple)) \
            else [candidates] * len(layers)
        if len(per_layer) != len(layers):
            raise ValueError(f"candidates: one per layer ({len(layers)}), got {len(per_layer)}")
        self.layers = nn.ModuleList(
            LogicLayer(widths[i], widths[i + 1], arity, parametrization, init, connections, phi,
                       backend, generator=gen, candidates=per_layer[i], selection=selection,
                       estimator=estimator) for i in range(len(layers)))
        self.config = {"in_features": int(in_features), "layers": layers}
        self._finish_config(n_classes, arity, parametrization, init, tau, connections, phi,
                            backend, seed, candidates, per_layer, selection, estimator)
        if head_weights:
            self.config["head_weights"] = int(head_weights)

    def _set_head(self, n_classes, tau, width: int, head_weights) -> None:
        """Check that the last width splits into the classes; a learned head for
        ``head_weights`` > 0 (the plain one :meth:`_setup_io` made otherwise)."""
        self.head.group_sizes(width)  # raises if the last width is not divisible
        if head_weights:
            self.head = GroupSum(int(n_classes), tau, max_weight=head_weights, width=width)

    def _finish_config(self, n_classes, arity, parametrization, init, tau, connections, phi,
                       backend, seed, candidates, per_layer, selection, estimator) -> None:
        """The rest of ``config`` (JSON types): what every LogicNet records."""
        self.config.update({"n_classes": int(n_classes), "arity": int(arity),
                            "parametrization": parametrization, "init": init,
                            "tau": float(tau), "connections": connections, "phi": phi,
                            "encoder": self.encoder.to_dict() if self.encoder is not None
                            else None, "backend": backend, "seed": int(seed)})
        if connections == "learned":
            self.config.update(candidates=[int(c) for c in per_layer]
                               if isinstance(candidates, (list, tuple)) else int(candidates),
                               selection=selection)
        if estimator != "soft":
            self.config["estimator"] = estimator

    def _setup_io(self, in_features, encoder, n_classes, tau, seed) -> int:
        """Validate and set the encoder, the raw feature count and the head; returns the
        seed (drawn when None)."""
        if isinstance(in_features, bool) or not isinstance(in_features, (int, np.integer)) \
                or in_features < 1:
            raise ValueError(f"in_features must be a positive int, got {in_features!r}")
        if isinstance(encoder, dict):
            encoder = encoder_from_dict(encoder)
        if encoder is not None:
            if not isinstance(encoder, _Encoder):
                raise TypeError(f"encoder must be a dlgn encoder or its dict, got "
                                f"{type(encoder).__name__}")
            if not encoder.fitted:
                raise ValueError("the encoder must be fitted before building the LogicNet")
            if encoder.n_raw_features != in_features:
                raise ValueError(f"in_features={in_features} but the encoder reads "
                                 f"{encoder.n_raw_features} raw features")
        if seed is None:
            seed = int(torch.randint(0, 2 ** 31 - 1, (1,)).item())
        self.encoder = encoder
        self._in_features = int(in_features)
        self.head = GroupSum(int(n_classes), tau)
        return int(seed)

    @classmethod
    def from_config(cls, config: dict) -> "LogicNet":
        if not isinstance(config, dict):
            raise TypeError(f"a LogicNet config is a dict, got {type(config).__name__}")
        unknown = set(config) - set(cls._CONFIG_KEYS)
        if unknown or "in_features" not in config:
            raise ValueError(f"bad LogicNet config: unknown keys {sorted(unknown)}"
                             if unknown else "bad LogicNet config: no in_features")
        return cls(**config)

    # ------------------------------------------------------------------ sizes
    @property
    def n_inputs(self) -> int:
        """Input bits of the first layer (= of the netlist)."""
        return self.encoder.n_bits if self.encoder is not None else self._in_features

    @property
    def n_gates(self) -> int:
        """Gates of the discretized net (a convolution's at every position)."""
        return sum(getattr(m, "n_gates", m.out_features) for m in self.layers)

    # ------------------------------------------------------------------ forward
    def encode(self, x) -> torch.Tensor:
        """Raw features -> input bits (float 0/1 tensor) through the encoder; without an
        encoder, the input is validated and returned as a float tensor."""
        if self.encoder is not None:
            return self.encoder(x)
        if isinstance(x, np.ndarray):
            x = torch.from_numpy(x)
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"LogicNet expects a torch.Tensor or numpy array, got {type(x).__name__}")
        if x.dim() != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"LogicNet expects input [batch, {self.n_inputs}], got {tuple(x.shape)}")
        if x.is_complex():
            raise TypeError(f"LogicNet input must be real, got {x.dtype}")
        if not x.dtype.is_floating_point:
            x = x.to(torch.get_default_dtype())
        if x.numel() and torch.isnan(x).any():
            raise ValueError("LogicNet input contains NaN")
        return x

    def forward(self, x) -> torch.Tensor:
        return self.forward_bits(self.encode(x))

    def forward_bits(self, bits: torch.Tensor) -> torch.Tensor:
        """Class scores from the encoded input bits: the layers, then the head.  This is
        the one "layers then head" that ``forward``, training and ``dlgn verify`` use."""
        w = self.layers[0].weight
        h = bits.to(device=w.device, dtype=w.dtype if bits.dtype.is_floating_point else None)
        for layer in self.layers:
            h = layer(h)
        return self.head(h)

    @torch.no_grad()
    def predict(self, x) -> torch.Tensor:
        """Predicted classes (first maximum on ties) of the discretized net, long [N]."""
        was = self.training
        self.eval()
        try:
            return self(x).argmax(dim=1)
        finally:
            self.train(was)

    # ------------------------------------------------------------------ compile
    def discretize(self) -> Netlist:
        """The discretized net as a :class:`dlgn.compiler.Netlist` (inputs: the encoded bits).

        Each module lowers itself (``lower(builder, in_lits) -> out_lits``), in the order
        :meth:`forward_bits` runs them; nothing is folded here (``dlgn.compiler.optimize``
        does that), so gate j of layer l is the netlist's gate (gates before l) + j."""
        b = NetlistBuilder(self.n_inputs, rewrite=False, capacity=self.n_gates)
        lits = b.input_lits()
        for module in self.layers:
            lits = module.lower(b, lits)
        lits, sizes = self.head.lower_groups(b, lits)
        # the encoder as it is now (learnable thresholds have moved since the config)
        encoder = self.encoder.to_dict() if self.encoder is not None else None
        return b.finish(lits, group_sizes=sizes, tau=self.head.effective_tau,
                        meta={"encoder": encoder, "config": self.config})
