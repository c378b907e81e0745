"""The whole hardware design as one netlist: encoder, logic and head, from raw integers.

``build_design(net, raw_width=8, raw_scale=1/256) -> Design`` makes the function an FPGA
design computes: its inputs are the bits of the raw integer features (feature ``f`` is an
unsigned ``raw_width``-bit integer ``q_f``; input ``f * raw_width + b`` is bit ``b`` of
``q_f``, LSB first), its outputs the bits of the predicted class (LSB first; the first
class with the largest count, as the GroupSum argmax).  It is built from three parts, each
its own netlist, composed through one :class:`~dlgn.compiler.builder.NetlistBuilder`:

* **encoder** -- the netlist's encoder metadata (``meta["encoder"]``) lowered to gates over
  the raw bits.  The software feature that ``q`` stands for is ``q * raw_scale`` (float64;
  MNIST and Fashion-MNIST pixels are ``q / 256``), and every encoder bit is a function of
  one raw feature: its truth table over the ``2**raw_width`` values is read off
  :func:`dlgn.compiler.encoding.encode` itself (so the hardware encoder is that encoder,
  bit for bit, on every representable input), then built as 6-input gates and
  multiplexers on the top bits, which the builder folds (a thermometer threshold becomes a
  comparator of the bits it depends on: ``q > 127`` is bit 7 alone).  Two deviations, both
  on inputs that the software encoder rejects: a one-hot feature with an unknown value gives
  all zeros (as ``handle_unknown="ignore"``), and an identity feature is 1 exactly when
  ``q * raw_scale == 1``;
* **logic** -- the netlist's gates, unchanged (dead encoder bits vanish);
* **head** -- its GroupSum head as gates (:func:`dlgn.compiler.head.lower_head`, in the
  ``style`` asked for), reading the logic's outputs.

``lut`` (4..6, or None) maps the design onto k-input LUTs (:func:`~dlgn.compiler.passes.
lut_map.lut_map`).  ``mapping="parts"`` maps and optimizes each part alone and composes the
results without rewriting across them, so the design's gates are exactly the parts' and
``Design.parts`` attributes every gate (LUT) to one part -- the breakdown is exact.
``mapping="joint"`` optimizes and maps the composed design as one (encoder bits absorbed
into the first LUTs, the last layer into the head's first counters: fewer LUTs); its gates
are then attributed to the part of the node each LUT computes where that node survives, and
to ``"logic"`` where it does not (see :meth:`Design.breakdown`).

:meth:`Design.raw_bits` turns raw integer features into the design's input bits, and
:meth:`Design.check` verifies the design against the netlist's own prediction on features.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DlgnError
from .builder import FALSE, NetlistBuilder
from .encoding import check_encoder_dict, encode, encoder_n_bits, encoder_raw_features
from .gates import bits_to_table
from .head import lower_head
from .netlist import Netlist
from .shared import inline

__all__ = ["Design", "DesignError", "build_design", "PARTS", "MAPPINGS", "encoder_netlist"]

PARTS = ("encoder", "logic", "head")
MAPPINGS = ("parts", "joint")
_MAX_RAW_WIDTH = 16


class DesignError(DlgnError, ValueError):
    """A netlist or option that cannot make a hardware design."""


@dataclass
class Design:
    """The design netlist and what each of its gates belongs to (see the module docstring)."""

    net: Netlist                 # raw bits in, class-index bits out (LSB first)
    parts: np.ndarray            # int8 per gate: index into PARTS
    raw_width: int
    raw_scale: float
    n_features: int
    n_classes: int
    lut: int | None = None
    mapping: str = "parts"
    meta: dict = field(default_factory=dict)

    @property
    def index_bits(self) -> int:
        return self.net.n_outputs

    def breakdown(self) -> dict:
        """Gates (LUTs when mapped) per part, the total and the depth, as a dict."""
        counts = np.bincount(self.parts.astype(np.int64), minlength=len(PARTS))
        out = {name: int(c) for name, c in zip(PARTS, counts)}
        out.update(total=int(self.net.n_gates), depth=int(self.net.depth()),
                   lut=self.lut, mapping=self.mapping)
        return out

    def raw_bits(self, Q) -> np.ndarray:
        """Raw integer features Q [N, n_features] (0 <= q < 2**raw_width) -> input bits
        uint8 [N, n_features * raw_width] (feature f bit b at f * raw_width + b)."""
        Q = np.asarray(Q)
        if Q.ndim != 2 or Q.shape[1] != self.n_features:
            raise DesignError(f"raw features must be [N, {self.n_features}], got shape "
                              f"{Q.shape}")
        if Q.dtype.kind not in "iu" and Q.size and not np.array_equal(Q, np.round(Q)):
            raise DesignError("raw features must be integers")
        Q = Q.astype(np.int64)
        if Q.size and (Q.min() < 0 or Q.max() >= 1 << self.raw_width):
            raise DesignError(f"raw features must lie in 0..{(1 << self.raw_width) - 1}")
        b = (Q[:, :, None] >> np.arange(self.raw_width)[None, None, :]) & 1
        return b.reshape(Q.shape[0], self.n_features * self.raw_width).astype(np.uint8)

    def to_raw(self, X) -> np.ndarray:
        """Software features X (multiples of raw_scale) -> raw integers; raises when a value
        is not q * raw_scale for an integer q in range."""
        X = np.asarray(X, dtype=np.float64)
        Q = np.round(X / self.raw_scale)
        if X.size and not np.array_equal(Q * self.raw_scale, X):
            raise DesignError(f"features are not multiples of raw_scale={self.raw_scale}")
        return Q.astype(np.int64)

    def predict_raw(self, Q) -> np.ndarray:
        """The design's predicted class for raw integer features (reference simulator)."""
        from .simulate import simulate
        bits = simulate(self.net, self.raw_bits(Q)).astype(np.int64)
        return (bits << np.arange(bits.shape[1])[None, :]).sum(axis=1) if bits.shape[1] \
            else np.zeros(bits.shape[0], dtype=np.int64)


