"""The bit-parallel "C-family" emitter core shared by the C and CUDA backends (DESIGN.md 6).

A word holds one bit of one node for ``word_bits`` samples; every gate becomes one
straight-line C statement over words.  The core does everything that does not depend on
the target language: lowering the GroupSum head to gates, dead-gate removal, ordering,
truth table -> minimal word expression, scratch-slot allocation by liveness, chunking.

How it works
------------
1. :func:`lower_program` appends the head to the netlist *as gates* (built through a small
   folding constructor that absorbs output polarity and constants into the truth tables):
   per class a streaming carry-save (Harley-Seal style) bit-sliced popcount whose full
   adders are 3-input gates (XOR3 / MAJ), then a bit-sliced argmax (strictly-greater
   compare, so the first maximum wins ties) producing the class index as bit-planes.
   Head gates are ordered right after their last operand, so outputs die early.
2. Fan-ins a table ignores are dropped, then gates reachable from no store.
3. Gates are grouped into chunk functions of at most ``chunk_gates`` gates (compile time
   stays linear); ``<prefix>_eval_block`` calls them in order.  Inside a chunk each gate is
   one SSA local (``const WORD vN = <expr>;``); a value that a later chunk reads is also
   stored in a slot of a small reused scratch array (slots allocated by liveness: LIFO
   free list, freed at the last use) and loaded into a local (``aN``) once per reading
   chunk.  The scratch array is as small as the widest cut between chunks.

Extension points (stable; override in a subclass, e.g. the CUDA backend)
-------------------------------------------------------------------------
Class attributes:

* ``WORD``        the word type name (default ``dlgn_word``; the backend's prologue defines it)
* ``ZERO``/``ONES`` expressions for the all-0 / all-1 word (must contain no ``{`` ``}``:
  use a macro)
* ``CHUNK_QUAL``  qualifiers of chunk functions (C: ``static DLGN_NOINLINE``;
  CUDA e.g. ``static __device__ __noinline__``)
* ``BLOCK_QUAL``  qualifiers of ``<prefix>_eval_block`` (C: ``static``)
* ``RESTRICT``    the restrict spelling used in parameter lists

Methods (each called once per index, results cached):

* ``in_ref(i)``      word of primary input ``i``      (default ``x[i]``)
* ``scratch_ref(s)`` scratch slot ``s``               (default ``s[s]``)
* ``out_store(k, expr)`` statement storing output word ``k`` (polarity already in expr;
  default ``o[k] = expr;``)
* ``res_store(k, expr)`` statement storing head result word ``k`` (default ``r[k] = expr;``)
* ``chunk_params()`` / ``chunk_args()`` the parameter list / argument list shared by
  chunk functions and ``eval_block`` (default ``x, s, o, r``); ``chunk_unused()`` a
  statement silencing unused-parameter warnings
* ``local_decl(name, expr)`` a chunk-local declaration (default ``const WORD name = expr;``)

Result layout (``r``, see :class:`Program`): class ``c``'s count as ``count_bits[c]``
bit-planes (LSB first) at ``count_offset[c]``; the predicted class index as ``idx_bits``
planes at ``idx_offset``.  ``o`` holds ``n_outputs`` words, polarity applied.
Everything here is deterministic: the same netlist gives the same text.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..compiler.netlist import Netlist

__all__ = ["CFamilyEmitter", "Program", "lower_program", "expr_template"]

log = logging.getLogger("dlgn.backends.cfamily")

# --------------------------------------------------------------------------- expressions
# two-input functions, table bit u = 2a + b (DESIGN.md 2); {Z} {O} are the constants
_TWO = {
    0: "{Z}", 1: "~({0} | {1})", 2: "{1} & ~{0}", 3: "~{0}", 4: "{0} & ~{1}", 5: "~{1}",
    6: "{0} ^ {1}", 7: "~({0} & {1})", 8: "{0} & {1}", 9: "~({0} ^ {1})", 10: "{1}",
    11: "{1} | ~{0}", 12: "{0}", 13: "{0} | ~{1}", 14: "{0} | {1}", 15: "{O}",
}


def _atomic(e: str) -> bool:
    return e.replace("_", "").replace("[", "").replace("]", "").replace("{", "") \
        .replace("}", "").isalnum() or (e.startswith("~") and _atomic(e[1:]))


def _par(e: str) -> str:
    return e if _atomic(e) else f"({e})"


def _not(e: str) -> str:
    if e.startswith("~") and _atomic(e[1:]):
        return e[1:]
    if e == "{Z}":
        return "{O}"
    if e == "{O}":
        return "{Z}"
    return "~" + _par(e)


def _gen(table: int, vars_: tuple[int, ...], memo: dict) -> str:
    key = (table, vars_)
    if key in memo:
        return memo[key]
    k = len(vars_)
    full = (1 << (1 << k)) - 1
    if table == 0:
        e = "{Z}"
    elif table == full:
        e = "{O}"
    elif k == 1:
        e = "{%d}" % vars_[0] if table == 2 else "~{%d}" % vars_[0]
    elif k == 2:
        e = _TWO[table].replace("{0}", "{A}").replace("{1}", "{B}") \
            .replace("{A}", "{%d}" % vars_[0]).replace("{B}", "{%d}" % vars_[1])
    else:  # Shannon on x_0 (the most significant bit of u)
        half = 1 << (k - 1)
        m = (1 << half) - 1
        f0, f1 = table & m, table >> half
        rest, x = vars_[1:], "{%d}" % vars_[0]
        if f0 == f1:
            e = _gen(f0, rest, memo)
        else:
            e0, e1 = _gen(f0, rest, memo), _gen(f1, rest, memo)
            if f0 == 0:
                e = f"{x} & {_par(e1)}"
            elif f1 == 0:
                e = f"{_par(e0)} & ~{x}"
            elif f1 == m:
                e = f"{x} | {_par(e0)}"
            elif f0 == m:
                e = f"{_par(e1)} | ~{x}"
            elif f1 == f0 ^ m:
                e = f"{x} ^ {_par(e0)}"
            elif f0 & ~f1 == 0:  # monotone increasing in x_0
                e = f"{_par(e0)} | ({x} & {_par(e1)})"
            elif f1 & ~f0 == 0:
                e = f"{_par(e1)} | ({_par(e0)} & ~{x})"
            else:
                e = f"({x} & {_par(e1)}) | ({_par(e0)} & ~{x})"
    memo[key] = e
    return e


_MEMO: dict = {}


def expr_template(table: int, arity: int) -> str:
    """Word expression of a gate as a ``str.format`` template over ``{0}..{k-1}`` (the
    operands) and ``{Z}``/``{O}`` (the constant words)."""
    return _gen(int(table), tuple(range(int(arity))), _MEMO)


# --------------------------------------------------------------------------- the program
@dataclass
class Program:
    """A netlist plus its head lowered to gates, in emission order (see module doc)."""
    net: Netlist
    fanin: np.ndarray            # int64[T, 6] over extended node ids
    arity: np.ndarray            # int64[T]
    table: np.ndarray            # uint64[T]
    order: np.ndarray            # live gate indices (into the arrays above) in emission order
    stores: dict                 # node -> list of (kind "o"|"r", index, invert)
    n_outputs: int
    n_results: int
    count_offset: list = field(default_factory=list)
    count_bits: list = field(default_factory=list)
    idx_offset: int = 0
    idx_bits: int = 0

    @property
    def n_classes(self) -> int:
        return len(self.count_bits)


def _reduce_support(table: int, k: int):
    """Drop variables the table does not depend on -> (table, kept var indices)."""
    keep = list(range(k))
    i = 0
    while i < len(keep):
        kk = len(keep)
        sh = kk - 1 - i
        t0 = t1 = 0
        j = 0
        for u in range(1 << kk):
            if not (u >> sh) & 1:
                hi = u | (1 << sh)
                b0, b1 = (table >> u) & 1, (table >> hi) & 1
                t0 |= b0 << j
                t1 |= b1 << j
                j += 1
        if t0 == t1:
            table = t0
            del keep[i]
        else:
            i += 1
    return table, keep


class _Builder:
    """Folding constructor for head gates: operands are (node, invert) pairs."""

    def __init__(self, net: Netlist):
        self.first = net.first_gate
        self.base = net.n_nodes
        self.fan, self.ar, self.tab, self.prim = [], [], [], []

    def key(self, node):
        if node < self.first:
            return -1
        if node < self.base:
            return node - self.first
        return self.prim[node - self.base]

    def mk(self, fn, ops):
        nodes = []
        for n, _ in ops:
            if n >= 2 and n not in nodes:
                nodes.append(n)
        k = len(nodes)
        table = 0
        for u in range(1 << k):
            val = {n: (u >> (k - 1 - i)) & 1 for i, n in enumerate(nodes)}
            args = [(val[n] if n >= 2 else n) ^ int(inv) for n, inv in ops]
            if fn(*args) & 1:
                table |= 1 << u
        table, keep = _reduce_support(table, k)
        nodes = [nodes[i] for i in keep]
        if not nodes:
            return (int(table & 1), False)
        if len(nodes) == 1:
            return (nodes[0], table == 1)
        self.fan.append(nodes + [0] * (6 - len(nodes)))
        self.ar.append(len(nodes))
        self.tab.append(table)
        self.prim.append(max(self.key(n) for n in nodes))
        return (self.base + len(self.ar) - 1, False)


def _popcount(b: _Builder, ops):
    """Streaming carry-save count of ``ops`` -> bit-planes (LSB first) as (node, inv)."""
    xor3 = lambda a, c, d: a ^ c ^ d  # noqa: E731
    maj = lambda a, c, d: (a & c) | (a & d) | (c & d)  # noqa: E731
    cols: list[list] = [[]]

    def fa(w):
        a, c, d = cols[w].pop(0), cols[w].pop(0), cols[w].pop(0)
        cols[w].append(b.mk(xor3, [a, c, d]))
        if w + 1 == len(cols):
            cols.append([])
        cols[w + 1].append(b.mk(maj, [a, c, d]))

    for op in ops:
        cols[0].append(op)
        w = 0
        while w < len(cols) and len(cols[w]) >= 3:
            fa(w)
            w += 1
    w = 0
    while w < len(cols):
        while len(cols[w]) >= 3:
            fa(w)
        if len(cols[w]) == 2:
            a, c = cols[w].pop(0), cols[w].pop(0)
            cols[w].append(b.mk(lambda p, q: p ^ q, [a, c]))
            if w + 1 == len(cols):
                cols.append([])
            cols[w + 1].append(b.mk(lambda p, q: p & q, [a, c]))
        w += 1
    nbits = len(ops).bit_length()
    planes = [col[0] if col else (0, False) for col in cols][:nbits]
    return planes + [(0, False)] * (nbits - len(planes))


def _argmax(b: _Builder, counts):
    """Bit-sliced first-maximum argmax -> class index planes (LSB first)."""
    C = len(counts)
    ibits = (C - 1).bit_length()
    best = list(counts[0])
    idx = [(0, False)] * ibits
    for c in range(1, C):
        cur = list(counts[c])
        B = max(len(best), len(cur))
        best += [(0, False)] * (B - len(best))
        cur += [(0, False)] * (B - len(cur))
        gt, eq = (0, False), (1, False)
        for j in range(B - 1, -1, -1):
            cb, bb = cur[j], best[j]
            gt = b.mk(lambda g, e, p, q: g | (e & p & (1 - q)), [gt, eq, cb, bb])
            if j:
                eq = b.mk(lambda e, p, q: e & (1 - (p ^ q)), [eq, cb, bb])
        if c < C - 1:
            best = [b.mk(lambda g, p, q: p if g else q, [gt, cur[j], best[j]]) for j in range(B)]
        idx = [b.mk((lambda g, i: g | i) if (c >> j) & 1 else (lambda g, i: i & (1 - g)),
                    [gt, idx[j]]) for j in range(ibits)]
    return idx


def _drop_unread_fanins(fanin, arity, table):
    """Point fan-ins that a gate's table ignores at constant 0 (in place, vectorized), so
    that liveness sees only real uses (the expression never mentions them)."""
    for k in range(2, 7):
        sel = np.flatnonzero(arity == k)
        if not sel.size:
            continue
        t = table[sel]
        for i in range(k):
            sh = k - 1 - i
            step = 1 << sh
            m = 0
            for u in range(1 << k):
                if not (u >> sh) & 1:
                    m |= 1 << u
            m = np.uint64(m)
            same = ((t >> np.uint64(step)) & m) == (t & m)
            fanin[sel[same], i] = 0
    one = np.flatnonzero((arity == 1) & ((table == 0) | (table == 3)))
    fanin[one, 0] = 0


def lower_program(net: Netlist, head: bool = True) -> Program:
    """Lower ``net`` (and its GroupSum head when ``head`` and it has one) to a Program."""
    net.check()
    G, first = net.n_gates, net.first_gate
    stores: dict = {}
    for k, (n, inv) in enumerate(zip(net.outputs.tolist(), net.invert.tolist())):
        stores.setdefault(n, []).append(("o", k, bool(inv)))
    b = _Builder(net)
    count_offset, count_bits, idx_offset, idx_bits, n_res = [], [], 0, 0, 0
    if head and net.n_classes:
        bounds = np.concatenate([[0], np.cumsum(net.group_sizes)]).tolist()
        outs = list(zip(net.outputs.tolist(), net.invert.tolist()))
        counts = []
        for c in range(net.n_classes):
            planes = _popcount(b, outs[bounds[c]:bounds[c + 1]])
            count_offset.append(n_res)
            count_bits.append(len(planes))
            for j, (n, inv) in enumerate(planes):
                stores.setdefault(n, []).append(("r", n_res + j, bool(inv)))
            n_res += len(planes)
            counts.append(planes)
        idx = _argmax(b, counts)
        idx_offset, idx_bits = n_res, len(idx)
        for j, (n, inv) in enumerate(idx):
            stores.setdefault(n, []).append(("r", n_res + j, bool(inv)))
        n_res += len(idx)
    H = len(b.ar)
    K = 6
    fanin = np.zeros((G + H, K), dtype=np.int64)
    fanin[:G, :net.fanin.shape[1]] = net.fanin
    arity = np.concatenate([net.arity.astype(np.int64), np.asarray(b.ar, dtype=np.int64)])
    table = np.concatenate([net.table, np.asarray(b.tab, dtype=np.uint64)])
    if H:
        fanin[G:] = np.asarray(b.fan, dtype=np.int64)
    _drop_unread_fanins(fanin, arity, table)
    prim = np.concatenate([np.arange(G, dtype=np.int64), np.asarray(b.prim, dtype=np.int64)])
    sec = np.concatenate([np.zeros(G, dtype=np.int64), 1 + np.arange(H, dtype=np.int64)])
    order = np.lexsort((sec, prim)) if G + H else np.zeros(0, dtype=np.int64)
    # dead-gate removal to a fixed point (vectorized)
    T = G + H
    live = np.zeros(T, dtype=bool)
    st = np.fromiter((n - first for n in stores if n >= first), dtype=np.int64)
    used = np.arange(K)[None, :] < arity[:, None]
    alive = np.ones(T, dtype=bool)
    while True:
        live[:] = False
        live[st] = True
        f = fanin[alive & (arity > 0)]
        u = used[alive & (arity > 0)]
        ids = f[u]
        ids = ids[ids >= first] - first
        live[ids] = True
        live &= alive
        if (live == alive).all():
            break
        alive = live.copy()
    order = order[live[order]]
    return Program(net, fanin, arity, table, order, stores, net.n_outputs, n_res,
                   count_offset, count_bits, idx_offset, idx_bits)


# --------------------------------------------------------------------------- emitter
class CFamilyEmitter:
    """Straight-line bit-parallel code for a Program; subclass per target (see module doc)."""

    WORD = "dlgn_word"
    ZERO = "DLGN_ZERO"
    ONES = "DLGN_ONES"
    CHUNK_QUAL = "static DLGN_NOINLINE"
    BLOCK_QUAL = "static"
    RESTRICT = "DLGN_RESTRICT"

    def __init__(self, netlist: Netlist, chunk_gates: int = 2000, prefix: str = "dlgn",
                 head: bool = True):
        if not isinstance(netlist, Netlist):
            raise TypeError(f"expected a dlgn Netlist, got {type(netlist).__name__}")
        if int(chunk_gates) < 1:
            raise ValueError("chunk_gates must be >= 1")
        if not prefix.isidentifier():
            raise ValueError(f"prefix {prefix!r} is not a C identifier")
        self.net = netlist
        self.chunk_gates = int(chunk_gates)
        self.prefix = prefix
        self.program = lower_program(netlist, head=head)
        self.n_slots = 0
        self._body = None

    # ---- extension points
    def in_ref(self, i: int) -> str:
        return f"x[{i}]"

    def scratch_ref(self, slot: int) -> str:
        return f"s[{slot}]"

    def out_store(self, k: int, expr: str) -> str:
        return f"o[{k}] = {expr};"

    def res_store(self, k: int, expr: str) -> str:
        return f"r[{k}] = {expr};"

    def chunk_params(self) -> str:
        w, R = self.WORD, self.RESTRICT
        return f"const {w} *{R} x, {w} *{R} s, {w} *{R} o, {w} *{R} r"

    def chunk_args(self) -> str:
        return "x, s, o, r"

    def chunk_unused(self) -> str:
        """Statement silencing unused-parameter warnings in a chunk function."""
        return "(void)x; (void)s; (void)o; (void)r;"

    # ---- core
    def _store_lines(self, node_ref: str, node: int, out: list):
        for kind, k, inv in self.program.stores.get(node, ()):
            if node < 2:
                e = (self.ZERO, self.ONES)[node ^ int(inv)]
            else:
                e = _not(node_ref) if inv else node_ref
            out.append(self.out_store(k, e) if kind == "o" else self.res_store(k, e))

    def local_decl(self, name: str, expr: str) -> str:
        """Declaration of a chunk-local word (extension point)."""
        return f"const {self.WORD} {name} = {expr};"

    def body_chunks(self) -> list[list[str]]:
        """Statements of the block evaluation split into chunks; sets ``self.n_slots``.

        Inside a chunk every gate value is a local (``vN``, SSA: cheap for the compiler);
        a value used by a later chunk is also written to a scratch slot, and read back
        into a local (``aN``) at its first use in a later chunk.  Slots are allocated by
        liveness (LIFO free list), so the scratch array stays as small as the widest cut."""
        if self._body is not None:
            return self._body
        p, net = self.program, self.net
        first = net.first_gate
        CG = self.chunk_gates
        pre: list[str] = []
        refs = [self.ZERO, self.ONES] + [self.in_ref(i) for i in range(net.n_inputs)]
        for n in sorted(x for x in p.stores if x < first):
            self._store_lines(refs[n], n, pre)
        order = p.order
        T = p.arity.shape[0]
        pos = np.full(T, -1, dtype=np.int64)
        pos[order] = np.arange(order.size)
        last = pos.copy()  # a gate with only stores dies right after them
        if order.size:
            f = p.fanin[order]
            u = np.arange(6)[None, :] < p.arity[order][:, None]
            cons = np.broadcast_to(np.arange(order.size)[:, None], f.shape)[u]
            src = f[u]
            g = src >= first
            np.maximum.at(last, src[g] - first, cons[g])
        cross = ((last // CG) > (pos // CG)) & (pos >= 0)  # needs a scratch slot
        fan_l = p.fanin[order].tolist()
        ar_l = p.arity[order].tolist()
        tab_l = p.table[order].tolist()
        last_l = last.tolist()
        cross_l = cross.tolist()
        stores = p.stores
        slot = [-1] * T
        sref: list[str] = []
        free: list[int] = []
        chunks: list[list[str]] = []
        tmemo: dict = {}
        zo = {"Z": self.ZERO.replace("{", "{{").replace("}", "}}"),
              "O": self.ONES.replace("{", "{{").replace("}", "}}")}
        local: dict = {}  # node -> local name valid in the current chunk
        lines: list[str] = list(pre)
        nloc = 0
        cur_chunk = 0
        for i, gi in enumerate(order.tolist()):
            ch = i // CG
            if ch != cur_chunk:
                chunks.append(lines)
                lines, local, cur_chunk = [], {}, ch
            k = ar_l[i]
            ops = []
            for f_ in fan_l[i][:k]:
                if f_ < 2:
                    ops.append(refs[f_])
                    continue
                name = local.get(f_)
                if name is None:
                    name = f"a{nloc}"
                    nloc += 1
                    src_ref = refs[f_] if f_ < first else sref[slot[f_ - first]]
                    lines.append(self.local_decl(name, src_ref))
                    local[f_] = name
                ops.append(name)
            for f_ in fan_l[i][:k]:
                if f_ >= first:
                    j = f_ - first
                    if last_l[j] == i and slot[j] >= 0:
                        free.append(slot[j])
                        slot[j] = -1
            key = (k, tab_l[i])
            t = tmemo.get(key)
            if t is None:
                t = expr_template(tab_l[i], k).replace("{Z}", zo["Z"]).replace("{O}", zo["O"])
                tmemo[key] = t
            name = f"v{nloc}"
            nloc += 1
            node = first + gi
            local[node] = name
            lines.append(self.local_decl(name, t.format(*ops)))
            if cross_l[gi]:
                if free:
                    sl = free.pop()
                else:
                    sl = len(sref)
                    sref.append(self.scratch_ref(sl))
                slot[gi] = sl
                lines.append(f"{sref[sl]} = {name};")
            if node in stores:
                self._store_lines(name, node, lines)
        chunks.append(lines)
        self.n_slots = len(sref)
        self._body = chunks
        return chunks

    def emit_eval(self) -> str:
        """Chunk functions and ``<prefix>_eval_block(chunk_params)``."""
        chunks = self.body_chunks()
        pre, par, args = self.prefix, self.chunk_params(), self.chunk_args()
        parts = []
        for c, lines in enumerate(chunks):
            parts.append(f"{self.CHUNK_QUAL} void {pre}_chunk_{c}({par})\n{{\n    "
                         f"{self.chunk_unused()}\n    " + "\n    ".join(lines) + "\n}\n")
        calls = "".join(f"    {pre}_chunk_{c}({args});\n" for c in range(len(chunks)))
        parts.append(f"{self.BLOCK_QUAL} void {pre}_eval_block({par})\n{{\n{calls}}}\n")
        return "\n".join(parts)
