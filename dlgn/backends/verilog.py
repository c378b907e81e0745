"""Verilog backend: synthesizable RTL of a Netlist (DESIGN.md section 6).

``emit(netlist, pipeline=0, module="dlgn_model")`` returns one Verilog-2005 file holding

* ``<module>_logic`` — the gates: input bits ``x`` to the output bits ``y`` (polarity
  applied).  A named wire ``x<i> = x[i]`` per input bit that is read, and one named wire
  ``g<n>`` with one ``assign`` per live gate: two-input gates as expressions, k-input gates
  (k >= 3) as a truth-table ``localparam`` indexed by the concatenation of their inputs
  (x_0 is the most significant index bit, the table convention of DESIGN.md section 2).
  Only gates that reach an output are emitted (the rest cannot change any output).
  ``y`` is one concatenation (up to 64 bits) or 64-bit words ``yw<i>`` joined by one
  ``always @(*)`` — never ``assign y[o]`` bit by bit.
  With ``pipeline=L > 0`` a register bank follows every L logic levels and one follows
  the last level (``ceil(depth / L)`` cycles, at least 1).
* ``<module>_head`` (netlists with a GroupSum head) — ``y`` is split by a tree of part
  selects into 6-bit chunks ``yc<c>_<i>`` of each class group; per group a popcount: a
  first level of 6:3 compressors (each one lookup in the popcount table ``POP<k>``: one
  LUT per sum bit, no carry chains, about half the registers of a 2:1 first level) and a
  balanced adder tree on their sums; then a balanced argmax tree (first maximum on ties).
  Combinational, each group's adder tree is one expression in one ``always @(*)``.  With
  ``pipeline > 0`` every tree level is registered; the popcount keeps ``ceil(log2 n)``
  levels (its root is carried through the levels the compressors save), so the latency
  is the same as a plain binary tree's.
* ``<module>`` — the top: ``x`` in, ``class_id`` and ``scores`` out (or ``y`` for a
  netlist without a head); the pipelined form adds ``clk``, ``rst``, ``in_valid``,
  ``out_valid`` and ``localparam LATENCY``.

Event-driven simulators (Icarus) run this text fast: no wide vector is written bit by bit
or read by one bit select per bit, so an event costs about the logic it reaches (the
6x8000 MNIST netlist runs its 256-vector testbench in Icarus in about 3 s of CPU time).

The text is deterministic: it depends on the netlist's arrays and the options only.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..compiler import gates
from ..compiler.netlist import Netlist
from ..compiler.passes.dead import reachable
from ..compiler.tables import depends_on
from .verilog_tb import write_testbench

__all__ = ["emit", "write_files", "layout", "VerilogLayout", "module_names", "check_module_name"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYWORDS = frozenset("""always and assign automatic begin buf bufif0 bufif1 case casex casez cell
cmos config deassign default defparam design disable edge else end endcase endconfig
endfunction endgenerate endmodule endprimitive endspecify endtable endtask event for force
forever fork function generate genvar highz0 highz1 if ifnone incdir include initial inout
input instance integer join large liblist library localparam macromodule medium module nand
negedge nmos nor noshowcancelled not notif0 notif1 or output parameter pmos posedge primitive
pull0 pull1 pulldown pullup pulsestyle_onevent pulsestyle_ondetect rcmos real realtime reg
release repeat rnmos rpmos rtran rtranif0 rtranif1 scalared showcancelled signed small specify
specparam strong0 strong1 supply0 supply1 table task time tran tranif0 tranif1 tri tri0 tri1
triand trior trireg unsigned use uwire vectored wait wand weak0 weak1 while wire wor xnor xor
bit byte logic int shortint longint void class interface package program""".split())

def check_module_name(name: str) -> str:
    """Return ``name`` if it is a legal, non-reserved Verilog identifier; else raise."""
    if not isinstance(name, str) or not _IDENT.match(name) or name in _KEYWORDS:
        raise ValueError(f"{name!r} is not a legal Verilog module name "
                         "(letters, digits and _, not starting with a digit, not a keyword)")
    return name


def module_names(module: str) -> dict:
    check_module_name(module)
    return {"top": module, "logic": f"{module}_logic", "head": f"{module}_head"}


def _bitlen(n: int) -> int:
    return max(1, int(n).bit_length())


@dataclass(frozen=True)
class VerilogLayout:
    """What the emitted design looks like from outside (for testbenches and reports)."""
    module: str
    n_inputs: int
    x_width: int
    n_outputs: int
    n_classes: int
    class_width: int
    score_width: int
    pipeline: int
    logic_latency: int
    head_latency: int
    live_gates: int
    depth: int
    head_stride: int = 1

    @property
    def latency(self) -> int:
        return self.logic_latency + self.head_latency

    @property
    def has_head(self) -> bool:
        return self.n_classes > 0

    @property
    def result_width(self) -> int:
        """Width of the packed result ``{scores, class_id}`` (or ``y`` without a head)."""
        if self.has_head:
            return self.n_classes * self.score_width + self.class_width
        return self.n_outputs


#: What the Verilog target refuses (:meth:`Netlist.check_size`, before any work): the
#: ``x`` and ``y`` buses and the testbench's vector memories are vectors of these widths
#: (a 2**26-bit ``x`` runs the testbench and the simulators out of memory), and the text
#: holds a few lines per gate.
LIMITS = {"limit_inputs": 1 << 20, "limit_outputs": 1 << 20, "limit_gates": 1 << 24}


# --------------------------------------------------------------------------- analysis
def _reads(net: Netlist) -> np.ndarray:
    """bool[G, K]: the fan-ins each gate's expression mentions.  A one- or two-input
    gate's expression (from :data:`dlgn.compiler.gates.EXPR1`/``EXPR2``) names only the
    inputs its table depends on; a wider gate's LUT index names all of them."""
    K = net.max_arity
    reads = np.arange(K)[None, :] < net.arity[:, None].astype(np.int64)
    for k in (1, 2):
        sel = np.flatnonzero(net.arity == k)
        if sel.size:
            reads[sel, :k] = depends_on(net.table[sel], k)
    return reads


