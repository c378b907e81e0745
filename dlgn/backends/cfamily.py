"""The bit-parallel "C-family" emitter core shared by the C and CUDA backends (DESIGN.md 6).

A word holds one bit of one node for ``word_bits`` samples; every gate becomes one
straight-line C statement over words.  The compiler does the logic work (the GroupSum
head lowered to gates, support reduction, liveness); this core only orders, allocates and
prints: truth table -> minimal word expression, scratch-slot allocation by liveness,
chunking.

How it works
------------
1. :func:`lower_program` runs the compiler: :func:`~dlgn.compiler.passes.support_reduction`
   (so a gate reads only fan-ins its table depends on, and liveness sees real uses only),
   :func:`~dlgn.compiler.head.lower_head` (the head as gates: a carry-save popcount per
   class and a first-maximum argmax, as count and class-index bit-planes among the
   outputs) and :func:`~dlgn.compiler.passes.live_gates` (gates no store needs are not
   printed).  Emission order: the netlist's gates in their order, each head gate right
   after the last gate its cone reads (so the outputs die early).
2. Gates are grouped into chunk functions of at most ``chunk_gates`` gates (compile time
   stays linear); ``<prefix>_eval_block`` calls them in order.  Inside a chunk each gate is
   one SSA local (``const WORD vN = <expr>;``); a value that a later chunk reads is also
   stored in a slot of a small reused scratch array (slots allocated by liveness: LIFO
   free list, freed at the last use) and loaded into a local (``aN``) once per reading
   chunk.  The scratch array is as small as the widest cut between chunks.

Expressions come from the one table of :mod:`dlgn.compiler.gates` (``EXPR1``/``EXPR2``);
wider gates are Shannon-expanded on x_0 down to those (:func:`expr_template`).

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
from dataclasses import dataclass

import numpy as np

from ..compiler import gates
from ..compiler.head import HeadLayout, lower_head
from ..compiler.netlist import Netlist
from ..compiler.passes import live_gates, support_reduction

__all__ = ["CFamilyEmitter", "Program", "lower_program", "last_use", "expr_template"]

log = logging.getLogger("dlgn.backends.cfamily")


# --------------------------------------------------------------------------- expressions
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


def _operands(template: str, vars_: tuple[int, ...]) -> str:
    """A template of :mod:`dlgn.compiler.gates` over {0}.. with operand i renamed vars_[i]."""
    e = template
    for i in range(len(vars_)):
        e = e.replace("{%d}" % i, "{@%d}" % i)
    for i, v in enumerate(vars_):
        e = e.replace("{@%d}" % i, "{%d}" % v)
    return e


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
        e = _operands(gates.EXPR1[table], vars_)
    elif k == 2:
        e = _operands(gates.EXPR2[table], vars_)
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
    """What the emitter prints: the headless netlist of :func:`lower_program`, its live
    gates in emission order, and where each node's value is stored.

    ``stores[node]`` lists ``(kind, index, invert)``: kind ``"o"`` is output word
    ``index`` of ``o``, kind ``"r"`` head result word ``index`` of ``r`` (count planes at
    ``count_offset[c]``, class-index planes at ``idx_offset``, both relative to ``r``)."""
    net: Netlist                 # headless: the source's outputs, then the head's planes
    layout: HeadLayout           # positions among net's outputs (see dlgn.compiler.head)
    order: np.ndarray            # live gate indices of net in emission order
    stores: dict                 # node -> list of (kind "o"|"r", index, invert)

    @property
    def n_outputs(self) -> int:
        return self.layout.n_outputs

    @property
    def n_results(self) -> int:
        return self.layout.n_results

    @property
    def n_classes(self) -> int:
        return self.layout.n_classes

    @property
    def count_offset(self) -> list:
        return [o - self.n_outputs for o in self.layout.count_offset]

    @property
    def count_bits(self) -> list:
        return list(self.layout.count_bits)

    @property
    def idx_offset(self) -> int:
        return self.layout.idx_offset - self.n_outputs

    @property
    def idx_bits(self) -> int:
        return self.layout.idx_bits


#: what the C/CUDA backends refuse up front (:func:`lower_program`).  Inputs: every block
#: packs all inputs into bit-planes of one word each -- 1 GiB per thread at 2**24 inputs and
#: 512-bit words -- and reads ``n_inputs`` bytes per row; gates and outputs: the C API's
#: ``int32_t`` constants (``dlgn_n_gates``, ``dlgn_n_outputs``) and the ``int`` indices of
#: the generated code must hold them.
LIMITS = {"limit_inputs": 1 << 24, "limit_gates": (1 << 31) - 1,
          "limit_outputs": (1 << 31) - 1}


def _emission_order(net: Netlist, n_old: int) -> np.ndarray:
    """Gates ``0 .. n_old-1`` in their order, each later gate right after the last of
    those gates its cone reads (ties: in their own order); then only the live ones."""
    G, first = net.n_gates, net.first_gate
    prim = np.full(net.n_nodes, -1, dtype=np.int64)
    prim[first:first + n_old] = np.arange(n_old)
    if G > n_old:
        lev = net.levels()[first + n_old:]
        order = n_old + np.argsort(lev, kind="stable")
        used = np.arange(net.max_arity)[None, :] < net.arity[:, None].astype(np.int64)
        for grp in np.split(order, np.flatnonzero(np.diff(lev[order - n_old])) + 1):
            prim[first + grp] = np.where(used[grp], prim[net.fanin[grp]], -1).max(axis=1)
    sec = np.concatenate([np.zeros(n_old, dtype=np.int64), 1 + np.arange(G - n_old)])
    order = np.lexsort((sec, prim[first:]))
    return order[live_gates(net)[order]]


def last_use(net: Netlist, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each gate (index from ``net.first_gate``): its position in the emission
    ``order`` (-1: not emitted) and the position of its last reader in that order (its own
    position when no emitted gate reads it: a gate with only stores dies right after
    them)."""
    first = net.first_gate
    pos = np.full(net.n_gates, -1, dtype=np.int64)
    pos[order] = np.arange(order.size)
    last = pos.copy()
    if order.size:
        f = net.fanin[order]
        u = np.arange(net.max_arity)[None, :] < net.arity[order][:, None].astype(np.int64)
        cons = np.broadcast_to(np.arange(order.size)[:, None], f.shape)[u]
        src = f[u]
        g = src >= first
        np.maximum.at(last, src[g] - first, cons[g])
    return pos, last