# ----------------------------------------------------------------------------- encoder
def _unknown_ignored(d: dict) -> dict:
    d = dict(d)
    if d["type"] == "onehot":
        d["handle_unknown"] = "ignore"
    if d["type"] == "concat":
        d["parts"] = [_unknown_ignored(p) for p in d["parts"]]
    return d


def _bit_sources(d: dict) -> np.ndarray:
    """The raw feature each encoder bit reads (int64[n_bits])."""
    F = int(d["n_features"])
    sel = np.asarray(d.get("select", range(F)), dtype=np.int64)
    t = d["type"]
    if t == "concat":
        return np.concatenate([sel[_bit_sources(p)] for p in d["parts"]]
                              + [np.zeros(0, np.int64)])
    if t == "thermometer":
        return np.repeat(sel, int(d["bits_per_feature"]))
    if t == "onehot":
        return np.repeat(sel, [len(c) for c in d["categories"]])
    return sel


def _probe(d: dict, X: np.ndarray) -> np.ndarray:
    """The encoder's bits on X (its raw columns), an identity feature 1 exactly at 1.0."""
    if d["type"] == "identity":
        Xs = X[:, np.asarray(d["select"], dtype=np.int64)] if "select" in d else X
        return (Xs == 1.0).astype(np.uint8)
    if d["type"] == "concat":
        Xs = X[:, np.asarray(d["select"], dtype=np.int64)] if "select" in d else X
        return np.concatenate([_probe(p, Xs) for p in d["parts"]]
                              + [np.zeros((X.shape[0], 0), np.uint8)], axis=1)
    return encode(d, X)


def encoder_tables(encoder: dict, raw_width: int, raw_scale: float) -> tuple:
    """(source feature int64[B], value table uint8[2**raw_width, B]): encoder bit j is
    ``table[q, j]`` when its source feature holds the raw integer q."""
    d = _unknown_ignored(check_encoder_dict(encoder))
    R = encoder_raw_features(d)
    q = np.arange(1 << raw_width, dtype=np.float64) * float(raw_scale)
    X = np.repeat(q[:, None], max(R, 1), axis=1)[:, :R]
    tab = _probe(d, X)
    return _bit_sources(d), tab


def _lit_of_function(b: NetlistBuilder, rows: np.ndarray, W: int, base: np.ndarray):
    """Literals of Boolean functions of W bits, one per row of ``rows`` uint8[n, 2**W]
    (entry q = the value for the W-bit integer q), reading bit i of function r's feature at
    literal ``base[r] + 2 * i``: 6-input gates over the low bits, multiplexers on the top."""
    n = rows.shape[0]
    low = min(W, 6)
    # leaves: for every setting of the top W-low bits, a gate over the low bits
    blocks = rows.reshape(n, 1 << (W - low), 1 << low)
    # a gate's fanin 0 is the most significant bit of its table index u: fanin p reads bit
    # low-1-p, so u is the low bits of q and table bit u is blocks[r, t, u]
    fan = base[:, None] + 2 * np.arange(low - 1, -1, -1)[None, :]
    lits = []
    for t in range(1 << (W - low)):
        tabs = np.array([bits_to_table(blocks[r, t]) for r in range(n)],
                        dtype=np.uint64)
        lits.append(b.add(fan, tabs, np.full(n, low)) if low else
                    np.where(blocks[:, t, 0] == 1, FALSE ^ 1, FALSE))
    lits = np.stack(lits, axis=1) if lits else np.zeros((n, 1), np.int64)  # [n, 2**(W-low)]
    mux = bits_to_table(np.array([0, 0, 1, 1, 0, 1, 0, 1]))  # fanins (s, a, c): s ? c : a
    for i in range(low, W):         # combine pairs on bit i
        sel = base + 2 * i
        a, c = lits[:, 0::2], lits[:, 1::2]
        m = a.shape[1]
        lits = b.add(np.stack([np.repeat(sel, m), a.reshape(-1), c.reshape(-1)], 1),
                     np.full(n * m, mux, dtype=np.uint64)).reshape(n, m)
    return lits[:, 0]


