"""ConvLogicNet: encoder, logic-tree convolutions with OR pooling, dense logic layers and
GroupSum -- a LogicTreeNet-style convolutional DLGN.

``conv`` lists the blocks, each a dict: ``channels`` (required), ``kernel`` (3), ``depth``
(tree levels, 2), ``arity`` (gate inputs of the tree nodes, default the net's
``tree_arity``), ``tree_channels`` (input channels one tree reads, 2), ``stride`` (1),
``padding`` (0) and ``pool`` (OR pooling window after the conv, stride = window; 0 or 1:
none).  ``image`` is the raw image ``(C, H, W)`` (after the encoder's crop); the encoded
bits of each pixel are the first conv's input channels (``C * bits`` of them).

:meth:`discretize` is the flat netlist (every position its own gates: Verilog, the proofs,
the optimizer), :meth:`discretize_shared` the weight-shared form that the C backend
compiles (:mod:`dlgn.compiler.shared`); the two compute the same function.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dlgn.compiler.builder import NetlistBuilder
from dlgn.compiler.shared import SharedNet
from .conv import LogicConv2d, OrPool2d
from .layer import LogicLayer
from .net import _CONFIG_KEYS, LogicNet

__all__ = ["ConvLogicNet", "BLOCK_KEYS"]

BLOCK_KEYS = ("channels", "kernel", "depth", "arity", "tree_channels", "stride", "padding",
              "pool")
_BLOCK_DEFAULTS = {"kernel": 3, "depth": 2, "tree_channels": 2, "stride": 1, "padding": 0,
                   "pool": 0}


def _blocks(conv) -> list[dict]:
    if not isinstance(conv, (list, tuple)) or not conv:
        raise ValueError("conv must be a non-empty list of block dicts")
    out = []
    for i, blk in enumerate(conv):
        if not isinstance(blk, dict) or "channels" not in blk:
            raise ValueError(f"conv block {i} must be a dict with 'channels', got {blk!r}")
        unknown = set(blk) - set(BLOCK_KEYS)
        if unknown:
            raise ValueError(f"conv block {i}: unknown keys {sorted(unknown)} "
                             f"(known: {', '.join(BLOCK_KEYS)})")
        out.append({**_BLOCK_DEFAULTS, **blk})
    return out


class ConvLogicNet(LogicNet):
    """A convolutional Light DLGN (see the module docstring); the other arguments are those
    of :class:`LogicNet` (``arity``, ``connections`` ... apply to the dense layers)."""

    _CONFIG_KEYS = _CONFIG_KEYS + ("conv", "image", "tree_arity", "init_z")

    def __init__(self, in_features: int, image, conv, layers=(), n_classes: int = 10,
                 arity: int = 2, tree_arity: int = 2, parametrization: str = "iwp",
                 init: str = "residual", tau: float = 10.0, connections: str = "random",
                 phi: str = "sigmoid", encoder=None, backend: str = "auto",
                 seed: int | None = None, candidates: int = 8, selection: str = "hard",
                 estimator: str = "soft", init_z: float | None = None,
                 head_weights: int = 0):
        nn.Module.__init__(self)
        if isinstance(layers, (int, np.integer)):
            layers = [int(layers)]
        layers = [int(w) for w in layers]
        blocks = _blocks(conv)
        seed = self._setup_io(in_features, encoder, n_classes, tau, seed)
        try:
            C, H, W = (int(v) for v in image)
        except (TypeError, ValueError):
            raise ValueError(f"image must be (channels, height, width), got {image!r}") from None
        if C * H * W != self._in_features:
            raise ValueError(f"image {(C, H, W)} has {C * H * W} pixels but the net reads "
                             f"{self._in_features} raw features")
        if self.n_inputs % (C * H * W):
            raise ValueError(f"the encoder gives {self.n_inputs} bits, not a whole number per "
                             f"pixel of the {C}x{H}x{W} image")
        bits = self.n_inputs // (C * H * W)
        gen = torch.Generator().manual_seed(int(seed))
        mods, shape = [], (C * bits, H, W)
        for i, blk in enumerate(blocks):
            cv = LogicConv2d(shape, blk["channels"], blk["kernel"], blk["depth"],
                             blk.get("arity", tree_arity), blk["tree_channels"], blk["stride"],
                             blk["padding"], interleave=bits if i == 0 else 1,
                             parametrization=parametrization, init=init, phi=phi,
                             estimator=estimator,
                             init_z=init_z, generator=gen, backend=backend)
            mods.append(cv)
            shape = cv.out_shape
            if blk["pool"] and blk["pool"] > 1:
                mods.append(OrPool2d(shape, blk["pool"]))
                shape = mods[-1].out_shape
        width = int(np.prod(shape))
        widths = [width] + layers
        per_layer = list(candidates) if isinstance(candidates, (list, tuple)) \
            else [candidates] * len(layers)
        if len(per_layer) != len(layers):
            raise ValueError(f"candidates: one per dense layer ({len(layers)}), got "
                             f"{len(per_layer)}")
        mods += [LogicLayer(widths[i], widths[i + 1], arity, parametrization, init,
                            connections, phi, backend, generator=gen,
                            candidates=per_layer[i], selection=selection, estimator=estimator)
                 for i in range(len(layers))]
        self._set_head(n_classes, tau, widths[-1], head_weights)
        self.layers = nn.ModuleList(mods)
        self.config = {"in_features": int(in_features), "image": [C, H, W], "conv": blocks,
                       "layers": layers, "tree_arity": int(tree_arity)}
        self._finish_config(n_classes, arity, parametrization, init, tau, connections, phi,
                            backend, seed, candidates, per_layer, selection, estimator)
        if init_z is not None:
            self.config["init_z"] = float(init_z)
        if head_weights:
            self.config["head_weights"] = int(head_weights)

    @property
    def image_modules(self) -> list:
        return [m for m in self.layers if isinstance(m, (LogicConv2d, OrPool2d))]

    def discretize_shared(self) -> SharedNet:
        """The weight-shared form: one kernel netlist per conv, the pooling windows, and the
        dense layers with the head as the tail netlist."""
        image = self.image_modules
        stages = [m.stage() for m in image]
        dense = self.layers[len(image):]
        n_tail = image[-1].out_features
        b = NetlistBuilder(n_tail, rewrite=False,
                           capacity=sum(m.out_features for m in dense))
        lits = b.input_lits()
        for m in dense:
            lits = m.lower(b, lits)
        lits, sizes = self.head.lower_groups(b, lits)
        encoder = self.encoder.to_dict() if self.encoder is not None else None
        tail = b.finish(lits, group_sizes=sizes, tau=self.head.effective_tau)
        return SharedNet(stages, tail, {"encoder": encoder, "config": self.config})