def lower_program(net: Netlist, head: bool = True) -> Program:
    """Lower ``net`` (and its GroupSum head when ``head`` and it has one) to a Program.

    Refuses (:class:`~dlgn.compiler.netlist.NetlistTooLargeError`, before anything is
    allocated for it) a netlist the C/CUDA code cannot evaluate: see :data:`LIMITS`."""
    net.check_size(what="the C/CUDA backend", **LIMITS)
    net.check()
    red = support_reduction(net).net
    if head and red.n_classes:
        hnet, lay = lower_head(red, check=False)
    else:  # no head printed: the outputs are the result
        hnet, lay = red, HeadLayout(red.n_outputs, (), (), red.n_outputs, 0)
    O = lay.n_outputs
    stores: dict = {}
    for k, (n, inv) in enumerate(zip(hnet.outputs.tolist(), hnet.invert.tolist())):
        stores.setdefault(n, []).append(("o", k, bool(inv)) if k < O else
                                        ("r", k - O, bool(inv)))
    return Program(hnet, lay, _emission_order(hnet, red.n_gates), stores)


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
        p = self.program
        net = p.net
        first = net.first_gate
        CG = self.chunk_gates
        pre: list[str] = []
        refs = [self.ZERO, self.ONES] + [self.in_ref(i) for i in range(net.n_inputs)]
        for n in sorted(x for x in p.stores if x < first):
            self._store_lines(refs[n], n, pre)
        order = p.order
        pos, last = last_use(net, order)
        cross = ((last // CG) > (pos // CG)) & (pos >= 0)  # needs a scratch slot
        fan_l = net.fanin[order].tolist()
        ar_l = net.arity[order].tolist()
        tab_l = net.table[order].tolist()
        last_l = last.tolist()
        cross_l = cross.tolist()
        stores = p.stores
        slot = [-1] * net.n_gates
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

    def _chunk_text(self, c: int, lines: list, qual: str) -> str:
        return (f"{qual} void {self.prefix}_chunk_{c}({self.chunk_params()})\n{{\n    "
                f"{self.chunk_unused()}\n    " + "\n    ".join(lines) + "\n}\n")

    def _block_text(self, n_chunks: int) -> str:
        pre, args = self.prefix, self.chunk_args()
        calls = "".join(f"    {pre}_chunk_{c}({args});\n" for c in range(n_chunks))
        return f"{self.BLOCK_QUAL} void {pre}_eval_block({self.chunk_params()})\n{{\n{calls}}}\n"

    def emit_eval(self) -> str:
        """Chunk functions and ``<prefix>_eval_block(chunk_params)``."""
        chunks = self.body_chunks()
        parts = [self._chunk_text(c, lines, self.CHUNK_QUAL) for c, lines in enumerate(chunks)]
        parts.append(self._block_text(len(chunks)))
        return "\n".join(parts)

    def split_chunks(self, n_parts: int) -> list[range]:
        """The chunks in ``n_parts`` (at most) contiguous ranges of about equal statements."""
        chunks = self.body_chunks()
        n_parts = max(1, min(int(n_parts), len(chunks)))
        cum = np.cumsum([len(c) for c in chunks])
        total = int(cum[-1]) if cum.size else 0
        cuts = [0]
        for k in range(1, n_parts):
            cuts.append(max(cuts[-1], int(np.searchsorted(cum, total * k / n_parts))))
        cuts.append(len(chunks))
        return [range(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]

    def emit_eval_parts(self, n_parts: int, qual: str) -> tuple[str, list[str]]:
        """The evaluation for several translation units: (prototypes of the chunk functions
        and ``<prefix>_eval_block``, [the chunk functions of each part]).  ``qual``
        qualifies the chunk functions, which have external linkage (the build hides them)."""
        chunks = self.body_chunks()
        par = self.chunk_params()
        protos = "".join(f"{qual} void {self.prefix}_chunk_{c}({par});\n"
                         for c in range(len(chunks)))
        texts = ["\n".join(self._chunk_text(c, chunks[c], qual) for c in rng)
                 for rng in self.split_chunks(n_parts)]
        return protos + "\n" + self._block_text(len(chunks)), texts
