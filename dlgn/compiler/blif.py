"""BLIF export and import, and ABC's combinational equivalence check (``cec``).

``write_blif``: inputs ``x0 ..``, outputs ``y0 ..`` (polarity applied), constants as
0-fanin ``.names`` (``n0`` is 0, ``n1`` is 1), gate node ``v`` as ``n<v>`` with its on-set
cubes (x_0 is the first column).  A gate of arity >= 1 whose table is 0 is written as a
0-fanin constant (ABC rejects an empty multi-input cover)."""
from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .gates import MAX_ARITY
from .netlist import Netlist, NetlistError
from .toposort import dependencies_first

__all__ = ["write_blif", "read_blif", "abc_cec", "find_abc"]

log = logging.getLogger(__name__)


def _names(net: Netlist) -> list[str]:
    return (["n0", "n1"] + [f"x{i}" for i in range(net.n_inputs)]
            + [f"n{v}" for v in range(net.first_gate, net.n_nodes)])


def write_blif(net: Netlist, path=None, model: str = "dlgn") -> str:
    """The netlist as BLIF text (also written to ``path`` when given)."""
    net.check()
    nm = _names(net)
    out = [f".model {model}",
           ".inputs" + "".join(f" x{i}" for i in range(net.n_inputs)),
           ".outputs" + "".join(f" y{o}" for o in range(net.n_outputs)),
           ".names n0", ".names n1", "1"]
    cubes = {}
    for g in range(net.n_gates):
        k = int(net.arity[g])
        t = int(net.table[g])
        v = net.first_gate + g
        if k == 0 or t == 0:
            out.append(f".names n{v}")
            if t & 1 and k == 0:
                out.append("1")
            continue
        out.append(".names " + " ".join(nm[f] for f in net.fanin[g, :k].tolist()) + f" n{v}")
        key = (k, t)
        if key not in cubes:
            cubes[key] = "\n".join(format(u, f"0{k}b") + " 1"
                                   for u in range(1 << k) if (t >> u) & 1)
        out.append(cubes[key])
    for o in range(net.n_outputs):
        out.append(f".names {nm[int(net.outputs[o])]} y{o}")
        out.append("0 1" if net.invert[o] else "1 1")
    out.append(".end")
    text = "\n".join(out) + "\n"
    if path is not None:
        Path(path).write_text(text)
    return text


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


def read_blif(path_or_text, group_sizes=None, tau: float = 1.0) -> Netlist:
    """Parse a combinational single-model BLIF (``.names`` covers of up to 6 inputs) into a
    Netlist: inputs in ``.inputs`` order, outputs in ``.outputs`` order."""
    text = str(path_or_text)
    if "\n" not in text and os.path.exists(text):
        text = Path(text).read_text()
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
                    raise NetlistError(f"BLIF: .names without an output: {line!r}")
                cur = {"in": tok[1:-1], "rows": []}
                if tok[-1] in defs or tok[-1] in inputs:
                    raise NetlistError(f"BLIF: signal {tok[-1]!r} defined twice")
                defs[tok[-1]] = cur
            elif kw in (".model", ".end", ".default_input_arrival"):
                continue
            else:
                raise NetlistError(f"BLIF: unsupported construct {kw} (only combinational "
                                   f".names are read)")
        else:
            if cur is None:
                raise NetlistError(f"BLIF: cube outside .names: {line!r}")
            cur["rows"].append(tok)
    ids = {name: 2 + i for i, name in enumerate(inputs)}
    fan, ar, tab = [], [], []

    def reads(sig):
        if sig not in defs:
            raise NetlistError(f"BLIF: signal {sig!r} is never defined")
        return defs[sig]["in"]

    for s in dependencies_first(outputs, ids, reads, lambda x: NetlistError(
            f"BLIF: combinational loop through {x!r}")):
        d = defs[s]
        k = len(d["in"])
        if k > MAX_ARITY:
            raise NetlistError(f"BLIF: {s!r} has {k} inputs; at most {MAX_ARITY}")
        ids[s] = 2 + len(inputs) + len(tab)
        fan.append([ids[x] for x in d["in"]] + [0] * (MAX_ARITY - k))
        ar.append(k)
        tab.append(_cover_table(d["rows"], k, s))
    fanin = np.array(fan, dtype=np.int64).reshape(-1, MAX_ARITY)
    K = max(1, max(ar, default=1))
    gs = None if group_sizes is None else np.asarray(group_sizes)
    return Netlist(len(inputs), fanin[:, :K], np.array(ar, np.uint8),
                   np.array(tab, np.uint64), [ids[o] for o in outputs], None, gs, tau).check()


def _cover_table(rows, k, name):
    on = 0
    polarity = None
    for r in rows:
        if k == 0:
            cube, val = "", r[0]
        else:
            if len(r) != 2 or len(r[0]) != k:
                raise NetlistError(f"BLIF: bad cube {' '.join(r)!r} for {name!r}")
            cube, val = r
        if val not in ("0", "1") or (polarity is not None and val != polarity):
            raise NetlistError(f"BLIF: bad or mixed output value in the cover of {name!r}")
        polarity = val
        for u in range(1 << k):
            bits = format(u, f"0{k}b") if k else ""
            if all(c == "-" or c == b for c, b in zip(cube, bits)):
                on |= 1 << u
    if polarity == "0":
        on ^= (1 << (1 << k)) - 1
    return on


def find_abc(abc=None) -> str | None:
    """Path of an ABC binary: ``abc`` if given, pyosys's ``yosys-abc``, ``yosys-abc`` or
    ``berkeley-abc`` on PATH."""
    if abc:
        return abc
    try:
        import importlib.util
        spec = importlib.util.find_spec("pyosys")
        if spec and spec.submodule_search_locations:
            for d in spec.submodule_search_locations:
                p = Path(d) / "yosys-abc"
                if p.is_file() and os.access(p, os.X_OK):
                    return str(p)
    except (ImportError, ValueError):
        pass
    for name in ("yosys-abc", "berkeley-abc", "abc"):
        p = shutil.which(name)
        if p:
            return p
    return None


def abc_cec(a: Netlist, b: Netlist, abc=None, timeout: float = 600) -> tuple[bool, str]:
    """Run ABC ``cec -n`` on the two netlists; returns (equivalent, ABC's output)."""
    from .equiv import _check_compatible
    _check_compatible(a, b)
    if a.n_outputs == 0:
        return True, "no outputs: trivially equivalent"
    exe = find_abc(abc)
    if exe is None:
        raise RuntimeError("no ABC binary found (pip install pyosys, or apt-get install "
                           "berkeley-abc)")
    with tempfile.TemporaryDirectory(prefix="dlgn-cec-") as d:
        pa, pb = os.path.join(d, "a.blif"), os.path.join(d, "b.blif")
        write_blif(a, pa, "a")
        write_blif(b, pb, "b")
        r = subprocess.run([exe, "-c", f"cec -n {pa} {pb}"], capture_output=True, text=True,
                           timeout=timeout, cwd=d)
    txt = r.stdout + r.stderr
    if re.search(r"Networks are equivalent", txt):
        return True, txt
    if re.search(r"NOT EQUIVALENT|are not equivalent", txt, re.I):
        return False, txt
    raise RuntimeError(f"could not read ABC's verdict (exit {r.returncode}):\n{txt[-2000:]}")
