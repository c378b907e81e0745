"""The weight-shared form of a convolutional logic net: kernel netlists and where they apply.

A :class:`SharedNet` is a chain of image stages and a tail:

* :class:`ConvStage` -- one kernel :class:`~dlgn.compiler.netlist.Netlist` applied at every
  output position of a ``(C, H, W)`` input: its inputs are the receptive field, cell
  ``(ch * k + dy) * k + dx`` of every input channel ``ch``, read at input row
  ``y * stride + dy - padding`` and column ``x * stride + dx - padding`` (0 outside the
  image); its outputs are the output channels at that position.  Output feature
  ``(o * H_out + y) * W_out + x``.  The first stage may read pixel-major encoded bits
  (``interleave`` = bits per pixel: feature ``((c * H + y) * W + x) * n + b`` is channel
  ``c * n + b``); later stages read the channel-major layout the stages write.
* :class:`PoolStage` -- the OR of every ``kernel`` x ``kernel`` window (stride ``stride``).
* ``tail`` -- a plain Netlist over the last stage's features (the dense layers and the
  GroupSum head).

It is what the C backend compiles (one kernel function called in a loop over positions,
however many positions there are).  :meth:`SharedNet.expand` builds the **flat** form --
every position its own gates, padding as constant fan-ins, pooling as OR gates -- through
the builder: what Verilog, the proofs and the optimizer use.  :func:`simulate_shared` is
the reference semantics of the shared form itself, stage by stage (tests check it against
the flat form's simulator and every backend).

File format: a SharedNet is stored as one ordinary netlist file (the hardened reader of
:meth:`Netlist.load`): the **packed** netlist, whose inputs, gates and outputs are those of
the kernel netlists and the tail side by side (block-diagonal), with ``meta["shared"]``
describing the stages and the parts.  :meth:`SharedNet.from_netlist` validates and splits it;
no tool reads a packed netlist as a plain one by mistake (:func:`is_packed` tells them).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np

from .builder import FALSE, NetlistBuilder
from .gates import MAX_ARITY
from .netlist import Netlist, NetlistError, NetlistFormatError

__all__ = ["ConvStage", "PoolStage", "SharedNet", "SharedNetError", "inline", "or_table",
           "or_reduce", "simulate_shared", "is_packed", "load_shared", "SHARED_FORMAT",
           "prune_channels", "optimize_shared", "buffer_layout"]

SHARED_FORMAT = "dlgn-shared"
SHARED_VERSION = 1
_MAX_STAGES = 64
_MAX_DIM = 1 << 16


class SharedNetError(NetlistError):
    """A SharedNet (or its packed netlist) violates one of its invariants."""


def or_table(k: int) -> int:
    """The truth table of the k-input OR (0 only on the all-zeros input)."""
    return (1 << (1 << k)) - 2


def or_reduce(builder: NetlistBuilder, win) -> np.ndarray:
    """Literals of the OR of each row of literals ``win`` [n, m]: one gate for m <= 6, else
    two-input ORs pairwise until 6 remain."""
    win = np.asarray(win, dtype=np.int64)
    while win.shape[1] > MAX_ARITY:
        m = win.shape[1]
        pairs = builder.add(win[:, :m - m % 2].reshape(-1, 2),
                            np.full(win.shape[0] * (m // 2), or_table(2), np.uint64))
        win = np.concatenate([pairs.reshape(win.shape[0], m // 2), win[:, m - m % 2:]], axis=1)
    if win.shape[1] == 1:
        return win[:, 0].copy()
    return builder.add(win, np.full(win.shape[0], or_table(win.shape[1]), np.uint64))


def inline(builder: NetlistBuilder, net: Netlist, in_lits) -> np.ndarray:
    """Add ``net``'s gates to ``builder`` reading ``in_lits`` [n_inputs, P] (P copies side
    by side, e.g. one per position); returns its output literals [n_outputs, P], output
    polarity applied.  Gates are added one level of ``net`` at a time, each level in
    ``net``'s gate order and each gate's P copies together."""
    lits_in = np.asarray(in_lits, dtype=np.int64)
    if lits_in.ndim == 1:
        lits_in = lits_in[:, None]
    if lits_in.shape[0] != net.n_inputs:
        raise SharedNetError(f"inline: the netlist reads {net.n_inputs} inputs, got "
                             f"{lits_in.shape[0]} literal rows")
    P = lits_in.shape[1]
    first = net.first_gate
    lit = np.empty((net.n_nodes, P), dtype=np.int64)
    lit[0], lit[1] = FALSE, FALSE ^ 2
    lit[2:first] = lits_in
    for g in net.level_groups():
        K = max(1, int(net.arity[g].max()))
        fan = lit[net.fanin[g, :K].astype(np.int64)]                     # [n, K, P]
        ar = np.repeat(net.arity[g].astype(np.int64), P)
        made = builder.add(fan.transpose(0, 2, 1).reshape(-1, K),
                           np.repeat(net.table[g], P), arity=ar)
        lit[first + g] = made.reshape(len(g), P)
    return lit[net.outputs.astype(np.int64)] ^ net.invert.astype(np.int64)[:, None]


def _dims(name, v, n=3, lo=1) -> tuple:
    try:
        t = tuple(int(x) for x in v)
    except (TypeError, ValueError):
        raise SharedNetError(f"{name} must be {n} ints, got {v!r}") from None
    if len(t) != n or any(isinstance(x, bool) for x in v) or min(t) < lo or max(t) > _MAX_DIM:
        raise SharedNetError(f"{name} must be {n} ints in {lo}..{_MAX_DIM}, got {v!r}")
    return t


def _count(name, v, lo=0, hi=_MAX_DIM) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise SharedNetError(f"{name} must be an int in {lo}..{hi}, got {v!r}")
    return int(v)


@dataclass(frozen=True, eq=False)
class ConvStage:
    """A kernel netlist applied at every position (see the module docstring)."""
    in_shape: tuple
    kernel: int
    stride: int
    padding: int
    net: Netlist
    interleave: int = 1

    def __post_init__(self):
        object.__setattr__(self, "in_shape", _dims("in_shape", self.in_shape))
        for name in ("kernel", "stride"):
            object.__setattr__(self, name, _count(name, getattr(self, name), 1))
        object.__setattr__(self, "padding", _count("padding", self.padding, 0))
        object.__setattr__(self, "interleave", _count("interleave", self.interleave, 1))
        C, H, W = self.in_shape
        k, p = self.kernel, self.padding
        if C % self.interleave:
            raise SharedNetError(f"interleave {self.interleave} does not divide {C} channels")
        if H + 2 * p < k or W + 2 * p < k:
            raise SharedNetError(f"a {k}x{k} kernel does not fit {H}x{W} padded by {p}")
        if not isinstance(self.net, Netlist):
            raise SharedNetError(f"a conv stage's kernel must be a Netlist, got "
                                 f"{type(self.net).__name__}")
        if self.net.n_inputs != C * k * k:
            raise SharedNetError(f"the kernel reads {self.net.n_inputs} inputs, but a {k}x{k} "
                                 f"field of {C} channels has {C * k * k}")
        if self.net.n_outputs < 1 or self.net.n_classes:
            raise SharedNetError("a kernel netlist needs >= 1 output and no head")

    @property
    def out_hw(self) -> tuple[int, int]:
        _, H, W = self.in_shape
        k, s, p = self.kernel, self.stride, self.padding
        return (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (self.net.n_outputs, *self.out_hw)

    @property
    def n_positions(self) -> int:
        return self.out_hw[0] * self.out_hw[1]

    def field_index(self) -> np.ndarray:
        """int64 [positions, C*k*k]: the input feature each kernel input reads at each
        position (``C*H*W``, one past the last feature, where it reads the zero padding)."""
        C, H, W = self.in_shape
        k, s, p, n = self.kernel, self.stride, self.padding, self.interleave
        Ho, Wo = self.out_hw
        ch, dy, dx = np.unravel_index(np.arange(C * k * k), (C, k, k))
        py, px = np.divmod(np.arange(Ho * Wo), Wo)
        yy = py[:, None] * s + dy[None, :] - p
        xx = px[:, None] * s + dx[None, :] - p
        ok = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
        feat = (((ch // n) * H + np.clip(yy, 0, H - 1)) * W + np.clip(xx, 0, W - 1)) * n + ch % n
        return np.where(ok, feat, C * H * W).astype(np.int64)

    def describe(self) -> dict:
        return {"kind": "conv", "in_shape": list(self.in_shape), "kernel": self.kernel,
                "stride": self.stride, "padding": self.padding, "interleave": self.interleave}


@dataclass(frozen=True, eq=False)
class PoolStage:
    """The OR of every window (no padding; rows and columns past the last full window are
    dropped)."""
    in_shape: tuple
    kernel: int
    stride: int

    def __post_init__(self):
        object.__setattr__(self, "in_shape", _dims("in_shape", self.in_shape))
        object.__setattr__(self, "kernel", _count("kernel", self.kernel, 1))
        object.__setattr__(self, "stride", _count("stride", self.stride, 1))
        _, H, W = self.in_shape
        if H < self.kernel or W < self.kernel:
            raise SharedNetError(f"a {self.kernel}x{self.kernel} window does not fit {H}x{W}")

    @property
    def out_hw(self) -> tuple[int, int]:
        _, H, W = self.in_shape
        return (H - self.kernel) // self.stride + 1, (W - self.kernel) // self.stride + 1

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (self.in_shape[0], *self.out_hw)

    def window_index(self) -> np.ndarray:
        """int64 [C*Ho*Wo, k*k]: the input features of each output's window."""
        C, H, W = self.in_shape
        (Ho, Wo), k, s = self.out_hw, self.kernel, self.stride
        c, y, x = np.unravel_index(np.arange(C * Ho * Wo), (C, Ho, Wo))
        dy, dx = np.divmod(np.arange(k * k), k)
        return ((c[:, None] * H + y[:, None] * s + dy) * W + x[:, None] * s + dx).astype(np.int64)

    def describe(self) -> dict:
        return {"kind": "pool", "in_shape": list(self.in_shape), "kernel": self.kernel,
                "stride": self.stride}


