"""Read emitted Verilog back into a Netlist, independently of the emitter.

* :func:`read_verilog_logic` (a path) and :func:`parse_verilog_logic` (text) parse the
  ``<module>_logic`` module with **pyverilog** (1.3.0; its preprocessor needs ``iverilog``
  on PATH) and rebuilds a Netlist from the syntax tree: every assigned signal becomes a
  gate whose truth table is found by *evaluating its expression* on all assignments of the
  signals it reads (so the reader shares no table or template with the emitter). Registers
  of the pipelined form are read as wires: the result is the combinational function the
  pipeline computes. The gates are made through
  :class:`~dlgn.compiler.builder.NetlistBuilder` (one logic level per ``add`` call,
  ``rewrite=True``: wires, inverters and constants fold away).
* :func:`yosys_blif` has Yosys (:func:`dlgn.tools.yosys.run_yosys`) read the Verilog and
  write the logic module as BLIF; :func:`prove_verilog` then runs ABC ``cec``
  (:func:`dlgn.tools.abc.cec`) between that BLIF and the netlist's own BLIF export
  (:func:`dlgn.compiler.io.blif.write_blif`): a formal proof that the emitted text computes
  the netlist's outputs.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path


from ..compiler.builder import NetlistBuilder
from ..compiler.gates import MAX_ARITY
from ..compiler.io.blif import write_blif
from ..compiler.netlist import Netlist
from ..compiler.toposort import dependencies_first
from ..errors import DlgnError
from ..tools.abc import abc_path, cec
from ..tools.yosys import run_yosys

__all__ = ["read_verilog_logic", "parse_verilog_logic", "yosys_blif", "prove_verilog",
           "VerilogReadError"]

log = logging.getLogger("dlgn.verilog")


class VerilogReadError(DlgnError, ValueError):
    """The Verilog could not be read back into a Netlist."""


# --------------------------------------------------------------------------- pyverilog
def _intconst(s: str) -> int:
    s = s.replace("_", "").strip()
    m = re.fullmatch(r"(\d*)'([sS]?)([bBoOdDhH])([0-9a-fA-FxXzZ]+)", s)
    if not m:
        return int(s)
    digits = m.group(4)
    if re.search(r"[xXzZ]", digits):
        raise VerilogReadError(f"constant {s!r} has x/z bits")
    return int(digits, {"b": 2, "o": 8, "d": 10, "h": 16}[m.group(3).lower()])


class _Module:
    def __init__(self, mod):
        from pyverilog.vparser import ast as A
        self.A = A
        self.params: dict[str, int] = {}
        self.defs: dict[str, object] = {}   # signal -> expression (assign or register input)
        self.ydefs: dict[int, object] = {}  # output bit -> expression
        self.x_width = None
        self.y_width = None
        self.wide: set = set()  # signals declared wider than one bit (words of y)
        self.ywhole = None      # expression assigned to the whole of y
        for p in mod.portlist.ports:
            d = p.first if isinstance(p, A.Ioport) else p
            w = 1 if d.width is None else \
                _intconst(d.width.msb.value) - _intconst(d.width.lsb.value) + 1
            if d.name == "x":
                self.x_width = w
            elif d.name == "y":
                self.y_width = w
        for it in mod.items:
            self._item(it)
        if self.ywhole is not None:
            if self.ydefs:
                raise VerilogReadError("y is assigned both as a whole and bit by bit")
            bits = self._bits(self.ywhole, 0)
            if self.y_width is not None and len(bits) != self.y_width:
                raise VerilogReadError(f"y is {self.y_width} bits wide but is assigned "
                                       f"{len(bits)} bits")
            self.ydefs = {o: e for o, e in enumerate(reversed(bits))}

    def _bits(self, e, depth) -> list:
        """The 1-bit expressions of a bus expression, most significant first: a
        concatenation is split, a wide signal is replaced by what is assigned to it."""
        A = self.A
        if depth > 64:
            raise VerilogReadError("the words of y are nested too deeply")
        if isinstance(e, A.Concat):
            return [b for c in e.list for b in self._bits(c, depth + 1)]
        if isinstance(e, A.Identifier) and e.name in self.wide:
            if e.name not in self.defs:
                raise VerilogReadError(f"signal {e.name!r} is read but never assigned")
            return self._bits(self.defs[e.name], depth + 1)
        return [e]
    def _lhs(self, lv, rhs):
        A = self.A
        v = lv.var if isinstance(lv, A.Lvalue) else lv
        if isinstance(v, A.Identifier) and v.name == "y":
            self.ywhole = rhs
        elif isinstance(v, A.Identifier):
            self.defs[v.name] = rhs
        elif isinstance(v, A.Pointer) and v.var.name == "y":
            self.ydefs[_intconst(v.ptr.value)] = rhs
        else:
            raise VerilogReadError(f"unsupported assignment target {v!r} (line {v.lineno})")

    def _item(self, it):
        A = self.A
        if isinstance(it, A.Decl):
            for d in it.list:
                if isinstance(d, (A.Localparam, A.Parameter)):
                    self.params[d.name] = _intconst(d.value.var.value)
                elif isinstance(d, (A.Wire, A.Reg)) and d.width is not None and \
                        _intconst(d.width.msb.value) != _intconst(d.width.lsb.value):
                    self.wide.add(d.name)
        elif isinstance(it, A.Assign):
            self._lhs(it.left, it.right.var)
        elif isinstance(it, A.Always):
            self._stmt(it.statement)
        elif isinstance(it, (A.Instance, A.InstanceList)):
            raise VerilogReadError("the logic module instantiates other modules")

    def _stmt(self, st):
        A = self.A
        if isinstance(st, A.Block):
            for s in st.statements:
                self._stmt(s)
        elif isinstance(st, (A.NonblockingSubstitution, A.BlockingSubstitution)):
            self._lhs(st.left, st.right.var)
        else:
            raise VerilogReadError(f"unsupported statement {type(st).__name__} (line {st.lineno})")

    # leaves: ("x", i) or ("s", name)
    def leaves(self, e, out):
        A = self.A
        if isinstance(e, A.Pointer):
            if isinstance(e.var, A.Identifier) and e.var.name in self.params:
                self.leaves(e.ptr, out)
                return
            if e.var.name == "x":
                key = ("x", _intconst(e.ptr.value))
                if key not in out:
                    out.append(key)
                return
            raise VerilogReadError(f"unsupported bit select of {e.var.name!r} (line {e.lineno})")
        if isinstance(e, A.Identifier):
            if e.name in self.params:
                return
            key = ("s", e.name)
            if key not in out:
                out.append(key)
            return
        if isinstance(e, A.IntConst):
            return
        for c in e.children():
            self.leaves(c, out)

    def value(self, e, env) -> int:
        """Evaluate expression ``e`` (1-bit operators; concatenations as indices)."""
        A = self.A
        if isinstance(e, A.IntConst):
            return _intconst(e.value)
        if isinstance(e, A.Identifier):
            return self.params[e.name] if e.name in self.params else env[("s", e.name)]
        if isinstance(e, A.Pointer):
            if e.var.name == "x":
                return env[("x", _intconst(e.ptr.value))]
            return (self.params[e.var.name] >> self.value(e.ptr, env)) & 1
        if isinstance(e, A.Concat):
            v = 0
            for c in e.list:
                v = (v << 1) | (self.value(c, env) & 1)
            return v
        if isinstance(e, (A.Unot, A.Ulnot)):
            return 1 - (self.value(e.right, env) & 1)
        if isinstance(e, A.Cond):
            return self.value(e.true_value if self.value(e.cond, env) & 1 else e.false_value, env)
        ops = {A.And: lambda a, b: a & b, A.Or: lambda a, b: a | b, A.Xor: lambda a, b: a ^ b,
               A.Xnor: lambda a, b: 1 - (a ^ b), A.Land: lambda a, b: a & b,
               A.Lor: lambda a, b: a | b}
        for cls, f in ops.items():
            if isinstance(e, cls):
                return f(self.value(e.left, env) & 1, self.value(e.right, env) & 1)
        raise VerilogReadError(f"unsupported expression {type(e).__name__} (line {e.lineno})")


_PARSER = {}


def _parse(path: Path, tmpdir: str):
    """Preprocess (iverilog -E, through pyverilog) and parse one file.  The LALR parser is
    built once per process (building it takes ~2 s) in a private temporary folder."""
    if shutil.which("iverilog") is None and not os.environ.get("PYVERILOG_IVERILOG"):
        raise VerilogReadError("pyverilog's preprocessor needs Icarus Verilog: "
                               "apt-get install iverilog")
    try:
        from pyverilog.vparser.parser import VerilogParser
        from pyverilog.vparser.preprocessor import VerilogPreprocessor
    except ImportError:
        raise VerilogReadError("pyverilog is not installed: pip install pyverilog==1.3.0") from None
    if "parser" not in _PARSER:
        tables = tempfile.TemporaryDirectory(prefix="dlgn-pyverilog-")
        _PARSER["dir"] = tables  # removed at interpreter exit
        _PARSER["parser"] = VerilogParser(outputdir=tables.name, debug=False)
    pre = Path(tmpdir) / "preprocess.output"
    VerilogPreprocessor([str(path)], str(pre), None, None).preprocess()
    return _PARSER["parser"].parse(pre.read_text(), debug=0)


def read_verilog_logic(path, module: str = "dlgn_model") -> Netlist:
    """Read ``<module>_logic`` of the Verilog file ``path`` into a Netlist (no head)."""
    if not isinstance(path, (str, os.PathLike)) or (isinstance(path, str) and "\n" in path):
        raise TypeError("read_verilog_logic takes a file path; parse_verilog_logic takes text")
    p = Path(path).resolve()
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such Verilog file")
    with tempfile.TemporaryDirectory(prefix="dlgn-vread-") as tmp:
        return _netlist(_parse(p, tmp), module)


def parse_verilog_logic(text: str, module: str = "dlgn_model") -> Netlist:
    """Parse ``<module>_logic`` from Verilog text into a Netlist (no head)."""
    if not isinstance(text, str):
        raise TypeError(f"parse_verilog_logic takes text, got {type(text).__name__}")
    with tempfile.TemporaryDirectory(prefix="dlgn-vread-") as tmp:
        path = Path(tmp) / "in.v"
        path.write_text(text)
        return _netlist(_parse(path, tmp), module)


def _netlist(ast, module: str) -> Netlist:
    want = f"{module}_logic"
    mods = [d for d in ast.description.definitions if getattr(d, "name", None) == want]
    if not mods:
        raise VerilogReadError(f"no module {want!r} in the Verilog")
    m = _Module(mods[0])
    if m.x_width is None or m.y_width is None:
        raise VerilogReadError(f"{want} has no x/y ports")
    if sorted(m.ydefs) != list(range(m.y_width)):
        raise VerilogReadError(f"{want}: not every bit of y is assigned exactly once")
    n_in = m.x_width
    level: dict = {("x", i): 0 for i in range(n_in)}
    by_level: dict[int, list] = {}  # level -> [(signal or ("y", o), leaves, table)]

    def reads(sig):
        if sig[0] == "x":
            raise VerilogReadError(f"x[{sig[1]}] is read but x has {n_in} bits")
        if sig[1] not in m.defs:
            raise VerilogReadError(f"signal {sig[1]!r} is read but never assigned")
        sub: list = []
        m.leaves(m.defs[sig[1]], sub)
        return sub

    def visit(key, expr):
        """Tabulate ``expr`` over the signals it reads; file it under its logic level."""
        lv: list = []
        m.leaves(expr, lv)
        k = len(lv)
        if k > MAX_ARITY:
            raise VerilogReadError(f"an expression reads {k} signals; at most {MAX_ARITY}")
        t = 0
        for u in range(1 << k):
            env = {leaf: (u >> (k - 1 - i)) & 1 for i, leaf in enumerate(lv)}
            if m.value(expr, env) & 1:
                t |= 1 << u
        level[key] = 1 + max((level[x] for x in lv), default=0)
        by_level.setdefault(level[key], []).append((key, lv, t))

    for o in range(m.y_width):
        expr = m.ydefs[o]
        lv: list = []
        m.leaves(expr, lv)
        for s in dependencies_first(lv, level, reads, lambda x: VerilogReadError(
                f"combinational loop through {x[1]!r}")):
            visit(s, m.defs[s[1]])
        visit(("y", o), expr)
    b = NetlistBuilder(n_in, rewrite=True)
    lit = {("x", i): v for i, v in enumerate(b.input_lits().tolist())}
    for lvl in sorted(by_level):
        b.add_named(lit, by_level[lvl])
    return b.finish([lit[("y", o)] for o in range(m.y_width)])


# --------------------------------------------------------------------------- Yosys + ABC
def yosys_blif(verilog_path, blif_path, module: str = "dlgn_model", timeout: float = 600) -> str:
    """Yosys reads the Verilog and writes ``<module>_logic`` (combinational) as BLIF."""
    cmds = [f"read_verilog -sv {Path(verilog_path).resolve()}",
            f"hierarchy -check -top {module}_logic", "proc", "flatten", "opt_clean",
            "techmap", "opt -fast", "aigmap", "opt_clean",
            f"write_blif {Path(blif_path).resolve()}"]
    return run_yosys(cmds, cwd=Path(blif_path).resolve().parent, timeout=timeout)


def prove_verilog(netlist: Netlist, verilog, module: str = "dlgn_model", abc=None,
                  timeout: float = 600) -> tuple[bool, str]:
    """Formal proof that the combinational ``<module>_logic`` in ``verilog`` (text or path)
    computes the netlist's outputs: Yosys -> BLIF, then ABC ``cec -n`` against
    :func:`dlgn.compiler.io.blif.write_blif`.  Returns (equivalent, log)."""
    if netlist.n_inputs == 0:
        raise ValueError("prove_verilog needs a netlist with inputs (the Verilog of an "
                         "input-less netlist has a 1-bit placeholder x); simulate it instead")
    exe = abc_path(abc)
    with tempfile.TemporaryDirectory(prefix="dlgn-vprove-") as d:
        vp = Path(d) / "design.v"
        if isinstance(verilog, Path) or (isinstance(verilog, str) and "\n" not in verilog):
            shutil.copyfile(verilog, vp)
        else:
            vp.write_text(verilog)
        yosys_blif(vp, Path(d) / "verilog.blif", module=module, timeout=timeout)
        text = (Path(d) / "verilog.blif").read_text()
        if re.search(r"^\.(latch|subckt)\b", text, re.M):
            raise ValueError("prove_verilog proves the combinational form (pipeline=0); the "
                             "pipelined logic is checked by read_verilog_logic and simulation")
        io = _blif_ports(text)
        want = ([f"x[{i}]" for i in range(max(1, netlist.n_inputs))],
                [f"y[{o}]" for o in range(netlist.n_outputs)])
        if io != want:
            return False, f"port mismatch: the Verilog has {io}, expected {want}"
        variants = [("verilog.blif", text)]
        if re.search(r"^\.names[ \t]+(?:\S+[ \t]+)*\$undef[ \t]+\S+", text, re.M):
            # Yosys lowers a LUT index T[{a,b,c}] through $shiftx, whose out-of-range
            # padding is x; prove the result with x read as 0 and again as 1
            variants.append(("verilog_undef1.blif",
                             re.sub(r"^\.names \$undef$", ".names $undef\n1", text, flags=re.M)))
        ref = Path(d) / "netlist.blif"
        write_blif(netlist, ref, model="netlist")
        txt = ""
        for fname, body in variants:
            (Path(d) / fname).write_text(body)
            ok, out = cec(ref, Path(d) / fname, abc=exe, timeout=timeout)
            txt += f"[{fname}]\n{out}"
            if not ok:
                return False, txt
    return True, txt


def _blif_ports(text: str):
    ins, outs = [], []
    joined = text.replace("\\\n", " ")
    for ln in joined.splitlines():
        if ln.startswith(".inputs"):
            ins += ln.split()[1:]
        elif ln.startswith(".outputs"):
            outs += ln.split()[1:]
    return ins, outs
