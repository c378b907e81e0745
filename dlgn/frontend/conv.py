"""Convolutional logic layers: logic-tree convolutions and OR pooling (LogicTreeNet).

Both modules read and return flat features ``[batch, features]`` like :class:`LogicLayer`
(so they chain with it and lower through the same builder), laid out as images:

* :class:`LogicConv2d` -- output channel ``o`` at position ``(y, x)`` is a tree of
  ``arity``-input gates of ``depth`` levels over ``arity ** depth`` leaves drawn from its
  receptive field (``kernel_size`` x ``kernel_size`` cells of ``tree_channels`` input
  channels chosen per output channel), with stride and zero padding.  The gates' truth
  tables are shared by every position (that is the convolution).  Output feature
  ``(o * H_out + y) * W_out + x``.
* :class:`OrPool2d` -- max over ``kernel_size`` x ``kernel_size`` windows in training, OR
  once discretized (the same function on 0/1 inputs).

The input of a conv is ``in_shape = (C, H, W)``; ``interleave = n`` reads encoded images
whose bits are pixel-major (a thermometer encoder's ``n`` bits per pixel: feature
``((c * H + y) * W + x) * n + b`` is channel ``c * n + b``), so an encoder's output feeds
the first conv without a copy.

Memory: the training forward gathers each tree's leaves once per position (what the first
level's gates read, [channels x leaves x positions, batch]) and every later level reads the
one below as a view (no copy); the backward saves those gathered leaves and the levels'
differences only.  Measured in benchmarks/conv_mnist.py.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dlgn.compiler.builder import FALSE, NetlistBuilder
from dlgn.compiler.gates import MAX_ARITY
from dlgn.compiler.shared import ConvStage, PoolStage, or_reduce
from .functional import tree_level
from .layer import BACKENDS, ESTIMATORS, INITS, PARAMETRIZATIONS, GateTables, _choice, \
    init_gate_weight, triton_for
from .relax import PHI_NAMES

__all__ = ["LogicConv2d", "OrPool2d"]

#: eval-mode columns (positions x batch rows) per gathered row chunk: bounds the memory
_EVAL_ELEMENTS = 1 << 25


def _shape3(name, shape) -> tuple[int, int, int]:
    try:
        c, h, w = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (channels, height, width), got {shape!r}") from None
    if min(c, h, w) < 1:
        raise ValueError(f"{name} must be positive, got {(c, h, w)}")
    return c, h, w


def _int(name, v, lo, hi=None) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo \
            or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ValueError(f"{name} must be an int {rng}, got {v!r}")
    return int(v)


def _feature_major(x: torch.Tensor, n: int, what: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} expects a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 2 or x.shape[1] != n:
        raise ValueError(f"{what} expects input [batch, {n}], got {tuple(x.shape)}")
    return x.t().contiguous()


class _ImageModule(nn.Module):
    """A module reading a ``(C, H, W)`` image as flat features."""

    in_shape: tuple

    @property
    def in_features(self) -> int:
        C, H, W = self.in_shape
        return C * H * W


class LogicConv2d(GateTables, _ImageModule):
    """A convolution of logic trees (see the module docstring).

    Parameters: ``weight`` [out_channels * nodes, 2**arity] (IWP) or [..., 16] (OP, arity
    2): the tree nodes of every channel, level by level (level 1's ``out_channels x
    leaves / arity`` nodes first, channel-major), shared by all positions.  Buffer
    ``leaf`` long [out_channels, leaves, 3]: the (input channel, dy, dx) of every leaf.
    ``estimator="hard"`` forwards every node's output thresholded at 0.5 with the
    relaxation's gradient; ``"gumbel"`` does the same on truth tables perturbed by the
    Gumbel-max trick's noise (as :class:`LogicLayer`'s, drawn anew every forward).
    ``init_z``: the residual init's logit (default that of
    :data:`dlgn.frontend.layer.RI_MU`).  ``backend``: as :class:`LogicLayer`'s ("auto":
    Triton on CUDA tensors); with Triton each tree level of the training forward is one
    call of the fused kernels of :mod:`dlgn.frontend.triton_layer` over positions x samples
    (the leaf gather stays one ``index_select``)."""

    def __init__(self, in_shape, out_channels: int, kernel_size: int = 3, depth: int = 2,
                 arity: int = 2, tree_channels: int = 2, stride: int = 1, padding: int = 0,
                 interleave: int = 1, parametrization: str = "iwp", init: str = "residual",
                 phi: str = "sigmoid", estimator: str = "soft", init_z: float | None = None,
                 seed: int | None = None, generator: torch.Generator | None = None,
                 backend: str = "auto"):
        super().__init__()
        _choice("parametrization", parametrization, PARAMETRIZATIONS)
        _choice("backend", backend, BACKENDS)
        self.backend = backend
        _choice("init", init, INITS)
        _choice("phi", phi, PHI_NAMES)
        _choice("estimator", estimator, ESTIMATORS)
        self.in_shape = _shape3("in_shape", in_shape)
        C, H, W = self.in_shape
        self.out_channels = _int("out_channels", out_channels, 1)
        self.kernel_size = _int("kernel_size", kernel_size, 1)
        self.depth = _int("depth", depth, 1, 8)
        self.arity = _int("arity", arity, 1, MAX_ARITY)
        self.tree_channels = _int("tree_channels", tree_channels, 1)
        self.stride = _int("stride", stride, 1)
        self.padding = _int("padding", padding, 0)
        self.interleave = _int("interleave", interleave, 1)
        if C % self.interleave:
            raise ValueError(f"interleave {self.interleave} does not divide the {C} channels")
        if parametrization == "op" and self.arity != 2:
            raise ValueError("the OP parametrization is only supported for arity 2")
        if self.arity ** self.depth > 4096:
            raise ValueError(f"a tree of depth {self.depth} and arity {self.arity} has "
                             f"{self.arity ** self.depth} leaves (at most 4096)")
        k, s, p = self.kernel_size, self.stride, self.padding
        if H + 2 * p < k or W + 2 * p < k:
            raise ValueError(f"a {k}x{k} kernel does not fit a {H}x{W} input padded by {p}")
        self.out_hw = ((H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1)
        self.parametrization, self.init, self.phi = parametrization, init, phi
        self.estimator = estimator
        self.init_z = None if init_z is None else float(init_z)
        gen = generator if generator is not None else torch.Generator().manual_seed(
            int(seed) if seed is not None else int(torch.randint(0, 2 ** 62, (1,)).item()))
        self.register_buffer("leaf", self._draw_leaves(gen))
        self.register_buffer("gidx", torch.from_numpy(self._gather_index()), persistent=False)
        self.weight = nn.Parameter(init_gate_weight(self.out_channels * self.n_nodes,
                                                    self.arity, parametrization, init, phi,
                                                    gen, self.init_z))

    # ------------------------------------------------------------------ geometry
    @property
    def n_leaves(self) -> int:
        return self.arity ** self.depth

    @property
    def level_sizes(self) -> list[int]:
        """Nodes per tree at each level, from the leaves' level up: L/a, L/a**2, ..., 1."""
        return [self.arity ** (self.depth - 1 - i) for i in range(self.depth)]

    @property
    def n_nodes(self) -> int:
        """Gates per tree."""
        return sum(self.level_sizes)

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (self.out_channels, *self.out_hw)

    @property
    def out_features(self) -> int:
        return self.out_channels * self.out_hw[0] * self.out_hw[1]

    @property
    def n_positions(self) -> int:
        return self.out_hw[0] * self.out_hw[1]

    @property
    def n_gates(self) -> int:
        """Gates of the flat (every position its own) form."""
        return self.out_channels * self.n_nodes * self.n_positions

    def _draw_leaves(self, gen) -> torch.Tensor:
        C = self.in_shape[0]
        k, L, O = self.kernel_size, self.n_leaves, self.out_channels
        tc = min(self.tree_channels, C)
        cells = tc * k * k
        leaf = torch.empty(O, L, 3, dtype=torch.long)
        for o in range(O):
            chans = torch.randperm(C, generator=gen)[:tc]
            # distinct cells while there are enough, then every cell once more, and so on
            pick = torch.cat([torch.randperm(cells, generator=gen)
                              for _ in range(-(-L // cells))])[:L]
            pick = pick[torch.randperm(L, generator=gen)]
            leaf[o, :, 0] = chans[pick // (k * k)]
            leaf[o, :, 1] = (pick % (k * k)) // k
            leaf[o, :, 2] = pick % k
        return leaf

    def input_index(self, ch, y, x):
        """Feature index of input channel ``ch`` at ``(y, x)`` (numpy arrays broadcast)."""
        C, H, W = self.in_shape
        n = self.interleave
        return (((ch // n) * H + y) * W + x) * n + ch % n

    def _gather_index(self) -> np.ndarray:
        """int64 [out_channels * leaves * positions]: the input feature each leaf reads at
        each output position (``in_features``, one past the last, for the zero padding)."""
        C, H, W = self.in_shape
        Ho, Wo = self.out_hw
        lf = self.leaf.cpu().numpy()
        ch, dy, dx = lf[..., 0, None], lf[..., 1, None], lf[..., 2, None]     # [O, L, 1]
        py, px = np.divmod(np.arange(Ho * Wo), Wo)
        yy = py[None, None, :] * self.stride + dy - self.padding
        xx = px[None, None, :] * self.stride + dx - self.padding
        ok = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
        idx = np.where(ok, self.input_index(ch, np.clip(yy, 0, H - 1), np.clip(xx, 0, W - 1)),
                       self.in_features)
        return idx.reshape(-1).astype(np.int64)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self.gidx = torch.from_numpy(self._gather_index()).to(self.leaf.device)

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xt = _feature_major(x, self.in_features, type(self).__name__)
        if self.training:
            if not xt.dtype.is_floating_point:
                raise TypeError(f"training-mode input must be floating point, got {xt.dtype}")
            omega = self._noisy_omega() if self.estimator == "gumbel" else self.omega()
            return self._trees(xt, omega, self.estimator != "soft",
                               triton_for(self.backend, xt)).t()
        dtype = xt.dtype if xt.dtype.is_floating_point else torch.float32
        bits = (xt >= 0.5) if xt.dtype.is_floating_point else (xt != 0)
        tab = self.table_bits().to(dtype)
        B = bits.shape[1]
        step = max(1, _EVAL_ELEMENTS // max(1, self.out_channels * self.n_leaves
                                            * self.n_positions))
        outs = [self._trees(bits[:, i:i + step].to(dtype), tab, False)
                for i in range(0, B, step)] if B else [self._trees(bits.to(dtype), tab, False)]
        return torch.cat(outs, dim=1).t()

    def _trees(self, xt: torch.Tensor, omega: torch.Tensor, hard: bool,
               triton=None) -> torch.Tensor:
        """xt[in, B] (feature-major) -> [out_features, B]; ``triton``: the Triton kernels
        module, to run each level through (else :func:`tree_level`)."""
        B = xt.shape[1]
        ext = torch.cat([xt, xt.new_zeros(1, B)])
        v = ext.index_select(0, self.gidx.to(xt.device))
        M = self.n_positions * B
        a, off = self.arity, 0
        for n in self.level_sizes:
            rows = self.out_channels * n
            if triton is not None:      # level = a dense layer over consecutive rows
                idx = torch.arange(rows * a, dtype=torch.int32, device=v.device).view(rows, a)
                v = triton.logic_forward_triton_fm(v.reshape(rows * a, M), idx,
                                                   omega[off:off + rows], check_index=False)
            else:
                v = tree_level(v.view(rows, a, M), omega[off:off + rows])
            off += rows
            if hard:
                v = v + ((v >= 0.5).to(v.dtype) - v).detach()
        return v.view(self.out_features, B)

    # ------------------------------------------------------------------ compile
    def _level_tables(self) -> list[np.ndarray]:
        tabs, out, off = self.tables(), [], 0
        for n in self.level_sizes:
            out.append(tabs[off:off + self.out_channels * n])
            off += self.out_channels * n
        return out

    def _build(self, builder, lits: np.ndarray, n_pos: int) -> np.ndarray:
        """Add the trees to ``builder``: ``lits`` [O, L, n_pos] the leaves' literals ->
        the roots' literals [O, n_pos] (gates in the order level, channel, node, position)."""
        O, a = self.out_channels, self.arity
        for n, tab in zip(self.level_sizes, self._level_tables()):
            fan = lits.reshape(O, n, a, n_pos).transpose(0, 1, 3, 2).reshape(-1, a)
            lits = builder.add(fan, np.repeat(tab, n_pos)).reshape(O, n, n_pos)
        return lits.reshape(O, n_pos)

    def lower(self, builder, in_lits) -> np.ndarray:
        """The flat form: every position its own gates; padding reads constant 0."""
        if len(in_lits) != self.in_features:
            raise ValueError(f"{type(self).__name__} reads {self.in_features} features, "
                             f"got {len(in_lits)} literals")
        ext = np.append(np.asarray(in_lits, dtype=np.int64), FALSE)
        lits = ext[self._gather_index()].reshape(self.out_channels, self.n_leaves,
                                                 self.n_positions)
        return self._build(builder, lits, self.n_positions).reshape(-1)

    def kernel(self):
        """The weight-shared form: the netlist of one position.  Inputs: the receptive
        field, cell ``(ch * k + dy) * k + dx`` for every input channel ``ch``; outputs: the
        ``out_channels`` roots."""
        C, k = self.in_shape[0], self.kernel_size
        b = NetlistBuilder(C * k * k, rewrite=False, capacity=self.out_channels * self.n_nodes)
        lf = self.leaf.cpu().numpy()
        cell = (lf[..., 0] * k + lf[..., 1]) * k + lf[..., 2]
        lits = b.input_lits()[cell][..., None]
        return b.finish(self._build(b, lits, 1).reshape(-1))

    def stage(self) -> ConvStage:
        """The weight-shared form of this convolution (the compiler's ConvStage)."""
        return ConvStage(self.in_shape, self.kernel_size, self.stride, self.padding,
                         self.kernel(), self.interleave)

    def extra_repr(self) -> str:
        return (f"in_shape={self.in_shape}, out_channels={self.out_channels}, "
                f"kernel_size={self.kernel_size}, depth={self.depth}, arity={self.arity}, "
                f"tree_channels={self.tree_channels}, stride={self.stride}, "
                f"padding={self.padding}, parametrization={self.parametrization!r}"
                + (f", interleave={self.interleave}" if self.interleave != 1 else "")
                + (f", estimator={self.estimator!r}" if self.estimator != "soft" else "")
                + (f", backend={self.backend!r}" if self.backend != "auto" else ""))


class OrPool2d(_ImageModule):
    """Max pooling over ``kernel_size`` windows (``stride`` default: the kernel size, no
    padding, the last rows and columns that do not fill a window are dropped); OR when
    discretized.  No parameters."""

    def __init__(self, in_shape, kernel_size: int = 2, stride: int | None = None):
        super().__init__()
        self.in_shape = _shape3("in_shape", in_shape)
        self.kernel_size = _int("kernel_size", kernel_size, 1)
        self.stride = self.kernel_size if stride is None else _int("stride", stride, 1)
        C, H, W = self.in_shape
        k, s = self.kernel_size, self.stride
        if H < k or W < k:
            raise ValueError(f"a {k}x{k} pooling window does not fit a {H}x{W} input")
        self.out_hw = ((H - k) // s + 1, (W - k) // s + 1)

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (self.in_shape[0], *self.out_hw)

    @property
    def out_features(self) -> int:
        return self.in_shape[0] * self.out_hw[0] * self.out_hw[1]

    @property
    def n_gates(self) -> int:
        return self.out_features * (1 if self.kernel_size ** 2 <= MAX_ARITY
                                    else self.kernel_size ** 2 - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xt = _feature_major(x, self.in_features, type(self).__name__)
        if not self.training or not xt.dtype.is_floating_point:
            dtype = xt.dtype if xt.dtype.is_floating_point else torch.float32
            xt = ((xt >= 0.5) if xt.dtype.is_floating_point else (xt != 0)).to(dtype)
        C, H, W = self.in_shape
        x4 = xt.view(C, H, W, -1)
        (Ho, Wo), k, s = self.out_hw, self.kernel_size, self.stride
        out = None
        for dy in range(k):
            for dx in range(k):
                sl = x4[:, dy:dy + s * (Ho - 1) + 1:s, dx:dx + s * (Wo - 1) + 1:s]
                out = sl if out is None else torch.maximum(out, sl)
        return out.reshape(self.out_features, -1).t()

    def stage(self) -> PoolStage:
        """The compiler's description of this pooling."""
        return PoolStage(self.in_shape, self.kernel_size, self.stride)

    def lower(self, builder, in_lits) -> np.ndarray:
        """One OR gate per window (two-input ORs first past 6 inputs)."""
        if len(in_lits) != self.in_features:
            raise ValueError(f"{type(self).__name__} reads {self.in_features} features, "
                             f"got {len(in_lits)} literals")
        return or_reduce(builder, np.asarray(in_lits, dtype=np.int64)[self.stage().window_index()])

    def extra_repr(self) -> str:
        return f"in_shape={self.in_shape}, kernel_size={self.kernel_size}, stride={self.stride}"