def _features(shape) -> int:
    return int(math.prod(shape))


class SharedNet:
    """Image stages then a tail netlist (see the module docstring)."""

    def __init__(self, stages, tail: Netlist, meta: dict | None = None):
        self.stages = list(stages)
        self.tail = tail
        self.meta = dict(meta or {})
        self.check()

    def check(self) -> "SharedNet":
        if len(self.stages) > _MAX_STAGES:
            raise SharedNetError(f"{len(self.stages)} stages (at most {_MAX_STAGES})")
        if not isinstance(self.tail, Netlist):
            raise SharedNetError(f"the tail must be a Netlist, got {type(self.tail).__name__}")
        prev = None
        for i, st in enumerate(self.stages):
            if not isinstance(st, (ConvStage, PoolStage)):
                raise SharedNetError(f"stage {i} is a {type(st).__name__}, not a stage")
            if i > 0 and getattr(st, "interleave", 1) != 1:
                raise SharedNetError(f"stage {i}: only the first stage reads interleaved bits")
            if prev is not None and tuple(st.in_shape) != tuple(prev):
                raise SharedNetError(f"stage {i} reads {tuple(st.in_shape)} but stage {i - 1} "
                                     f"writes {tuple(prev)}")
            prev = st.out_shape
        if prev is not None and self.tail.n_inputs != _features(prev):
            raise SharedNetError(f"the tail reads {self.tail.n_inputs} features but the last "
                                 f"stage writes {_features(prev)} ({tuple(prev)})")
        for st in self.stages:
            if isinstance(st, ConvStage):
                st.net.check()
        self.tail.check()
        return self

    # ------------------------------------------------------------------ sizes
    @property
    def n_inputs(self) -> int:
        return _features(self.stages[0].in_shape) if self.stages else self.tail.n_inputs

    @property
    def n_outputs(self) -> int:
        return self.tail.n_outputs

    @property
    def n_classes(self) -> int:
        return self.tail.n_classes

    @property
    def group_sizes(self) -> np.ndarray:
        return self.tail.group_sizes

    @property
    def tau(self) -> float:
        return self.tail.tau

    @property
    def n_gates(self) -> int:
        """Gates of the flat form (kernels times positions, pooling ORs, the tail)."""
        total = self.tail.n_gates
        for st in self.stages:
            if isinstance(st, ConvStage):
                total += st.net.n_gates * st.n_positions
            else:
                m = st.kernel * st.kernel
                per = 0 if m == 1 else (1 if m <= MAX_ARITY else m - 1)
                total += _features(st.out_shape) * per
        return total

    @property
    def n_kernel_gates(self) -> int:
        """Gates written once: the kernels' and the tail's."""
        return self.tail.n_gates + sum(st.net.n_gates for st in self.stages
                                       if isinstance(st, ConvStage))

    def __repr__(self) -> str:
        kinds = ",".join("conv" if isinstance(s, ConvStage) else "pool" for s in self.stages)
        return (f"SharedNet(n_inputs={self.n_inputs}, stages=[{kinds}], "
                f"kernel_gates={self.n_kernel_gates}, flat_gates={self.n_gates}, "
                f"n_outputs={self.n_outputs}, n_classes={self.n_classes})")

    # ------------------------------------------------------------------ the flat form
    def expand(self, rewrite=False) -> Netlist:
        """The flat netlist: every position its own copy of its kernel's gates."""
        b = NetlistBuilder(self.n_inputs, rewrite=rewrite, capacity=self.n_gates)
        lits = b.input_lits()
        for st in self.stages:
            lits = stage_lits(b, st, lits)
        out = inline(b, self.tail, lits)[:, 0]
        return b.finish(out, self.tail.group_sizes, self.tail.tau, self.meta_flat())

    def meta_flat(self) -> dict:
        return {k: v for k, v in self.meta.items() if k != "shared"}

    def map_nets(self, fn) -> "SharedNet":
        """A SharedNet with ``fn(netlist)`` applied to every kernel and to the tail (e.g. an
        optimizer: ``fn`` must keep each netlist's inputs and outputs)."""
        stages = [ConvStage(st.in_shape, st.kernel, st.stride, st.padding, fn(st.net),
                            st.interleave) if isinstance(st, ConvStage) else st
                  for st in self.stages]
        return SharedNet(stages, fn(self.tail), self.meta)

    # ------------------------------------------------------------------ packing
    def _parts(self) -> list[Netlist]:
        return [st.net for st in self.stages if isinstance(st, ConvStage)] + [self.tail]

    def to_netlist(self) -> Netlist:
        """The packed netlist (block-diagonal parts, ``meta["shared"]``): the file form."""
        parts = self._parts()
        K = max(p.max_arity for p in parts)
        n_in = sum(p.n_inputs for p in parts)
        first = 2 + n_in
        fans, ars, tabs, outs, invs = [], [], [], [], []
        in_off, g_off = 0, 0
        for p in parts:
            f = np.zeros((p.n_gates, K), dtype=np.int64)
            f[:, :p.max_arity] = p.fanin
            used = np.arange(K)[None, :] < p.arity[:, None].astype(np.int64)
            f = np.where(used, _renumber(f, p, in_off, first + g_off), 0)
            fans.append(f)
            ars.append(p.arity)
            tabs.append(p.table)
            outs.append(_renumber(p.outputs.astype(np.int64), p, in_off, first + g_off))
            invs.append(p.invert)
            in_off += p.n_inputs
            g_off += p.n_gates
        meta = dict(self.meta)
        meta["shared"] = {"format": SHARED_FORMAT, "version": SHARED_VERSION,
                          "stages": [st.describe() for st in self.stages],
                          "parts": [[p.n_inputs, p.n_gates, p.n_outputs] for p in parts],
                          "group_sizes": self.tail.group_sizes.tolist()}
        # the head's groups live in meta: a plain netlist's groups cover all its outputs
        return Netlist(n_in, np.concatenate(fans), np.concatenate(ars), np.concatenate(tabs),
                       np.concatenate(outs), np.concatenate(invs), None,
                       self.tail.tau, meta).check()

    @classmethod
    def from_netlist(cls, net: Netlist) -> "SharedNet":
        """Split a packed netlist (:meth:`to_netlist`); every claim of ``meta["shared"]`` is
        checked against the arrays (a part reads only its own inputs and gates)."""
        if not isinstance(net, Netlist):
            raise SharedNetError(f"expected a dlgn Netlist, got {type(net).__name__}")
        desc = net.meta.get("shared")
        if not isinstance(desc, dict) or desc.get("format") != SHARED_FORMAT:
            raise SharedNetError("not a packed shared netlist (no meta['shared'])")
        if desc.get("version") != SHARED_VERSION:
            raise SharedNetError(f"shared form version {desc.get('version')!r}; this dlgn "
                                 f"reads version {SHARED_VERSION}")
        stages_d, parts_d = desc.get("stages"), desc.get("parts")
        if not isinstance(stages_d, list) or not isinstance(parts_d, list) \
                or len(stages_d) > _MAX_STAGES:
            raise SharedNetError("meta['shared'] needs lists 'stages' and 'parts'")
        n_conv = sum(1 for d in stages_d if isinstance(d, dict) and d.get("kind") == "conv")
        if len(parts_d) != n_conv + 1:
            raise SharedNetError(f"{len(parts_d)} parts for {n_conv} kernels and a tail")
        sizes = []
        for i, p in enumerate(parts_d):
            if not isinstance(p, list) or len(p) != 3:
                raise SharedNetError(f"part {i} must be [inputs, gates, outputs], got {p!r}")
            sizes.append([_count(f"part {i} size", v, 0, (1 << 31) - 1) for v in p])
        if sum(s[0] for s in sizes) != net.n_inputs or sum(s[1] for s in sizes) != net.n_gates \
                or sum(s[2] for s in sizes) != net.n_outputs:
            raise SharedNetError("the parts' sizes do not add up to the packed netlist's")
        groups = desc.get("group_sizes", [])
        if not isinstance(groups, list) or len(groups) > sizes[-1][2] \
                or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                           for v in groups):
            raise SharedNetError("meta['shared']['group_sizes'] must be positive ints")
        if net.n_classes:
            raise SharedNetError("a packed netlist keeps its head in meta['shared']")
        net.check()
        first = net.first_gate
        parts, in_off, g_off, o_off = [], 0, 0, 0
        for i, (ni, ng, no) in enumerate(sizes):
            fan = net.fanin[g_off:g_off + ng].astype(np.int64)
            ar = net.arity[g_off:g_off + ng]
            used = np.arange(fan.shape[1])[None, :] < ar[:, None].astype(np.int64)
            outs = net.outputs[o_off:o_off + no].astype(np.int64)
            loc_f = _localize(fan, in_off, ni, first + g_off, ng)
            loc_o = _localize(outs, in_off, ni, first + g_off, ng)
            if (loc_f[used] < 0).any() or (loc_o < 0).any():
                raise SharedNetError(f"part {i} reads a node outside its own inputs and gates")
            last = i == len(sizes) - 1
            parts.append(Netlist(ni, np.where(used, loc_f, 0), ar, net.table[g_off:g_off + ng],
                                 loc_o, net.invert[o_off:o_off + no],
                                 groups if last else None,
                                 net.tau if last else 1.0).check())
            in_off, g_off, o_off = in_off + ni, g_off + ng, o_off + no
        stages, k = [], 0
        for i, d in enumerate(stages_d):
            if not isinstance(d, dict):
                raise SharedNetError(f"stage {i} is not a dict")
            try:
                if d.get("kind") == "conv":
                    stages.append(ConvStage(d["in_shape"], d["kernel"], d["stride"],
                                            d["padding"], parts[k], d.get("interleave", 1)))
                    k += 1
                elif d.get("kind") == "pool":
                    stages.append(PoolStage(d["in_shape"], d["kernel"], d["stride"]))
                else:
                    raise SharedNetError(f"stage {i}: unknown kind {d.get('kind')!r}")
            except KeyError as e:
                raise SharedNetError(f"stage {i}: missing {e}") from None
        meta = {key: v for key, v in net.meta.items() if key != "shared"}
        return cls(stages, parts[-1], meta)

    def save(self, path) -> None:
        """Write the packed netlist file (atomic; see :meth:`Netlist.save`)."""
        self.to_netlist().save(path)


