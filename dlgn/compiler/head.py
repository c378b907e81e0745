"""The GroupSum head as gates: a popcount per class, then a first-maximum argmax
(DESIGN.md sections 2 and 6).

``lower_head(net) -> (headless, layout)`` returns a netlist without a head
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
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .builder import FALSE, NetlistBuilder
from .gates import bits_to_table
from .netlist import Netlist

__all__ = ["HeadLayout", "lower_head", "XOR3", "MAJ"]


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


def lower_head(net: Netlist, *, check: bool = True) -> tuple[Netlist, HeadLayout]:
    """``net`` with its GroupSum head lowered to gates, and the layout of the result.

    Raises :class:`~dlgn.compiler.netlist.NetlistError` when ``net`` is invalid
    (``check=False`` skips validating a netlist the caller has just checked)."""
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
    planes = _popcount(hb, cls, lit, key, nbits, C)
    idx = _argmax(hb, planes, nbits, C)
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
        # select the winners' counts (not at the root: never read) and indices
        a = np.concatenate([ri, rs] if not last else [ri], axis=1)
        b = np.concatenate([li, ls] if not last else [li], axis=1)
        w = a.shape[1]
        sel = np.repeat(gt, w)
        win = hb.add(np.stack([sel, a.reshape(-1), b.reshape(-1)], 1),
                     np.full(sel.size, _MUX, np.uint64)).reshape(P, w)
        wi, ws = win[:, :IB], (win[:, IB:] if not last else np.zeros((P, B), np.int64))
        score = np.concatenate([ws, score[2 * P:]])
        index = np.concatenate([wi, index[2 * P:]])
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