def encoder_netlist(encoder: dict, raw_width: int = 8, raw_scale: float = 1 / 256,
                    *, rewrite=True) -> Netlist:
    """The encoder as gates: inputs the raw bits (feature f bit b at f*raw_width + b),
    outputs the encoder's bits in order."""
    W = _width(raw_width)
    src, tab = encoder_tables(encoder, W, raw_scale)
    R = encoder_raw_features(check_encoder_dict(encoder))
    b = NetlistBuilder(R * W, rewrite=rewrite)
    if src.size:
        # distinct (feature, function) pairs once; constants directly
        key = np.concatenate([src[:, None], tab.T.astype(np.int64)], axis=1)
        uniq, inv = np.unique(key, axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        base = 2 * (2 + uniq[:, 0] * W)
        lits = _lit_of_function(b, uniq[:, 1:].astype(np.uint8), W, base)[inv]
    else:
        lits = np.zeros(0, dtype=np.int64)
    return b.finish(lits)


def _width(w) -> int:
    if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or not \
            1 <= w <= _MAX_RAW_WIDTH:
        raise DesignError(f"raw_width must be an int in 1..{_MAX_RAW_WIDTH}, got {w!r}")
    return int(w)


# ----------------------------------------------------------------------------- the design
def _head_netlist(net: Netlist, style: str) -> tuple[Netlist, int]:
    """The head alone: inputs the logic's outputs; outputs the class-index bits."""
    O = net.n_outputs
    wires = Netlist(O, np.zeros((0, 1), np.int32), np.zeros(0, np.uint8),
                    np.zeros(0, np.uint64), np.arange(2, 2 + O, dtype=np.int64),
                    np.zeros(O, dtype=bool), net.group_sizes, net.tau, {})
    headless, lay = lower_head(wires, style=style) if style != "adders" else \
        lower_head(wires)
    sel = np.arange(lay.idx_offset, lay.idx_offset + lay.idx_bits)
    h = Netlist(headless.n_inputs, headless.fanin, headless.arity, headless.table,
                headless.outputs[sel], headless.invert[sel], None, 1.0, {})
    return h, lay.idx_bits


def _prepare(part: Netlist, lut, optimize_parts: bool) -> Netlist:
    from .passes.lut_map import lut_map
    from .pipeline import optimize
    if optimize_parts:
        part = optimize(part)
    return lut_map(part, k=lut).net if lut else part


def build_design(net: Netlist, raw_width: int = 8, raw_scale: float = 1 / 256, *,
                 head: str = "lut6", lut: int | None = 6, mapping: str = "parts",
                 optimize: bool = True) -> Design:
    """The design of ``net`` (see the module docstring).  ``head``: the head's style
    (:func:`~dlgn.compiler.head.lower_head`); ``lut``: map onto k-LUTs (None: gates as
    they are); ``mapping``: "parts" (exact per-part counts) or "joint" (smallest)."""
    if not isinstance(net, Netlist):
        raise DesignError(f"build_design expects a Netlist, got {type(net).__name__}")
    net.check()
    if net.n_classes == 0:
        raise DesignError("the netlist has no GroupSum head (group_sizes): a design "
                          "outputs a predicted class")
    enc = net.meta.get("encoder")
    if not enc:
        raise DesignError("the netlist has no encoder metadata (meta['encoder']): the "
                          "design cannot take raw features")
    if mapping not in MAPPINGS:
        raise DesignError(f"mapping must be one of {', '.join(MAPPINGS)}, got {mapping!r}")
    if lut is not None and (isinstance(lut, bool) or not isinstance(lut, (int, np.integer))
                            or not 2 <= lut <= 6):
        raise DesignError(f"lut must be an int in 2..6 or None, got {lut!r}")
    if not (isinstance(raw_scale, (int, float)) and np.isfinite(raw_scale) and raw_scale > 0):
        raise DesignError(f"raw_scale must be a positive number, got {raw_scale!r}")
    W = _width(raw_width)
    if encoder_n_bits(check_encoder_dict(enc)) != net.n_inputs:
        raise DesignError(f"the encoder gives {encoder_n_bits(enc)} bits but the netlist "
                          f"reads {net.n_inputs}")
    R = encoder_raw_features(check_encoder_dict(enc))
    E = encoder_netlist(enc, W, raw_scale)
    logic = net.logic()
    H, idx_bits = _head_netlist(net, head)
    if mapping == "parts":
        E, logic, H = (_prepare(p, lut, optimize) for p in (E, logic, H))
        # only what the design reads: drop encoder bits / logic outputs nobody uses
    b = NetlistBuilder(R * W, rewrite=(mapping == "joint"))
    ends = []
    e_lits = inline(b, E, b.input_lits())[:, 0]
    ends.append(b.n_gates)
    l_lits = inline(b, logic, e_lits)[:, 0]
    ends.append(b.n_gates)
    h_lits = inline(b, H, l_lits)[:, 0]
    ends.append(b.n_gates)
    whole = b.finish(h_lits)
    parts = np.searchsorted(np.array(ends), np.arange(whole.n_gates), side="right")
    meta = {"encoder_raw": {"n_features": R, "width": W, "scale": float(raw_scale)},
            "classes": int(net.n_classes), "source_encoder": enc}
    if mapping == "parts":
        whole, parts = _drop_dead(whole, parts)
    else:
        whole, parts = _joint(whole, parts, lut, optimize)
    whole.meta.update(meta)
    return Design(whole, parts.astype(np.int8), W, float(raw_scale), R, int(net.n_classes),
                  lut, mapping, meta)


def _live(net: Netlist) -> np.ndarray:
    """bool per gate: read (transitively) by an output."""
    from .passes.dead import reachable
    return reachable(net, net.outputs.astype(np.int64))[net.first_gate:]


def _drop_dead(net: Netlist, parts: np.ndarray) -> tuple[Netlist, np.ndarray]:
    """Remove gates no output reads, keeping the order (and so the parts) of the rest."""
    keep = _live(net)
    if keep.all():
        return net, parts
    first = net.first_gate
    new = np.arange(net.n_nodes, dtype=np.int64)
    new[first:] = -1
    new[first + np.flatnonzero(keep)] = first + np.arange(int(keep.sum()))
    ar = net.arity[keep]
    fan = net.fanin[keep].astype(np.int64)
    used = np.arange(fan.shape[1])[None, :] < ar[:, None].astype(np.int64)
    fan = np.where(used, new[fan], 0).astype(np.int32)
    out = Netlist(net.n_inputs, fan, ar, net.table[keep], new[net.outputs.astype(np.int64)],
                  net.invert, None, net.tau, dict(net.meta))
    return out.check(), parts[keep]


def _joint(net: Netlist, parts: np.ndarray, lut, optimize_it: bool):
    """Optimize and map the composed design as one; attribute each resulting gate to the
    part of the original node it equals (by simulation signature), else to logic."""
    from .passes.lut_map import lut_map
    from .pipeline import optimize
    out = optimize(net) if optimize_it else net
    if lut:
        out = lut_map(out, k=lut).net
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, size=(256, net.n_inputs), dtype=np.uint8)
    sig_old = _signatures(_node_values(net, x))
    sig_new = _signatures(_node_values(out, x))
    table = {}
    for s, p in zip(sig_old, parts.tolist()):
        table.setdefault(s, p)
    attr = np.array([table.get(s, 1) for s in sig_new], dtype=np.int64)
    return out, attr


def _node_values(net: Netlist, x) -> np.ndarray:
    """Every gate's value on the samples x (uint8[N, n_gates])."""
    from .simulate import simulate
    G = net.n_gates
    every = Netlist(net.n_inputs, net.fanin, net.arity, net.table,
                    net.first_gate + np.arange(G, dtype=np.int64), np.zeros(G, dtype=bool),
                    None, 1.0, {})
    return simulate(every, x)


def _signatures(vals: np.ndarray) -> list:
    """A hashable signature per node column of vals uint8[N, n] (polarity-free)."""
    v = vals.astype(bool)
    v = np.where(v[:1, :], ~v, v)        # normalize so the first sample is 0
    packed = np.packbits(v, axis=0)
    return [packed[:, j].tobytes() for j in range(packed.shape[1])]