def _renumber(nodes: np.ndarray, p: Netlist, in_off: int, gate_base: int) -> np.ndarray:
    """Nodes of part ``p`` -> nodes of the packed netlist."""
    first = p.first_gate
    return np.where(nodes < 2, nodes, np.where(nodes < first, nodes + in_off,
                                                nodes - first + gate_base))


def _localize(nodes: np.ndarray, in_off: int, ni: int, gate_base: int, ng: int) -> np.ndarray:
    """Packed nodes -> nodes of the part (inputs ``in_off..+ni``, gates ``gate_base..+ng``);
    -1 for a node outside it."""
    is_in = (nodes >= 2 + in_off) & (nodes < 2 + in_off + ni)
    is_g = (nodes >= gate_base) & (nodes < gate_base + ng)
    return np.where(nodes < 2, nodes, np.where(is_in, nodes - in_off, np.where(
        is_g, nodes - gate_base + 2 + ni, -1)))


def prune_channels(sn: SharedNet) -> tuple[SharedNet, int]:
    """Kernel outputs no later stage or tail output depends on become constant 0 (their
    gates are then dead: the optimizer drops them); returns the new SharedNet and how many
    (channel, stage) outputs were pruned.  The function computed does not change."""
    from .passes.dead import reachable
    tail = sn.tail
    live = reachable(tail, tail.outputs.astype(np.int64))[2:tail.first_gate]   # tail inputs
    new_stages, pruned = list(sn.stages), 0
    for i in range(len(sn.stages) - 1, -1, -1):
        st = sn.stages[i]
        if isinstance(st, PoolStage):
            need = np.zeros(_features(st.in_shape) + 1, dtype=bool)
            need[st.window_index()[live].reshape(-1)] = True
            live = need[:-1]
            continue
        O = st.net.n_outputs
        chan = live.reshape(O, -1).any(axis=1)
        net = st.net
        if not chan.all():
            outs = np.where(chan, net.outputs, 0)
            inv = np.where(chan, net.invert, False)
            net = Netlist(net.n_inputs, net.fanin, net.arity, net.table, outs, inv, None, 1.0,
                          net.meta).check()
            pruned += int((~chan).sum())
            new_stages[i] = ConvStage(st.in_shape, st.kernel, st.stride, st.padding, net,
                                      st.interleave)
        cells = reachable(net, net.outputs.astype(np.int64))[2:net.first_gate]
        need = np.zeros(_features(st.in_shape) + 1, dtype=bool)
        need[st.field_index()[:, cells].reshape(-1)] = True
        live = need[:-1]
    return SharedNet(new_stages, tail, sn.meta), pruned


