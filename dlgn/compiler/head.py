"""The GroupSum head as gates: a popcount per class, then a first-maximum argmax
(DESIGN.md sections 2 and 6).

``lower_head(net, style="adders") -> (headless, layout)`` returns a netlist without a head
(``group_sizes`` empty) that computes everything the head means, as bit-planes:

==========================================  ==============================================
headless output                             holds
==========================================  ==============================================
``0 .. n_outputs-1``                        ``net``'s outputs, polarity as before
``count_offset[c] + j``, j < count_bits[c]  bit j (LSB first) of class c's count: the
                                            number of ones in its output group
``idx_offset + j``, j < idx_bits            bit j (LSB first) of the predicted class: the
                                            first class with the largest count
==========================================  ==============================================

:class:`HeadLayout` records these positions.  ``count_bits[c]`` is
``group_sizes[c].bit_length()`` (0 for an empty group, whose count is 0);
``idx_bits`` is ``(n_classes - 1).bit_length()`` (0 for one class).  The headless
netlist's gates are ``net``'s gates, unchanged and with the same node ids, followed by the
head's gates; ``tau`` and ``meta`` are kept.  A netlist without a head is returned as it is,
with a layout of no classes.

How it works
------------
The head is built in a :class:`~dlgn.compiler.builder.NetlistBuilder` of its own
(``rewrite=True``) whose inputs are the distinct non-constant output nodes, so constant
outputs, outputs that read one node twice or in both polarities, and the constants of the
argmax fold away as it is built; its gates are then appended to ``net``'s, renumbered.
Every step works on all classes at once:

* **Popcount** (a Wallace/Dadda-style carry-save reduction): the output bits of every class
  start in column 0.  In each round every column of every class that holds three or more
  bits groups them in threes into full adders (XOR3 = 0x96 for the sum, MAJ = 0xE8 for the
  carry into the next column); a column of exactly two bits becomes a half adder (XOR, AND)
  once no carry can reach it any more (every lower column of its class holds at most one
  bit).  All the adders of a round are made by one ``add`` call.  A carry into column
  ``count_bits[c]`` is provably 0 (the count is at most the group size) and is not made.
  Within a column, bits are grouped in the order their sources appear in ``net`` (the
  largest node id in their cone), so a C emitter that places a gate right after its last
  operand consumes the outputs soon after they are computed.
* **Argmax** (a tournament): candidates (class count, class index) are paired left/right;
  the right one wins only when its count is strictly greater (so the first maximum wins
  ties: the left candidate always holds the lower classes), by a bit-sliced comparison from
  the most significant bit (``gt = gt | (eq & r & ~l)``, ``eq = eq & (r == l)``), then
  multiplexers select the winner's count and index.  One ``add`` per compared bit and one
  for the selection serve every pair of a level at once.

``style`` (:data:`STYLES`) picks how: ``"adders"`` (the default, above) or ``"lut6"``, a
head for 6-input LUTs (:func:`~dlgn.compiler.passes.lut_map.lut_map` with ``k=6``), where a
full adder costs two LUTs to remove one bit.  Same layout, same function, other gates:

* **Weighted bits.**  Per class, the outputs reading one node count once with a weight:
  m copies of x and n of ~x are ``min(m, n)`` plus ``|m - n|`` copies of one polarity, and
  a weight puts its literal into the columns of its binary digits (a repeated output
  saves counters instead of feeding them).  The constant ones of a class (TRUE outputs
  and the pairs) are added as TRUE bits in the columns of their sum's binary digits.
* **Popcount** (generalized parallel counters, one 6-input gate per output bit): in each
  round, every column of every class, from the lowest, puts its bits six at a time into
  6:3 counters (6 bits of column j -> their 3-bit count in columns j, j+1, j+2), and
  five left over with one bit of column j+1 into a (1,5;3) counter (value <= 7); each
  removes three bits for three LUTs, where adders remove one for two.  Leftovers wait for
  the next round.  A class whose round makes no such counter finishes with a ripple, one
  column a round from the lowest: all of the column's bits (at most 6) and as many of the
  next column's as keep the value <= 7 and the inputs <= 6 go into one counter, leaving
  one bit in the column.  Outputs past ``count_bits[c]`` are provably 0 and not made;
  bits are taken in source order as above.  All the counters of a round are one ``add``.
* **Argmax**: the same tournament (right wins only when strictly greater), but each
  comparison takes 3-bit chunks from the most significant end: one 6-input gate for
  "greater" and one for "equal" per chunk (the least significant chunk needs no
  "equal"), joined three chunks at a time (``g2 | e2 & (g1 | e1 & g0)``, 5 inputs, and
  ``e2 & e1 & e0``): a 10-bit comparison is 3 LUT levels deep instead of 10.

Measured (head alone, free output bits, :func:`~dlgn.compiler.pipeline.optimize` then
LUT-6 mapping): 10 classes of 800 outputs take 14,168 LUTs at depth 33 as adders, 8,141 at
depth 24 as ``lut6``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .builder import FALSE, TRUE, NetlistBuilder
from .gates import bits_to_table
from .netlist import Netlist, NetlistError

__all__ = ["HeadLayout", "HeadError", "lower_head", "STYLES", "XOR3", "MAJ"]

#: The head styles of :func:`lower_head`.
STYLES = ("adders", "lut6")


class HeadError(NetlistError):
    """A bad argument to :func:`lower_head` (an unknown style)."""


def _table(fn, k: int) -> int:
    """Truth table of ``fn`` over k inputs (x_0 the most significant bit of u)."""
    u = np.arange(1 << k)
    return bits_to_table(fn(*[(u >> (k - 1 - i)) & 1 for i in range(k)]) & 1)


XOR3 = _table(lambda a, b, c: a ^ b ^ c, 3)                  # 0x96: full-adder sum
MAJ = _table(lambda a, b, c: (a & b) | (a & c) | (b & c), 3)  # 0xE8: full-adder carry
_XOR = _table(lambda a, b: a ^ b, 2)                          # 6: half-adder sum
_AND = _table(lambda a, b: a & b, 2)                          # 8: half-adder carry
_GT = _table(lambda g, e, r, l: g | (e & r & (1 - l)), 4)     # right > left so far
_EQ = _table(lambda e, r, l: e & (1 - (r ^ l)), 3)            # right == left so far
_MUX = _table(lambda s, a, b: np.where(s == 1, a, b), 3)      # s ? a : b


@dataclass(frozen=True)
class HeadLayout:
    """Where the head's bit-planes are among the headless netlist's outputs (see the
    module docstring).  ``n_results`` words follow the ``n_outputs`` original outputs."""

    n_outputs: int
    count_offset: tuple = ()
    count_bits: tuple = ()
    idx_offset: int = 0
    idx_bits: int = 0

    @property
    def n_classes(self) -> int:
        return len(self.count_bits)

    @property
    def n_results(self) -> int:
        """Head bit-planes (count planes of every class, then index planes)."""
        return sum(self.count_bits) + self.idx_bits


def lower_head(net: Netlist, *, style: str = "adders",
               check: bool = True) -> tuple[Netlist, HeadLayout]:
    """``net`` with its GroupSum head lowered to gates, and the layout of the result.
    ``style``: ``"adders"`` (full and half adders, bit-serial comparators) or ``"lut6"``
    (6-input counters and chunk comparators, for LUT-6 targets); see the module docstring.

    Raises :class:`HeadError` for an unknown ``style``;
    :class:`~dlgn.compiler.netlist.NetlistError` when ``net`` is invalid
    (``check=False`` skips validating a netlist the caller has just checked)."""
    if not isinstance(style, str) or style not in STYLES:
        raise HeadError(f"unknown head style {style!r}; choose one of {', '.join(STYLES)}")
    if check:
        net.check()
    O, C = net.n_outputs, net.n_classes
    if C == 0:
        return net, HeadLayout(O, (), (), O, 0)
    sizes = net.group_sizes.astype(np.int64)
    nbits = np.array([int(s).bit_length() for s in sizes.tolist()], dtype=np.int64)
    outs = net.outputs.astype(np.int64)
    inv = net.invert.astype(np.int64)
    # the head's inputs: the distinct non-constant output nodes, in node order
    nodes = np.unique(outs[outs >= 2])
    hb = NetlistBuilder(int(nodes.size), rewrite=True)
    lit = np.where(outs >= 2, (2 * (2 + np.searchsorted(nodes, outs))) ^ inv, outs ^ inv)
    key = np.where(outs >= 2, outs, -1)
    cls = np.repeat(np.arange(C, dtype=np.int64), sizes)
    if style == "adders":
        planes = _popcount(hb, cls, lit, key, nbits, C)
        idx = _argmax(hb, planes, nbits, C)
    else:
        planes = _popcount_lut6(hb, cls, lit, key, nbits, C)
        idx = _argmax_lut6(hb, planes, nbits, C)
    count_offset = (O + np.concatenate([[0], np.cumsum(nbits)[:-1]])).tolist()
    res = np.concatenate([planes[c, :nbits[c]] for c in range(C)] + [idx])
    head = hb.finish(res, check=False)
    headless = _append(net, nodes, head)
    lay = HeadLayout(O, tuple(count_offset), tuple(nbits.tolist()), O + int(nbits.sum()),
                     int(idx.size))
    return headless, lay


# --------------------------------------------------------------------------- popcount
def _segments(*keys):
    """Sort by ``keys`` (last = primary, as np.lexsort) and return (order, start flags)."""
    order = np.lexsort(keys)
    start = np.ones(order.size, dtype=bool)
    if order.size:
        same = np.ones(order.size - 1, dtype=bool)
        for k in keys[1:]:  # the grouping keys; keys[0] only orders within a group
            ks = k[order]
            same &= ks[1:] == ks[:-1]
        start[1:] = ~same
    return order, start


def _popcount(hb, cls, lit, key, nbits, C):
    """Count planes int64[C, max(nbits)] (literals, LSB first) of the bits ``lit`` of class
    ``cls``; ``key`` orders bits within a column (see the module docstring)."""
    keep = lit != FALSE  # a constant-0 output adds nothing
    cls, lit, key = cls[keep], lit[keep], key[keep]
    col = np.zeros(cls.size, dtype=np.int64)
    big = int(max(1, lit.size + 1))
    while True:
        order, start = _segments(key, col, cls)
        cls, col, lit, key = cls[order], col[order], lit[order], key[order]
        gid = np.cumsum(start) - 1
        first = np.flatnonzero(start)
        n = np.diff(np.append(first, cls.size))          # bits per (class, column)
        if not n.size or n.max() <= 1:
            break
        rank = np.arange(cls.size) - first[gid]
        # the tallest lower column of the same class (groups are sorted by class, column)
        gcls = cls[first]
        run = np.maximum.accumulate(gcls * big + n)
        below = np.zeros(n.size, dtype=np.int64)
        prev = np.flatnonzero(gcls[1:] == gcls[:-1]) + 1
        below[prev] = run[prev - 1] - gcls[prev] * big
        h = n[gid]
        in_fa = rank < 3 * (h // 3)
        in_ha = (h == 2) & (below[gid] <= 1)
        fa = np.flatnonzero(in_fa).reshape(-1, 3)
        ha = np.flatnonzero(in_ha).reshape(-1, 2)
        rest = np.flatnonzero(~in_fa & ~in_ha)
        fcol, hcol = col[fa[:, 0]], col[ha[:, 0]]
        fcls, hcls = cls[fa[:, 0]], cls[ha[:, 0]]
        fcar = fcol + 1 < nbits[fcls]   # carries past the count's width are 0: not made
        hcar = hcol + 1 < nbits[hcls]
        parts = [(lit[fa], XOR3, 3), (lit[fa[fcar]], MAJ, 3),
                 (lit[ha], _XOR, 2), (lit[ha[hcar]], _AND, 2)]
        rows = np.concatenate([np.pad(p, ((0, 0), (0, 3 - p.shape[1]))) for p, _, _ in parts])
        tabs = np.concatenate([np.full(p.shape[0], t, dtype=np.uint64) for p, t, _ in parts])
        ar = np.concatenate([np.full(p.shape[0], k, dtype=np.int64) for p, _, k in parts])
        new = hb.add(rows, tabs, ar)
        fkey, hkey = key[fa].max(axis=1), key[ha].max(axis=1)
        cls = np.concatenate([cls[rest], fcls, fcls[fcar], hcls, hcls[hcar]])
        col = np.concatenate([col[rest], fcol, fcol[fcar] + 1, hcol, hcol[hcar] + 1])
        key = np.concatenate([key[rest], fkey, fkey[fcar], hkey, hkey[hcar]])
        lit = np.concatenate([lit[rest], new])
    B = int(nbits.max(initial=0))
    planes = np.full((C, max(B, 1)), FALSE, dtype=np.int64)
    planes[cls, col] = lit
    return planes[:, :B]


# --------------------------------------------------------------------------- lut6 popcount
@lru_cache(maxsize=None)
def _gpc_table(a: int, b: int, j: int) -> int:
    """Bit j of (sum of fan-ins 0..a-1) + 2 * (sum of fan-ins a..a+b-1)."""
    return _table(lambda *x: (sum(x[:a], 0) + 2 * sum(x[a:], 0)) >> j, a + b)


def _weighted_bits(cls, lit, key, C):
    """The bits of every class as (class, column, literal, key) rows: m copies of x are x
    in the columns of m's binary digits, x and ~x together count 1, and the constant ones
    of a class are its constant's binary digits (TRUE literals)."""
    keep = lit != FALSE
    cls, lit, key = cls[keep], lit[keep], key[keep]
    const = np.bincount(cls[lit == TRUE], minlength=C).astype(np.int64)
    var = lit != TRUE
    cls, lit, key = cls[var], lit[var], key[var]
    node = lit >> 1
    # signed weight per (class, node): copies of x minus copies of ~x; pairs add 1 each
    order, start = _segments(node, node, cls)  # grouped by (class, node)
    cls, lit, key, node = cls[order], lit[order], key[order], node[order]
    gid = np.cumsum(start) - 1
    pos = np.bincount(gid, weights=1 - (lit & 1), minlength=int(start.sum())).astype(np.int64)
    neg = np.bincount(gid, weights=lit & 1, minlength=int(start.sum())).astype(np.int64)
    first = np.flatnonzero(start)
    gcls, gnode, gkey = cls[first], node[first], key[first]
    np.add.at(const, gcls, np.minimum(pos, neg))
    w = np.abs(pos - neg)
    glit = 2 * gnode + (neg > pos)
    rows_c, rows_col, rows_lit, rows_key = [], [], [], []
    for j in range(int(w.max(initial=0)).bit_length()):
        m = ((w >> j) & 1) == 1
        rows_c.append(gcls[m])
        rows_col.append(np.full(int(m.sum()), j, np.int64))
        rows_lit.append(glit[m])
        rows_key.append(gkey[m])
    for j in range(int(const.max(initial=0)).bit_length()):
        m = np.flatnonzero((const >> j) & 1)
        rows_c.append(m)
        rows_col.append(np.full(m.size, j, np.int64))
        rows_lit.append(np.full(m.size, TRUE, np.int64))
        rows_key.append(np.full(m.size, -1, np.int64))
    cat = (lambda xs: np.concatenate(xs).astype(np.int64) if xs else np.zeros(0, np.int64))
    return cat(rows_c), cat(rows_col), cat(rows_lit), cat(rows_key)


