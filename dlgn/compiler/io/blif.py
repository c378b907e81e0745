"""BLIF: the Berkeley Logic Interchange Format, written and read (combinational only).

Written (:func:`write_blif`, :func:`blif_text`): inputs ``x0 ..``, outputs ``y0 ..``
(polarity applied by a buffer or inverter cover), the constants as 0-fanin ``.names``
(``n0`` is 0, ``n1`` is 1), gate node ``v`` as ``n<v>`` with its on-set cubes (``x_0`` is
the first column).  A gate of arity >= 1 whose table is 0 is written as a 0-fanin constant
(ABC rejects an empty multi-input cover).  The text is deterministic.

Read like ``json.load`` / ``json.loads``: :func:`read_blif` takes a path, :func:`parse_blif`
the text.  One ``.model`` of ``.inputs``, ``.outputs`` and ``.names`` covers of up to 6
inputs (on-set or off-set, ``-`` don't-cares, ``\\`` continuations, ``#`` comments);
``.latch``, ``.subckt`` and the other sequential or hierarchical constructs raise
:class:`BlifFormatError`.  Inputs keep their ``.inputs`` order and outputs their
``.outputs`` order; the gates are made through
:class:`~dlgn.compiler.builder.NetlistBuilder`, one logic level per ``add`` call
(``rewrite=False``, the default, keeps one gate per cover).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ..builder import NetlistBuilder
from ..gates import MAX_ARITY
from ..netlist import Netlist, NetlistFormatError
from ..toposort import dependencies_first

__all__ = ["write_blif", "blif_text", "read_blif", "parse_blif", "BlifFormatError"]

log = logging.getLogger(__name__)


class BlifFormatError(NetlistFormatError):
    """BLIF text that is malformed, or uses a construct dlgn does not read."""


# --------------------------------------------------------------------------- writing
def _names(net: Netlist) -> list[str]:
    return (["n0", "n1"] + [f"x{i}" for i in range(net.n_inputs)]
            + [f"n{v}" for v in range(net.first_gate, net.n_nodes)])


def blif_text(net: Netlist, model: str = "dlgn") -> str:
    """The netlist as BLIF text."""
    net.check()
    nm = _names(net)
    out = [f".model {model}",
           ".inputs" + "".join(f" x{i}" for i in range(net.n_inputs)),
           ".outputs" + "".join(f" y{o}" for o in range(net.n_outputs)),
           ".names n0", ".names n1", "1"]
    cubes: dict = {}
    fanin = net.fanin.tolist()
    for g, (k, t) in enumerate(zip(net.arity.tolist(), net.table.tolist())):
        v = net.first_gate + g
        if k == 0 or t == 0:
            out.append(f".names n{v}")
            if t & 1 and k == 0:
                out.append("1")
            continue
        out.append(".names " + " ".join(nm[f] for f in fanin[g][:k]) + f" n{v}")
        key = (k, t)
        if key not in cubes:
            cubes[key] = "\n".join(format(u, f"0{k}b") + " 1"
                                   for u in range(1 << k) if (t >> u) & 1)
        out.append(cubes[key])
    for o in range(net.n_outputs):
        out.append(f".names {nm[int(net.outputs[o])]} y{o}")
        out.append("0 1" if net.invert[o] else "1 1")
    out.append(".end")
    return "\n".join(out) + "\n"


def write_blif(net: Netlist, path=None, model: str = "dlgn") -> str:
    """The netlist as BLIF text, also written to ``path`` when given."""
    text = blif_text(net, model)
    if path is not None:
        Path(path).write_text(text)
    return text


# --------------------------------------------------------------------------- reading
def read_blif(path, group_sizes=None, tau: float = 1.0, *, rewrite=False) -> Netlist:
    """Read a BLIF file (see the module docstring); errors name the file."""
    path = os.fspath(path)
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise BlifFormatError(f"{path}: cannot read the BLIF file ({e})") from e
    return _parse(text, path, group_sizes, tau, rewrite)


def parse_blif(text: str, group_sizes=None, tau: float = 1.0, *, rewrite=False) -> Netlist:
    """Parse BLIF text into a Netlist (see the module docstring).

    ``group_sizes`` and ``tau`` give the result a GroupSum head; ``rewrite`` is handed to
    the :class:`~dlgn.compiler.builder.NetlistBuilder` (True: fold and hash as it reads)."""
    if not isinstance(text, str):
        raise TypeError(f"parse_blif takes BLIF text (str), got {type(text).__name__}; "
                        f"use read_blif for a path")
    return _parse(text, "BLIF", group_sizes, tau, rewrite)


def _logical_lines(text):
    buf = ""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        line = (buf + line).strip()
        buf = ""
        if line:
            yield line


def _statements(text, err):
    """(inputs, outputs, defs: signal -> (fan-in names, cube rows))."""
    inputs, outputs, defs = [], [], {}
    cur = None
    for line in _logical_lines(text):
        tok = line.split()
        if tok[0].startswith("."):
            cur = None
            kw = tok[0]
            if kw == ".inputs":
                inputs += tok[1:]
            elif kw == ".outputs":
                outputs += tok[1:]
            elif kw == ".names":
                if len(tok) < 2:
                    raise err(f".names without an output: {line!r}")
                if tok[-1] in defs or tok[-1] in inputs:
                    raise err(f"signal {tok[-1]!r} defined twice")
                cur = defs[tok[-1]] = (tok[1:-1], [])
            elif kw in (".model", ".end", ".default_input_arrival"):
                continue
            else:
                raise err(f"unsupported construct {kw} (only combinational .names are read)")
        else:
            if cur is None:
                raise err(f"cube outside .names: {line!r}")
            cur[1].append(tok)
    if len(set(inputs)) != len(inputs):
        raise err("an input is listed twice in .inputs")
    return inputs, outputs, defs


def _cover_table(rows, k, name, err) -> int:
    on = 0
    polarity = None
    for r in rows:
        if k == 0:
            cube, val = "", r[0]
        else:
            if len(r) != 2 or len(r[0]) != k or set(r[0]) - set("01-"):
                raise err(f"bad cube {' '.join(r)!r} for {name!r}")
            cube, val = r
        if len(r) > (2 if k else 1) or val not in ("0", "1") or \
                (polarity is not None and val != polarity):
            raise err(f"bad or mixed output value in the cover of {name!r}")
        polarity = val
        care = sum(1 << (k - 1 - i) for i, c in enumerate(cube) if c != "-")
        ones = sum(1 << (k - 1 - i) for i, c in enumerate(cube) if c == "1")
        for u in range(1 << k):
            if u & care == ones:
                on |= 1 << u
    if polarity == "0":
        on ^= (1 << (1 << k)) - 1
    return on


def _parse(text, src, group_sizes, tau, rewrite) -> Netlist:
    def err(msg):
        return BlifFormatError(f"{src}: {msg}")

    inputs, outputs, defs = _statements(text, err)
    level = {name: 0 for name in inputs}

    def reads(sig):
        if sig not in defs:
            raise err(f"signal {sig!r} is never defined")
        return defs[sig][0]

    by_level: dict[int, list] = {}
    for s in dependencies_first(outputs, level, reads,
                                lambda x: err(f"combinational loop through {x!r}")):
        ins, rows = defs[s]
        k = len(ins)
        if k > MAX_ARITY:
            raise err(f"{s!r} has {k} inputs; at most {MAX_ARITY}")
        level[s] = 1 + max((level[x] for x in ins), default=0)
        by_level.setdefault(level[s], []).append((s, ins, _cover_table(rows, k, s, err)))
    b = NetlistBuilder(len(inputs), rewrite=rewrite)
    lit = dict(zip(inputs, b.input_lits().tolist()))
    for lv in sorted(by_level):
        b.add_named(lit, by_level[lv])
    gs = None if group_sizes is None else np.asarray(group_sizes)
    try:
        return b.finish([lit[o] for o in outputs], gs, tau)
    except NetlistFormatError:
        raise
    except ValueError as e:  # e.g. group sizes that do not fit the outputs
        raise err(str(e)) from e