def optimize_shared(sn: SharedNet) -> SharedNet:
    """The optimizer for the shared form: the tail optimized, channels nothing reads
    pruned (:func:`prune_channels`), then every kernel optimized (inputs and outputs kept)."""
    from .pipeline import optimize
    sn = SharedNet(sn.stages, optimize(sn.tail), sn.meta)
    sn, _ = prune_channels(sn)
    return SharedNet([ConvStage(st.in_shape, st.kernel, st.stride, st.padding,
                                optimize(st.net), st.interleave)
                      if isinstance(st, ConvStage) else st for st in sn.stages],
                     sn.tail, sn.meta)


def buffer_layout(sn: SharedNet) -> list[dict]:
    """Where a stage-by-stage evaluation keeps its words: one buffer per stage input, then
    the tail's features, each ``C`` channels of ``Hp x Wp`` cells (``Hp = H + 2p``: a conv's
    zero border of ``p`` cells; its interior starts at row and column ``p``) at cell offset
    ``off`` from the first buffer.  The last entry (the features) has ``p = 0`` and the
    last stage's output shape; ``[-1]["off"] + tail.n_inputs`` cells in all.  The C and
    CUDA emitters of the shared form both lay their buffers out so."""
    geo, off = [], 0
    for st in sn.stages:
        C, H, W = st.in_shape
        p = st.padding if isinstance(st, ConvStage) else 0
        geo.append({"C": C, "H": H, "W": W, "p": p, "Hp": H + 2 * p, "Wp": W + 2 * p,
                    "off": off})
        off += C * (H + 2 * p) * (W + 2 * p)
    geo.append({"C": sn.tail.n_inputs, "H": 1, "W": 1, "p": 0, "Hp": 1, "Wp": 1, "off": off})
    if sn.stages:
        C, H, W = sn.stages[-1].out_shape
        geo[-1].update(C=C, H=H, W=W, Hp=H, Wp=W)
    return geo