def _popcount_lut6(hb, cls, lit, key, nbits, C):
    """Count planes like :func:`_popcount`, as a tree of 6-input counters (see the module
    docstring)."""
    bc, bcol, blit, bkey = _weighted_bits(cls, lit, key, C)
    B = int(nbits.max(initial=0))
    cols = [[[] for _ in range(max(B, 1))] for _ in range(C)]  # (key, lit) per column
    for c, j, x, k in zip(bc.tolist(), bcol.tolist(), blit.tolist(), bkey.tolist()):
        if j < nbits[c]:
            cols[c][j].append((k, x))
    ripple = [None] * C   # column the final ripple of a class has reached (None: not yet)
    while True:
        made = []  # (class, column, bits of column, bits of column + 1)
        for c in range(C):
            col = cols[c]
            nb = int(nbits[c])
            if ripple[c] is None:
                for j in range(nb):
                    col[j].sort()
                    while len(col[j]) >= 6:
                        made.append((c, j, col[j][:6], []))
                        del col[j][:6]
                    if len(col[j]) == 5 and j + 1 < nb and col[j + 1]:
                        col[j + 1].sort()
                        made.append((c, j, col[j][:5], col[j + 1][:1]))
                        del col[j][:5], col[j + 1][:1]
                if made and made[-1][0] == c:
                    continue
                ripple[c] = 0
            p = ripple[c]
            while p < nb and len(col[p]) <= 1:
                p += 1
            ripple[c] = p
            if p >= nb:
                continue
            col[p].sort()
            a = min(len(col[p]), 6)
            if a == 6:
                b = 0
            else:
                b = min(len(col[p + 1]) if p + 1 < nb else 0, (7 - a) // 2, 6 - a)
                if b:
                    col[p + 1].sort()
            made.append((c, p, col[p][:a], col[p + 1][:b] if b else []))
            del col[p][:a]
            if b:
                del col[p + 1][:b]
        if not made:
            break
        rows, tabs, ars, dest = [], [], [], []
        for c, j, lo, hi in made:
            a, b = len(lo), len(hi)
            ins = [x for _, x in lo] + [x for _, x in hi]
            k = max([kk for kk, _ in lo] + [kk for kk, _ in hi])
            for o in range(min((a + 2 * b).bit_length(), int(nbits[c]) - j)):
                rows.append(ins + [0] * (6 - a - b))
                tabs.append(_gpc_table(a, b, o))
                ars.append(a + b)
                dest.append((c, j + o, k))
        new = hb.add(np.array(rows, np.int64), np.array(tabs, np.uint64), np.array(ars))
        for (c, j, k), x in zip(dest, new.tolist()):
            cols[c][j].append((k, x))
    planes = np.full((C, max(B, 1)), FALSE, dtype=np.int64)
    for c in range(C):
        for j in range(int(nbits[c])):
            if cols[c][j]:
                planes[c, j] = cols[c][j][0][1]
    return planes[:, :B]


def _winners(hb, gt, left, right, score, index, last):
    """One tournament level's winners: where ``gt`` the right candidate's (index, count),
    else the left one's, by multiplexers (the counts not at the root, where none reads
    them); the unpaired last candidate passes through.  Returns (score, index)."""
    (li, ls), (ri, rs) = left, right
    P, IB, B = gt.size, index.shape[1], score.shape[1]
    a = np.concatenate([ri, rs] if not last else [ri], axis=1)
    b = np.concatenate([li, ls] if not last else [li], axis=1)
    w = a.shape[1]
    sel = np.repeat(gt, w)
    win = hb.add(np.stack([sel, a.reshape(-1), b.reshape(-1)], 1),
                 np.full(sel.size, _MUX, np.uint64)).reshape(P, w)
    wi, ws = win[:, :IB], (win[:, IB:] if not last else np.zeros((P, B), np.int64))
    return np.concatenate([ws, score[2 * P:]]), np.concatenate([wi, index[2 * P:]])


# --------------------------------------------------------------------------- argmax
def _argmax(hb, planes, nbits, C):
    """Index planes (literals, LSB first) of the first class with the largest count."""
    IB = (C - 1).bit_length()
    B = planes.shape[1]
    score = planes
    cand = np.arange(C, dtype=np.int64)
    index = ((cand[:, None] >> np.arange(IB)[None, :]) & 1).astype(np.int64)  # TRUE = 1
    while score.shape[0] > 1:
        m = score.shape[0]
        P = m // 2
        last = m == 2  # this level makes the root
        ls, rs = score[0:2 * P:2], score[1:2 * P:2]
        li, ri = index[0:2 * P:2], index[1:2 * P:2]
        gt = np.full(P, FALSE, dtype=np.int64)
        eq = np.full(P, FALSE ^ 1, dtype=np.int64)
        for j in range(B - 1, -1, -1):
            r, lft = rs[:, j], ls[:, j]
            if j:
                rows = np.concatenate([np.stack([gt, eq, r, lft], 1),
                                       np.pad(np.stack([eq, r, lft], 1), ((0, 0), (0, 1)))])
                tabs = np.concatenate([np.full(P, _GT, np.uint64), np.full(P, _EQ, np.uint64)])
                ar = np.concatenate([np.full(P, 4), np.full(P, 3)])
                out = hb.add(rows, tabs, ar)
                gt, eq = out[:P], out[P:]
            else:
                gt = hb.add(np.stack([gt, eq, r, lft], 1), np.full(P, _GT, np.uint64))
        score, index = _winners(hb, gt, (li, ls), (ri, rs), score, index, last)
    return index[0] if IB else np.zeros(0, dtype=np.int64)


@lru_cache(maxsize=None)
def _chunk_table(w: int, eq: bool) -> int:
    """Over r's w bits then l's (each MSB first): r > l, or r == l when ``eq``."""
    def f(*x):
        r = sum((x[i] << (w - 1 - i) for i in range(w)), 0)
        lv = sum((x[w + i] << (w - 1 - i) for i in range(w)), 0)
        return (r == lv) if eq else (r > lv)
    return _table(lambda *x: f(*x).astype(np.int64), 2 * w)


@lru_cache(maxsize=None)
def _join_table(m: int, eq: bool) -> int:
    """Over (G, E) of m chunks, most significant first (the last chunk's E left out):
    greater than, or (``eq``: over the m E's) equal."""
    if eq:
        return _table(lambda *e: np.prod(np.stack(e), axis=0), m)

    def f(*x):
        g = x[-1]
        for i in range(m - 2, -1, -1):
            g = x[2 * i] | (x[2 * i + 1] & g)
        return g
    return _table(f, 2 * m - 1)


def _greater_lut6(hb, rs, ls):
    """Literals r > l per row of the counts rs, ls int64[P, B] (LSB first): 3-bit chunks
    compared by 6-input gates (greater, equal), joined three chunks at a time."""
    P, B = rs.shape
    nodes = []  # (greater, equal or None for the least significant), MSB first
    for hi in range(B, 0, -3):
        lo = max(0, hi - 3)
        rows = np.concatenate([rs[:, lo:hi][:, ::-1], ls[:, lo:hi][:, ::-1]], axis=1)
        g = hb.add(rows, np.full(P, _chunk_table(hi - lo, False), np.uint64))
        e = None if lo == 0 else hb.add(rows, np.full(P, _chunk_table(hi - lo, True),
                                                     np.uint64))
        nodes.append((g, e))
    if not nodes:
        return np.full(P, FALSE, dtype=np.int64)
    while len(nodes) > 1:
        joined = []
        for i in range(0, len(nodes), 3):
            grp = nodes[i:i + 3]
            if len(grp) == 1:
                joined.append(grp[0])
                continue
            m = len(grp)
            gins = [x for g, e in grp[:-1] for x in (g, e)] + [grp[-1][0]]
            g = hb.add(np.stack(gins, 1), np.full(P, _join_table(m, False), np.uint64))
            e = None if grp[-1][1] is None else \
                hb.add(np.stack([e for _, e in grp], 1),
                       np.full(P, _join_table(m, True), np.uint64))
            joined.append((g, e))
        nodes = joined
    return nodes[0][0]


def _argmax_lut6(hb, planes, nbits, C):
    """Index planes like :func:`_argmax`: the same tournament, each comparison made of
    6-input chunk comparators (see the module docstring)."""
    IB = (C - 1).bit_length()
    score = planes
    index = ((np.arange(C)[:, None] >> np.arange(IB)[None, :]) & 1).astype(np.int64)
    while score.shape[0] > 1:
        m = score.shape[0]
        P = m // 2
        last = m == 2
        ls, rs = score[0:2 * P:2], score[1:2 * P:2]
        li, ri = index[0:2 * P:2], index[1:2 * P:2]
        gt = _greater_lut6(hb, rs, ls)  # strictly greater: ties keep the left (lower) one
        score, index = _winners(hb, gt, (li, ls), (ri, rs), score, index, last)
    return index[0] if IB else np.zeros(0, dtype=np.int64)


# --------------------------------------------------------------------------- composition
def _append(net: Netlist, nodes: np.ndarray, head: Netlist) -> Netlist:
    """``net``'s gates (same ids) then ``head``'s, whose input i reads ``net``'s node
    ``nodes[i]``; outputs: ``net``'s, then ``head``'s.

    Both netlists are valid and the head's gates only read earlier nodes, so the
    concatenation is valid by construction (renumbering the head's node ids is all it
    takes; re-adding its gates one level at a time to a builder seeded with ``net`` would
    make the same gates, several times slower on a large head)."""
    G, H = net.n_gates, head.n_gates
    hf = head.first_gate
    new = np.empty(head.n_nodes, dtype=np.int64)  # head node -> node of the result
    new[:2] = (0, 1)
    new[2:hf] = nodes
    new[hf:] = net.n_nodes + np.arange(H, dtype=np.int64)
    K = max(net.max_arity, head.max_arity)
    fan = np.zeros((G + H, K), dtype=np.int32)
    fan[:G, :net.max_arity] = net.fanin
    used = np.arange(head.max_arity)[None, :] < head.arity[:, None].astype(np.int64)
    fan[G:, :head.max_arity] = np.where(used, new[head.fanin], 0)
    return Netlist(net.n_inputs, fan, np.concatenate([net.arity, head.arity]),
                   np.concatenate([net.table, head.table]),
                   np.concatenate([net.outputs, new[head.outputs]]),
                   np.concatenate([net.invert, head.invert]), None, net.tau,
                   dict(net.meta))