class _Plan:
    """Live cone, stages and register needs of the logic module."""

    def __init__(self, net: Netlist, pipeline: int):
        self.net = net
        self.L = pipeline
        first = net.first_gate
        reads = _reads(net)
        src = np.where(reads, net.fanin, 0)
        # liveness over the fan-ins the expressions mention (a view with the others at 0)
        live = reachable(Netlist(net.n_inputs, src, net.arity, net.table, net.outputs),
                         net.outputs)
        self.live_gates = lg = np.flatnonzero(live[first:])
        self.used_inputs = np.flatnonzero(live[2:first])
        lev = net.levels()
        out_nodes = net.outputs
        self.depth = int(lev[out_nodes].max(initial=0)) if out_nodes.size else 0
        if pipeline > 0:
            self.stages = max(1, -(-self.depth // pipeline))
            home = np.zeros(net.n_nodes, dtype=np.int64)
            home[first:] = np.maximum(lev[first:] - 1, 0) // pipeline
            self.home = home
            need = np.full(net.n_nodes, -1, dtype=np.int64)  # latest stage that reads the node
            r = reads[lg]
            v = src[lg][r]
            s = np.broadcast_to(home[first + lg][:, None], r.shape)[r]
            np.maximum.at(need, v, s)
            need[out_nodes[out_nodes >= 2]] = self.stages
            need[:2] = -1
            self.need = need
        else:
            self.stages = 0

    def base(self, v: int, flat: bool = False) -> str:
        if v == 0:
            return "1'b0"
        if v == 1:
            return "1'b1"
        i = v - 2
        if i < self.net.n_inputs:
            return f"x{i}"  # a named wire: x{i} = x[i]
        return f"g{v - self.net.first_gate}"

    def ref(self, v: int, stage: int) -> str:
        """The signal carrying node ``v`` as seen from logic stage ``stage``."""
        if v < 2 or self.L <= 0 or stage <= self.home[v]:
            return self.base(v)
        return f"r{stage - 1}_{self.base(v, flat=True)}"


def layout(net: Netlist, pipeline: int = 0, module: str = "dlgn_model",
           head_stride: int = 1) -> VerilogLayout:
    """Ports, widths and latencies of the design :func:`emit` writes for these options."""
    _check_args(net, pipeline, head_stride)
    plan = _Plan(net, pipeline)
    return _layout(net, plan, pipeline, module, head_stride)


def _head_levels(net) -> tuple[int, int]:
    """(popcount tree levels, argmax tree levels) of the head."""
    C = net.n_classes
    P = max((int(np.ceil(np.log2(s))) if s > 1 else 0 for s in net.group_sizes), default=0)
    return P, (int(np.ceil(np.log2(C))) if C > 1 else 0)


def _registered_levels(n_levels: int, stride: int) -> set:
    """Head tree levels followed by a register: every ``stride``-th and the last."""
    return {lv for lv in range(n_levels) if (lv + 1) % stride == 0 or lv == n_levels - 1}


def _layout(net, plan, pipeline, module, head_stride=1):
    C = net.n_classes
    head_lat = 0
    if C and pipeline > 0:
        P, A = _head_levels(net)
        head_lat = len(_registered_levels(P + A, head_stride))
    return VerilogLayout(
        module=module, n_inputs=net.n_inputs, x_width=max(1, net.n_inputs),
        n_outputs=net.n_outputs, n_classes=C,
        class_width=max(1, int(np.ceil(np.log2(C)))) if C > 1 else 1,
        score_width=_bitlen(int(net.group_sizes.max(initial=0))) if C else 0,
        pipeline=pipeline, logic_latency=plan.stages, head_latency=head_lat,
        live_gates=int(plan.live_gates.size), depth=plan.depth, head_stride=head_stride)


def _check_args(net, pipeline, head_stride=1):
    if isinstance(head_stride, bool) or not isinstance(head_stride, (int, np.integer)) \
            or head_stride < 1:
        raise ValueError(f"head_stride must be an integer >= 1 (head tree levels per register "
                         f"stage), got {head_stride!r}")
    if not isinstance(net, Netlist):
        raise TypeError(f"expected a dlgn Netlist, got {type(net).__name__}")
    net.check_size(what="the Verilog target", **LIMITS)  # before anything is allocated
    net.check()
    if isinstance(pipeline, bool) or not isinstance(pipeline, (int, np.integer)) or pipeline < 0:
        raise ValueError(f"pipeline must be an integer >= 0 (logic levels per register "
                         f"stage; 0 = combinational), got {pipeline!r}")
    if net.n_outputs == 0:
        raise ValueError("the netlist has no outputs: there is nothing to emit")


# --------------------------------------------------------------------------- text helpers
def _decl(kind: str, name: str, width: int) -> str:
    return f"  {kind} {name};" if width == 1 else f"  {kind} [{width - 1}:0] {name};"


def _ext(expr: str, w_from: int, w_to: int) -> str:
    if w_from == w_to:
        return expr
    return f"{{{w_to - w_from}'b0, {expr}}}"


_YWORD = 64


def _drive_y(outs: list[str]) -> list[str]:
    """Drive the output bus ``y`` from the output bits ``outs`` (bit 0 first).

    Up to 64 bits: one concatenation.  Wider: 64-bit words ``yw<i>`` (each a
    concatenation) joined by one ``always @(*)``: an event-driven simulator (Icarus)
    then rebuilds the wide ``y`` once per wave of output changes, not once per output
    bit event (a per-bit ``assign y[o]`` or one wide concatenation costs O(width of y)
    for every output event)."""
    O = len(outs)
    if O <= _YWORD:
        return [f"  // y[{O - 1}:0], most significant bit first"] + _concat_assign("y", outs[::-1])
    lines = [f"  // y[{O - 1}:0] in {_YWORD}-bit words: yw<i> = y[{_YWORD}*i +: {_YWORD}], "
             "most significant bit first"]
    words = []
    for i in range(0, O, _YWORD):
        w = min(_YWORD, O - i)
        nm = f"yw{i // _YWORD}"
        words.append(nm)
        lines.append(_decl("wire", nm, w))
        lines += _concat_assign(nm, outs[i:i + w][::-1])
    lines.append(_decl("reg", "y_r", O))
    lines.append("  // one process joins the words (a simulator updates y once per wave of changes)")
    lines += _concat_assign("y_r", words[::-1], kind="always @(*)")
    lines.append("  assign y = y_r;")
    return lines


def _concat_assign(lhs: str, items: list[str], per_line: int = 16,
                   kind: str = "assign") -> list[str]:
    """``assign lhs = {items};`` (``items`` most significant first), wrapped."""
    if len(items) == 1:
        return [f"  {kind} {lhs} = {items[0]};"]
    rows = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    if len(rows) == 1:
        return [f"  {kind} {lhs} = {{{rows[0]}}};"]
    return [f"  {kind} {lhs} = {{"] + [f"    {r}," for r in rows[:-1]] + [f"    {rows[-1]}}};"]


def _spell(template: str, operands: list) -> str:
    """A :mod:`dlgn.compiler.gates` expression template in Verilog."""
    return template.replace("{Z}", "1'b0").replace("{O}", "1'b1").format(*operands)


def _gate_expr(plan: _Plan, g: int, stage: int, out: list) -> str:
    net = plan.net
    k = int(net.arity[g])
    t = int(net.table[g])
    f = [plan.ref(int(v), stage) for v in net.fanin[g, :k]]
    if k == 0:
        return "1'b1" if t & 1 else "1'b0"
    if k <= 2:
        return _spell((gates.EXPR1 if k == 1 else gates.EXPR2)[t], f)
    w = 1 << k
    out.append(f"  localparam [{w - 1}:0] T{g} = {w}'h{t:0{w // 4}x};")
    return f"T{g}[{{{', '.join(f)}}}]"


# --------------------------------------------------------------------------- logic
def _emit_logic(net: Netlist, plan: _Plan, name: str, lay: VerilogLayout) -> list[str]:
    piped = plan.L > 0
    lines = [f"// {name}: the gates. x[i] is input bit i; y[o] is output bit o (polarity applied)."]
    if piped:
        lines.append(f"// Pipelined: a register bank every {plan.L} logic levels and after the last; "
                     f"latency {plan.stages} cycle(s).")
        ports = ["  input wire clk", f"  input wire [{lay.x_width - 1}:0] x",
                 f"  output wire [{net.n_outputs - 1}:0] y"]
    else:
        ports = [f"  input wire [{lay.x_width - 1}:0] x", f"  output wire [{net.n_outputs - 1}:0] y"]
    lines.append(f"module {name} (")
    lines.append(",\n".join(ports))
    lines.append(");")
    unused = sorted(set(range(lay.x_width)) - set(int(i) for i in plan.used_inputs))
    if unused:
        bits = ", ".join(f"x[{i}]" for i in unused)
        lines.append("  // input bits no output depends on")
        lines.append(f"  wire unused_x = &{{1'b0, {bits}}};")
    params, decls, assigns = [], [], []
    first = net.first_gate
    if plan.used_inputs.size:
        # one bit select per input bit that is read (the gates read these wires, so a
        # simulator re-runs len(x) selects, not one per gate input, when x changes)
        lines.append("  // the input bits the gates read: x<i> = x[i]")
        xs = [f"x{int(i)}" for i in plan.used_inputs]
        lines += [f"  wire {', '.join(xs[j:j + 16])};" for j in range(0, len(xs), 16)]
        lines += [f"  assign x{int(i)} = x[{int(i)}];" for i in plan.used_inputs]
    for g in plan.live_gates:
        g = int(g)
        stage = int(plan.home[first + g]) if piped else 0
        expr = _gate_expr(plan, g, stage, params)
        decls.append(f"  wire g{g};")
        assigns.append(f"  assign g{g} = {expr};")
    lines += params + decls + assigns
    if piped:
        banks = [[] for _ in range(plan.stages)]
        regs = []
        live_nodes = [int(2 + i) for i in plan.used_inputs] + [int(first + g) for g in plan.live_gates]
        for v in live_nodes:
            h, nd = int(plan.home[v]), int(plan.need[v])
            for b in range(h, nd):
                r = f"r{b}_{plan.base(v, flat=True)}"
                regs.append(f"  reg {r};")
                banks[b].append(f"    {r} <= {plan.ref(v, b)};")
        lines += regs
        for b, body in enumerate(banks):
            if body:
                lines.append(f"  // register bank {b}: after logic level {min((b + 1) * plan.L, plan.depth)}")
                lines.append("  always @(posedge clk) begin")
                lines += body
                lines.append("  end")
    fin = plan.stages if piped else 0
    outs = []
    for v, inv in zip(net.outputs, net.invert):
        s = plan.ref(int(v), fin)
        if inv:
            s = "1'b1" if s == "1'b0" else "1'b0" if s == "1'b1" else f"~{s}"
        outs.append(s)
    lines += _drive_y(outs)
    lines.append("endmodule")
    return lines


# --------------------------------------------------------------------------- head
def _split_y(bounds, make, chunk: int = 6, fanout: int = 4) -> list[str]:
    """Split ``y`` into named chunk wires through a tree of part selects; returns the
    expression of every bit of ``y``.

    The chunks are the compressor inputs: ``chunk`` consecutive bits of one class group
    (``yc<c>_<i>``: group c, chunk i).  Every wire of the tree (``ys<k>``, then the chunks)
    reads a part of its parent, at most ``fanout`` readers per wire: an event-driven
    simulator then carries an output bit's event down one path of about log4(n) wires
    instead of re-running one bit select per output bit on every event of ``y``."""
    leaves = []  # (name, lo, hi) in y bit positions, ascending
    for c in range(len(bounds) - 1):
        for i, lo in enumerate(range(int(bounds[c]), int(bounds[c + 1]), chunk)):
            leaves.append((f"yc{c}_{i}", lo, min(lo + chunk, int(bounds[c + 1])), (c, i)))
    bit_of: list[str] = [""] * int(bounds[-1])
    chunks: dict = {}  # (c, i) -> name of chunk wire i of group c
    counter = [0]

    def sel(src, off, lo, hi):
        return f"{src}[{lo - off}]" if hi - lo == 1 else f"{src}[{hi - 1 - off}:{lo - off}]"

    def build(src, off, a, b):
        n = b - a
        if n <= fanout:
            parts = [(i, i + 1) for i in range(a, b)]
        else:
            parts = [(a + n * j // fanout, a + n * (j + 1) // fanout) for j in range(fanout)]
        for pa, pb in parts:
            lo, hi = leaves[pa][1], leaves[pb - 1][2]
            if pb - pa == 1:
                nm = leaves[pa][0]
                chunks[leaves[pa][3]] = nm
                make(nm, hi - lo, sel(src, off, lo, hi), 0, reg=False)
                for j in range(lo, hi):
                    bit_of[j] = nm if hi - lo == 1 else f"{nm}[{j - lo}]"
            else:
                nm = f"ys{counter[0]}"
                counter[0] += 1
                make(nm, hi - lo, sel(src, off, lo, hi), 0, reg=False)
                build(nm, lo, pa, pb)

    if leaves:
        build("y", 0, 0, len(leaves))
    return bit_of, chunks


def _wrap(line: str, width: int = 100) -> list[str]:
    """Break a long line of a sum at its `` + `` operators."""
    if len(line) <= width:
        return [line]
    out, cur = [], ""
    for j, part in enumerate(line.split(" + ")):
        piece = part if j == 0 else " + " + part
        if cur and len(cur) + len(piece) > width:
            out.append(cur)
            cur = "     " + piece
        else:
            cur += piece
    out.append(cur)
    return out


def _popcount_table(k: int) -> str:
    """Verilog constant of 2**k hex digits: digit u is the number of ones in u."""
    return f"{4 << k}'h" + "".join(str(bin(u).count("1")) for u in reversed(range(1 << k)))


def _emit_head(net: Netlist, name: str, lay: VerilogLayout, piped: bool) -> list[str]:
    C, O = net.n_classes, net.n_outputs
    SW, CW = lay.score_width, lay.class_width
    clocked = piped and lay.head_latency > 0
    P0, A0 = _head_levels(net)
    regl = _registered_levels(P0 + A0, lay.head_stride) if clocked else set()
    lines = [f"// {name}: GroupSum head. scores[c*{SW} +: {SW}] = number of ones among the "
             f"outputs of class group c;",
             "// class_id = the first class with the largest score (a first level of 6:3 compressors, "
             "then balanced adder and argmax trees)."]
    if clocked:
        every = "every tree level is" if lay.head_stride == 1 else \
            f"every {lay.head_stride} tree levels (and the last) are"
        lines.append(f"// Pipelined: {every} registered; latency {lay.head_latency} cycle(s).")
    ports = (["  input wire clk"] if clocked else []) + [
        f"  input wire [{O - 1}:0] y", f"  output wire [{CW - 1}:0] class_id",
        f"  output wire [{C * SW - 1}:0] scores"]
    lines += [f"module {name} (", ",\n".join(ports), ");"]
    sigs = []  # (name, width, registered, expr, tree level)

    def make(nm, width, expr, level, reg=None):
        sigs.append((nm, width, (level in regl) if reg is None else reg, expr, level))
        return nm

    # popcount: values are (expr, width, max value); constants are never registered
    bounds = np.concatenate([[0], np.cumsum(net.group_sizes)]).astype(int)
    bit_of, chunks = _split_y(bounds, make)
    tables: dict = {}  # (k, b) -> localparam name of a popcount truth table
    vals = []
    for c in range(C):
        lo, hi = bounds[c], bounds[c + 1]
        vals.append([(bit_of[j], 1, 1) for j in range(lo, hi)] or [("1'b0", 1, 0)])
    P = max(int(np.ceil(np.log2(len(v)))) if len(v) > 1 else 0 for v in vals)
    for lvl in range(P):
        for c in range(C):
            cur, nxt = vals[c], []
            if lvl == 0 and len(cur) > 2:
                # first level: 6:3 compressors (count up to 6 bits with one bitwise
                # expression per sum bit: LUT-friendly, no carry chains); the tree is then
                # shorter than ceil(log2 n) levels and its root is carried (registered
                # where the level is) to keep the documented latency
                for i in range(0, len(cur), 6):
                    chunk = cur[i:i + 6]
                    if len(chunk) == 1:
                        e, w, m = chunk[0]
                        if lvl in regl:
                            e = make(f"pc{c}_{lvl + 1}_{i // 6}", w, e, lvl)
                        nxt.append((e, w, m))
                        continue
                    k = len(chunk)
                    w = _bitlen(k)
                    idx = chunks[(c, i // 6)]
                    tables[k] = f"POP{k}"
                    expr = f"POP{k}[{{{idx}, 2'b00}} +: {w}]"
                    nm = make(f"pc{c}_{lvl + 1}_{i // 6}", w, expr, lvl)
                    nxt.append((nm, w, k))
                vals[c] = nxt
                continue
            for i in range(0, len(cur) - 1, 2):
                (ea, wa, ma), (eb, wb, mb) = cur[i], cur[i + 1]
                w = _bitlen(ma + mb)
                if not clocked:
                    # one sum per group (below): the adds are context-sized to its width
                    nxt.append((f"({ea} + {eb})", w, ma + mb))
                    continue
                nm = make(f"pc{c}_{lvl + 1}_{i // 2}", w,
                          f"{_ext(ea, wa, w)} + {_ext(eb, wb, w)}", lvl)
                nxt.append((nm, w, ma + mb))
            if len(cur) % 2:
                e, w, m = cur[-1]
                if lvl in regl and m > 0:
                    e = make(f"pc{c}_{lvl + 1}_{len(cur) // 2}", w, e, lvl)
                nxt.append((e, w, m))
            vals[c] = nxt
    sc = []
    for c in range(C):
        e, w, m = vals[c][0]
        if e.startswith("("):
            # the combinational form: the group's balanced adder tree is one expression in
            # one process, so that an event-driven simulator re-adds once per wave of
            # changes rather than once per changed compressor at every tree level
            e = make(f"pc{c}", w, e[1:-1], P, reg="comb")
        sc.append(f"{SW}'d0" if m == 0 else _ext(e, w, SW))
    # argmax tree over (score, index); ties keep the left (lower) index
    items = [(s, f"{CW}'d{c}") for c, s in enumerate(sc)]
    zero = f"{SW}'d0"
    A = int(np.ceil(np.log2(C))) if C > 1 else 0
    scores_expr = "{" + ", ".join(reversed(sc)) + "}" if C > 1 else sc[0]
    for lvl in range(A):
        nxt = []
        for i in range(0, len(items) - 1, 2):
            (sa, ia), (sb, ib) = items[i], items[i + 1]
            ge = f"am_{lvl + 1}_{i // 2}_ge"
            if sb == zero:
                ge = "1'b1"  # anything >= 0 (an empty group's constant score)
            elif sa == zero:
                make(ge, 1, f"~|{sb}", P + lvl, reg=False)
            else:
                make(ge, 1, f"{sa} >= {sb}", P + lvl, reg=False)
            if ge == "1'b1":
                se, ie = sa, ia
            else:
                se, ie = f"{ge} ? {sa} : {sb}", f"{ge} ? {ia} : {ib}"
            s = None
            if lvl < A - 1:  # the root's score is never read
                s = make(f"am_{lvl + 1}_{i // 2}_s", SW, se, P + lvl) if se != zero else zero
            ix = make(f"am_{lvl + 1}_{i // 2}_i", CW, ie, P + lvl)
            nxt.append((s, ix))
        if len(items) % 2:
            s, ix = items[-1]
            if (P + lvl) in regl and not (s == zero and "'d" in ix):
                s = make(f"am_{lvl + 1}_{len(items) // 2}_s", SW, s, P + lvl)
                ix = make(f"am_{lvl + 1}_{len(items) // 2}_i", CW, ix, P + lvl)
            nxt.append((s, ix))
        items = nxt
        if (P + lvl) in regl:  # delay the scores alongside the argmax
            scores_expr = make(f"scores_d{lvl + 1}", C * SW, scores_expr, P + lvl)
    outs = [("class_id", items[0][1]), ("scores", scores_expr)]
    # drop signals nothing reads (e.g. a score compared only against a constant 0)
    word = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
    while True:
        used = set()
        for _, _, _, e, _ in sigs:
            used.update(word.findall(e))
        for _, e in outs:
            used.update(word.findall(e))
        keep = [t for t in sigs if t[0] in used]
        if len(keep) == len(sigs):
            break
        sigs = keep
    if tables:
        lines.append("  // POP<k>: hex digit u is the number of ones in u (u < 2**k): a 6:3 "
                     "compressor is one lookup, a LUT per sum bit")
    for k, nm in sorted(tables.items()):
        lines.append(f"  localparam [{(4 << k) - 1}:0] {nm} = {_popcount_table(k)};")
    level_regs: dict[int, list[str]] = {}
    for nm, w, reg, _e, _lvl in sigs:
        lines.append(_decl("reg" if reg else "wire", nm, w))
    for nm, _w, reg, e, lvl in sigs:
        if reg == "comb":
            lines.append(f"  // the count of class {nm[2:]}: a balanced adder tree, in one process")
            lines += _wrap(f"  always @(*) {nm} = {e};")
        elif reg:
            level_regs.setdefault(lvl, []).append(f"    {nm} <= {e};")
        else:
            lines.append(f"  assign {nm} = {e};")
    for lvl in sorted(level_regs):
        lines.append(f"  // tree level {lvl + 1}")
        lines.append("  always @(posedge clk) begin")
        lines += level_regs[lvl]
        lines.append("  end")
    for nm, e in outs:
        lines.append(f"  assign {nm} = {e};")
    lines.append("endmodule")
    return lines


# --------------------------------------------------------------------------- top
def _emit_top(net, names, lay: VerilogLayout, piped: bool, header: list[str]) -> list[str]:
    C, O = net.n_classes, net.n_outputs
    SW, CW = lay.score_width, lay.class_width
    doc = ["// Ports:",
           f"//   x        [{lay.x_width - 1}:0]  input bits; bit i is input i of the netlist"]
    if C:
        doc += [f"//   class_id [{CW - 1}:0]  predicted class: the first class with the largest score",
                f"//   scores   [{C * SW - 1}:0]  class counts, {SW} bits each; class c is "
                f"scores[c*{SW} +: {SW}] (class 0 least significant);",
                f"//                   the model's real score is count / tau (tau = {net.tau:g})"]
    else:
        doc += [f"//   y        [{O - 1}:0]  output bits; bit o is output o (polarity applied)"]
    if piped:
        doc += ["//   clk              rising-edge clock",
                "//   rst              synchronous active-high reset of the valid pipeline only",
                "//   in_valid         x carries a sample this cycle",
                f"//   out_valid        the outputs carry the sample given LATENCY = {lay.latency} "
                "cycles earlier",
                "// One sample per cycle; outputs are registered."]
    ports = []
    if piped:
        ports += ["  input wire clk", "  input wire rst", "  input wire in_valid"]
    ports.append(f"  input wire [{lay.x_width - 1}:0] x")
    if piped:
        ports.append("  output wire out_valid")
    if C:
        ports += [f"  output wire [{CW - 1}:0] class_id", f"  output wire [{C * SW - 1}:0] scores"]
    else:
        ports.append(f"  output wire [{O - 1}:0] y")
    lines = header + doc + [f"module {names['top']} ("] + [",\n".join(ports)] + [");"]
    if piped:
        lines.append(f"  localparam integer LATENCY = {lay.latency};  "
                     f"// {lay.logic_latency} logic + {lay.head_latency} head cycles")
    clk = ".clk(clk), " if piped else ""
    if C:
        lines.append(f"  wire [{O - 1}:0] y;")
    lines.append(f"  {names['logic']} u_logic ({clk}.x(x), .y(y));")
    if C:
        hclk = ".clk(clk), " if piped and lay.head_latency > 0 else ""
        lines.append(f"  {names['head']} u_head ({hclk}.y(y), .class_id(class_id), .scores(scores));")
    if piped:
        lat = lay.latency
        lines.append("  reg [LATENCY-1:0] valid_q;")
        shift = "in_valid" if lat == 1 else "{valid_q[LATENCY-2:0], in_valid}"
        zero = "{LATENCY{1'b0}}"
        lines += ["  always @(posedge clk) begin",
                  f"    if (rst) valid_q <= {zero};",
                  f"    else valid_q <= {shift};",
                  "  end",
                  "  assign out_valid = valid_q[LATENCY-1];"]
    lines.append("endmodule")
    return lines


def _header(net: Netlist, lay: VerilogLayout) -> list[str]:
    ar = np.bincount(net.arity, minlength=net.max_arity + 1) if net.n_gates else np.zeros(1, int)
    hist = ", ".join(f"{k}-input {int(n)}" for k, n in enumerate(ar) if n)
    form = (f"pipelined, a register bank every {lay.pipeline} logic levels, latency {lay.latency} "
            f"cycles" if lay.pipeline else "combinational")
    groups = ",".join(str(int(s)) for s in net.group_sizes)
    return ["// Generated by dlgn (Verilog backend). Do not edit: regenerate from the netlist.",
            f"// netlist content_hash {net.content_hash()}",
            f"// inputs {net.n_inputs}, gates {net.n_gates} ({hist or 'none'}), live gates "
            f"{lay.live_gates}, outputs {net.n_outputs}, depth {lay.depth}",
            "// head: " + (f"{net.n_classes} classes, group sizes {groups}, tau {net.tau:g}"
                           if net.n_classes else "none"),
            f"// form: {form}"]


# --------------------------------------------------------------------------- API
def emit(netlist: Netlist, pipeline: int = 0, module: str = "dlgn_model",
         head_stride: int = 1) -> str:
    """Verilog text of ``netlist`` (see the module docstring).

    ``pipeline``: logic levels per register stage (0: combinational).
    ``module``: name of the top module; ``<module>_logic`` and ``<module>_head`` too.
    ``head_stride`` (pipelined form): head tree levels per register stage (1: every
    level, the highest fmax; 2 or 3 roughly halve or third the head's flip-flops)."""
    _check_args(netlist, pipeline, head_stride)
    names = module_names(module)
    pipeline = int(pipeline)
    plan = _Plan(netlist, pipeline)
    lay = _layout(netlist, plan, pipeline, module, int(head_stride))
    piped = pipeline > 0
    header = _header(netlist, lay)
    parts = [["// verilator lint_off DECLFILENAME", "`default_nettype none", ""]]
    parts.append(_emit_top(netlist, names, lay, piped, header) + [""])
    parts.append(_emit_logic(netlist, plan, names["logic"], lay) + [""])
    if netlist.n_classes:
        parts.append(_emit_head(netlist, names["head"], lay, piped) + [""])
    parts.append(["`default_nettype wire", "// verilator lint_on DECLFILENAME"])
    return "\n".join(ln for p in parts for ln in p) + "\n"


def write_files(netlist: Netlist, outdir, name: str = "model", pipeline: int = 0,
                module: str | None = None, testbench: bool = True, vectors=None,
                n_vectors: int = 256, seed: int = 0, head_stride: int = 1) -> list[Path]:
    """Write ``<name>.v`` and (``testbench=True``) the self-checking ``<name>_tb.v`` with its
    vector files ``<name>_in.hex`` / ``<name>_expect.hex``.

    ``vectors``: input bits (N x n_inputs) for the testbench; default ``n_vectors`` random
    rows drawn with ``seed``.  ``module`` defaults to ``dlgn_<name>``."""
    outdir = Path(outdir)
    if module is None:
        module = "dlgn_" + re.sub(r"[^A-Za-z0-9_]", "_", name)
    text = emit(netlist, pipeline=pipeline, module=module, head_stride=head_stride)
    outdir.mkdir(parents=True, exist_ok=True)  # after every check
    v = outdir / f"{name}.v"
    v.write_text(text)
    files = [v]
    if testbench:
        lay = layout(netlist, pipeline=pipeline, module=module, head_stride=head_stride)
        files += write_testbench(netlist, outdir, lay, name=name, vectors=vectors,
                                 n_vectors=n_vectors, seed=seed)
    return files