def stage_lits(builder: NetlistBuilder, st, lits: np.ndarray) -> np.ndarray:
    """The flat lowering of one stage: its input literals -> its output literals."""
    ext = np.append(np.asarray(lits, dtype=np.int64), FALSE)
    if isinstance(st, PoolStage):
        return or_reduce(builder, ext[st.window_index()])
    field = ext[st.field_index()]                                   # [P, C*k*k]
    return inline(builder, st.net, field.T).reshape(-1)            # [O, P] -> o * P + p


def is_packed(net) -> bool:
    """Whether ``net`` is a packed SharedNet (a netlist no plain tool may read as such)."""
    return isinstance(net, Netlist) and isinstance(net.meta.get("shared"), dict)


def load_shared(path) -> SharedNet:
    """Read a SharedNet file; every failure is a :class:`NetlistFormatError` naming it."""
    net = Netlist.load(path)
    try:
        return SharedNet.from_netlist(net)
    except SharedNetError as e:
        raise NetlistFormatError(f"{os.fspath(path)}: {e}") from None


def simulate_shared(sn: SharedNet, X, chunk: int = 256) -> np.ndarray:
    """The outputs of ``sn`` on input rows ``X`` (0/1, [N, n_inputs]) stage by stage: the
    reference semantics of the shared form (bool [N, n_outputs])."""
    from .simulate import simulate
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != sn.n_inputs:
        raise SharedNetError(f"simulate_shared expects [N, {sn.n_inputs}] rows, got {X.shape}")
    outs = []
    for s in range(0, max(1, X.shape[0]), chunk):
        h = X[s:s + chunk].astype(bool)
        n = h.shape[0]
        for st in sn.stages:
            ext = np.concatenate([h, np.zeros((n, 1), bool)], axis=1)
            if isinstance(st, PoolStage):
                h = ext[:, st.window_index()].any(axis=2)
                continue
            field = ext[:, st.field_index()]                       # [n, P, C*k*k]
            P = field.shape[1]
            y = simulate(st.net, field.reshape(n * P, -1).astype(np.uint8))   # [n*P, O]
            h = y.reshape(n, P, -1).transpose(0, 2, 1).reshape(n, -1)
        outs.append(simulate(sn.tail, h.astype(np.uint8)))
    return np.concatenate(outs)[:X.shape[0]] if outs else np.zeros((0, sn.n_outputs), bool)


def describe_json(sn: SharedNet) -> str:
    """A one-line JSON summary (for logs and ``dlgn inspect``)."""
    return json.dumps({"stages": [st.describe() for st in sn.stages],
                       "kernel_gates": sn.n_kernel_gates, "flat_gates": sn.n_gates})
