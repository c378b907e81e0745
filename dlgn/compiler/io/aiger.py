"""AIGER: And-Inverter Graphs, written and read in numpy (ASCII ``aag`` and binary ``aig``).

An AIGER file numbers *variables*: 0 is the constant, then ``I`` inputs, then ``A`` AND
gates; a literal is ``2 * variable + negated``, so literal 0 is false and 1 is true —
exactly the convention of :class:`~dlgn.compiler.builder.NetlistBuilder`'s literals.
Header ``aag M I L O A`` (or ``aig``; an AIGER 1.9 header may add ``B C J F``), then the
input literals (ASCII only), the latches, the output literals, the AND gates (ASCII:
``lhs rhs0 rhs1`` per line; binary: two LEB128 deltas per gate, ``lhs - rhs0`` and
``rhs0 - rhs1``, with ``lhs = 2 * (I + L + 1 + i)`` and ``rhs0 >= rhs1``), an optional
symbol table (``i0 name``, ``o3 name`` ...) and an optional comment section after a line
``c``.  Spec: https://fmv.jku.at/aiger/FORMAT.

Writing (:func:`aiger_bytes`, :func:`aiger_text`, :func:`write_aiger`): every k-input gate
is decomposed into two-input ANDs by Shannon expansion of its truth table on ``x_{k-1}``
then ``x_{k-2}`` ... (a multiplexer is three ANDs), all the gates of one logic level and
one arity at a time, through a :class:`~dlgn.compiler.builder.NetlistBuilder` with
``rewrite=True``: constant cofactors, wires, inverters and repeated sub-functions fold and
hash away as the ANDs are made (an AND gate stays one AND, a 2-input XOR becomes three).
Inputs are named ``x0 ..`` and outputs ``y0 ..`` in the symbol table, as in the BLIF
export; the output polarity is the output literal's negation.  Deterministic.

Reading (:func:`read_aiger` a path, :func:`parse_aiger` bytes or text, like ``json.load``
/ ``json.loads``): combinational files only — latches, and the bad-state, constraint,
justice and fairness sections of AIGER 1.9, raise :class:`AigerFormatError`, as does a bad
header, a literal out of range, an undefined or twice-defined variable, a cycle, and a
truncated binary section.  The symbol table and comments are accepted and ignored.  Each
AND becomes ``builder.add(fanins[n, 2], table 8)`` with its (possibly negated) fan-in
literals, one logic level per call; ``rewrite=False`` (the default) keeps one gate per
AND, its negated fan-ins absorbed into the table.  The ASCII form may list the ANDs in any
order.
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np

from ..builder import NetlistBuilder
from ..netlist import Netlist, NetlistFormatError
from ..tables import explode
from ..toposort import dependencies_first

__all__ = ["write_aiger", "aiger_bytes", "aiger_text", "read_aiger", "parse_aiger",
           "AigerFormatError"]

log = logging.getLogger(__name__)

_AND = np.uint64(8)      # the 2-input AND table: bit u = x0*2 + x1 = 3
_VARINT_MAX = 10         # bytes of one LEB128 delta (64 bits)
_SYMBOL = re.compile(rb"[ilobjf]\d+ .*")
FALSE, TRUE = 0, 1       # AIGER's constant literals (the builder reads 1 as NOT false)


class AigerFormatError(NetlistFormatError):
    """An AIGER file that is malformed, truncated, or not combinational."""


# =========================================================================== writing
def _const01(lit):
    """Builder literals with every constant written as 0 (false) or 1 (true)."""
    return np.where(lit < 4, (lit >> 1) ^ (lit & 1), lit)


def _mux(b: NetlistBuilder, s, hi, lo):
    """Literals of ``s ? hi : lo`` (same-shape literal arrays; constants are 0 and 1).

    A constant on either side makes it one AND (``s & hi``, ``!s & lo``, ``!(s & !hi)``,
    ``!(!s & !lo)``); otherwise it is ``!(!(s & hi) & !(!s & lo))``, three ANDs."""
    shape = hi.shape
    s, hi, lo = (np.broadcast_to(a, shape).reshape(-1) for a in (s, hi, lo))
    out = hi.copy()
    const_hi, const_lo = hi < 2, lo < 2
    wire = (hi == TRUE) & (lo == FALSE)
    inv = (hi == FALSE) & (lo == TRUE)
    out[wire] = s[wire]
    out[inv] = s[inv] ^ 1
    todo = (hi != lo) & ~wire & ~inv
    one = np.flatnonzero(todo & (const_hi | const_lo))
    gen = np.flatnonzero(todo & ~const_hi & ~const_lo)
    s1, h1, l1 = s[one], hi[one], lo[one]
    # per case (first match): lo F -> s&hi; hi F -> !s&lo; lo T -> !(s&!hi); hi T -> !(!s&!lo)
    use_hi = const_lo[one]
    p = np.where(use_hi, s1, s1 ^ 1)
    q = np.where(use_hi, np.where(l1 == FALSE, h1, h1 ^ 1), np.where(h1 == FALSE, l1, l1 ^ 1))
    neg = np.where(use_hi, l1 == TRUE, h1 == TRUE).astype(np.int64)
    sg = s[gen]
    rows = np.concatenate([np.column_stack([p, q]), np.column_stack([sg, hi[gen]]),
                           np.column_stack([sg ^ 1, lo[gen]])]).reshape(-1, 2)
    if rows.shape[0]:
        made = _const01(b.add(rows, np.full(rows.shape[0], _AND)))
        out[one] = made[:one.size] ^ neg
        a1, a2 = made[one.size:one.size + gen.size], made[one.size + gen.size:]
        if gen.size:
            out[gen] = _const01(b.add(np.column_stack([a1 ^ 1, a2 ^ 1]),
                                      np.full(gen.size, _AND)) ^ 1)
    return out.reshape(shape)


def _shannon(b: NetlistBuilder, fan, tables, k: int):
    """Literals of n k-input gates (fan-in literals [n, k]) made of ANDs."""
    cur = explode(tables, k).astype(np.int64)  # entry u is FALSE (0) or TRUE (1)
    for j in range(k - 1, -1, -1):  # x_j is the lowest bit of the remaining index
        cur = _mux(b, fan[:, j:j + 1], cur[:, 1::2], cur[:, 0::2])
    return cur[:, 0]


def _and_netlist(net: Netlist) -> Netlist:
    """``net`` rebuilt of two-input AND gates (hashed, folded), same inputs and outputs."""
    net.check()
    b = NetlistBuilder(net.n_inputs, rewrite=True)
    first = net.first_gate
    lit = 2 * np.arange(net.n_nodes, dtype=np.int64)
    lit[1] = TRUE
    for g in net.level_groups():
        ar = net.arity[g]
        for k in np.unique(ar).tolist():
            sel = g[ar == k]
            fan = lit[net.fanin[sel, :k].astype(np.int64)]
            lit[first + sel] = _shannon(b, fan, net.table[sel], k)
    outs = lit[net.outputs] ^ net.invert.astype(np.int64)
    return b.finish(outs)


def _aig_arrays(net: Netlist):
    """(n_in, rhs int64[A, 2] with rhs0 >= rhs1, output literals int64[n_out]) of ``net``."""
    a = _and_netlist(net)
    n_in, first, A = a.n_inputs, a.first_gate, a.n_gates
    if A and not (a.arity == 2).all():
        raise RuntimeError("internal error: the AND decomposition left a gate that is not "
                           "two-input")
    # AIGER variable of node v: inputs 1..n_in, gates n_in+1.. (node v >= 2 is variable v-1)
    lit = 2 * (np.arange(a.n_nodes, dtype=np.int64) - 1)
    lit[0], lit[1] = FALSE, TRUE
    t = a.table.astype(np.int64)
    ones = np.zeros(A, dtype=np.int64)
    for u in range(4):
        ones += (t >> u) & 1
    cplx = ones == 3                 # NOT of an AND of literals
    t = np.where(cplx, t ^ 15, t)
    if A and not (np.isin(t, (1, 2, 4, 8))).all():
        raise RuntimeError("internal error: the AND decomposition left a gate that is not "
                           "an AND of literals")
    u = np.array([0, 0, 1, 0, 2, 0, 0, 0, 3])[t]  # the one entry that is 1: x0*2 + x1
    lit[first:] |= cplx  # a gate's literal carries its complement (before anyone reads it)
    fan = a.fanin.astype(np.int64)
    r0 = lit[fan[:, 0]] ^ (1 - (u >> 1)) if A else np.zeros(0, np.int64)
    r1 = lit[fan[:, 1]] ^ (1 - (u & 1)) if A else np.zeros(0, np.int64)
    rhs = np.column_stack([np.maximum(r0, r1), np.minimum(r0, r1)]).reshape(-1, 2)
    outs = lit[a.outputs] ^ a.invert.astype(np.int64)
    return n_in, rhs, outs


def _symbols(n_in: int, n_out: int, n_gates: int, A: int) -> str:
    lines = [f"i{i} x{i}" for i in range(n_in)] + [f"o{o} y{o}" for o in range(n_out)]
    lines += ["c", f"dlgn AIGER export: {n_gates} gates as {A} ANDs"]
    return "\n".join(lines) + "\n"


def _header(kind: str, n_in: int, n_out: int, A: int) -> str:
    return f"{kind} {n_in + A} {n_in} 0 {n_out} {A}\n"


def _ints(a) -> str:
    return "".join(f"{v}\n" for v in np.asarray(a).reshape(-1).tolist())


def aiger_text(net: Netlist) -> str:
    """The netlist as ASCII AIGER (``aag``) text."""
    n_in, rhs, outs = _aig_arrays(net)
    A = rhs.shape[0]
    lhs = 2 * (n_in + 1 + np.arange(A, dtype=np.int64))
    ands = np.column_stack([lhs, rhs]).tolist()
    return (_header("aag", n_in, outs.size, A) + _ints(2 * (1 + np.arange(n_in)))
            + _ints(outs) + "".join(f"{x} {y} {z}\n" for x, y, z in ands)
            + _symbols(n_in, outs.size, net.n_gates, A))


def _leb128(v: np.ndarray) -> bytes:
    """Unsigned LEB128 of every value, concatenated (vectorized)."""
    v = v.astype(np.uint64).reshape(-1)
    if v.size == 0:
        return b""
    nb = np.ones(v.size, dtype=np.int64)
    for j in range(1, _VARINT_MAX):
        nb += (v >> np.uint64(7 * j)) != 0
    j = np.arange(_VARINT_MAX, dtype=np.uint64)[None, :]
    byte = ((v[:, None] >> (np.uint64(7) * j)) & np.uint64(0x7F)).astype(np.uint8)
    more = j.astype(np.int64) < (nb[:, None] - 1)
    byte |= np.where(more, np.uint8(0x80), np.uint8(0))
    keep = j.astype(np.int64) < nb[:, None]
    return byte[keep].tobytes()


def aiger_bytes(net: Netlist) -> bytes:
    """The netlist as binary AIGER (``aig``)."""
    n_in, rhs, outs = _aig_arrays(net)
    A = rhs.shape[0]
    lhs = 2 * (n_in + 1 + np.arange(A, dtype=np.int64))
    deltas = np.column_stack([lhs - rhs[:, 0], rhs[:, 0] - rhs[:, 1]])
    return ((_header("aig", n_in, outs.size, A) + _ints(outs)).encode()
            + _leb128(deltas) + _symbols(n_in, outs.size, net.n_gates, A).encode())


def write_aiger(net: Netlist, path, binary: bool = True):
    """Write ``net`` to ``path`` as binary (default) or ASCII AIGER; returns what was
    written (bytes, or str for ASCII)."""
    data = aiger_bytes(net) if binary else aiger_text(net)
    p = Path(path)
    if binary:
        p.write_bytes(data)
    else:
        p.write_text(data)
    return data


# =========================================================================== reading
def read_aiger(path, group_sizes=None, tau: float = 1.0, *, rewrite=False) -> Netlist:
    """Read an AIGER file, ASCII or binary (see the module docstring); errors name it."""
    path = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise AigerFormatError(f"{path}: cannot read the AIGER file ({e})") from e
    return _parse(data, path, group_sizes, tau, rewrite)


def parse_aiger(data, group_sizes=None, tau: float = 1.0, *, rewrite=False) -> Netlist:
    """Parse AIGER ``data`` (bytes, or str for the ASCII form) into a Netlist.

    ``group_sizes`` and ``tau`` give the result a GroupSum head; ``rewrite`` is handed to
    the :class:`~dlgn.compiler.builder.NetlistBuilder` (True: fold and hash as it reads)."""
    if isinstance(data, str):
        try:
            data = data.encode("latin-1")
        except UnicodeEncodeError:
            data = data.encode()
    elif isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    elif not isinstance(data, bytes):
        raise TypeError(f"parse_aiger takes bytes or str, got {type(data).__name__}; use "
                        f"read_aiger for a path")
    return _parse(data, "AIGER", group_sizes, tau, rewrite)


class _Reader:
    """Line-at-a-time access to the text parts of an AIGER file."""

    def __init__(self, data: bytes, err):
        self.data, self.pos, self.err = data, 0, err

    def line(self, what: str) -> bytes:
        end = self.data.find(b"\n", self.pos)
        if end < 0:
            if self.pos >= len(self.data):
                raise self.err(f"truncated: the file ends before {what}")
            end = len(self.data)
        ln = self.data[self.pos:end]
        self.pos = end + 1
        return ln.rstrip(b"\r")

    def ints(self, n: int, per: int, what: str) -> np.ndarray:
        out = np.zeros((n, per), dtype=np.int64)
        for r in range(n):
            tok = self.line(f"{what} {r}").split()
            if len(tok) != per or not all(t.isdigit() for t in tok):
                raise self.err(f"{what} {r}: expected {per} unsigned integer"
                               f"{'s' if per > 1 else ''}, got {bytes(b' '.join(tok))!r}")
            out[r] = [int(t) for t in tok]
        return out


def _header_fields(rd: _Reader):
    head = rd.line("the header").split()
    if not head or head[0] not in (b"aag", b"aig"):
        raise rd.err(f"not an AIGER file (the header must start with 'aag' or 'aig', got "
                     f"{bytes(head[0][:20]) if head else b''!r})")
    nums = head[1:]
    if not 5 <= len(nums) <= 9 or not all(t.isdigit() for t in nums):
        raise rd.err("bad header: expected 'aag|aig M I L O A' with unsigned integers, got "
                     f"{bytes(b' '.join(head))[:80]!r}")
    M, n_in, L, n_out, A, *rest = (int(t) for t in nums)
    if L:
        raise rd.err(f"{L} latches: only combinational AIGER files are read")
    for name, v in zip(("bad-state properties", "invariant constraints", "justice "
                        "properties", "fairness constraints"), rest):
        if v:
            raise rd.err(f"{v} {name}: only combinational AIGER files (inputs, outputs, "
                         "ANDs) are read")
    if M < n_in + A:
        raise rd.err(f"bad header: M={M} is smaller than I + L + A = {n_in + A}")
    if n_in + n_out + A > len(rd.data):  # every input, output and AND takes at least a byte
        raise rd.err(f"truncated: the header announces {n_in} inputs, {n_out} outputs and "
                     f"{A} "
                     f"ANDs; the file has {len(rd.data)} bytes")
    return head[0] == b"aig", M, n_in, n_out, A


def _leb128_decode(data: bytes, pos: int, n: int, err) -> tuple[np.ndarray, int]:
    """The first ``n`` LEB128 values from ``data[pos:]`` and the position after them."""
    if n == 0:
        return np.zeros(0, dtype=np.int64), pos
    buf = np.frombuffer(data, dtype=np.uint8, offset=pos)
    ends = np.flatnonzero(buf < 0x80)[:n]
    if ends.size < n:
        raise err(f"truncated: the binary AND section holds {ends.size // 2} of "
                  f"{n // 2} gates")
    starts = np.concatenate([[0], ends[:-1] + 1])
    if (ends - starts + 1).max() > _VARINT_MAX - 1:
        raise err("corrupt binary AND section (a delta longer than 63 bits)")
    seg = np.repeat(np.arange(n), ends - starts + 1)
    body = buf[:ends[-1] + 1].astype(np.uint64)
    shift = (np.arange(body.size) - starts[seg]).astype(np.uint64) * np.uint64(7)
    vals = np.add.reduceat((body & np.uint64(0x7F)) << shift, starts)
    return vals.astype(np.int64), pos + int(ends[-1]) + 1


def _check_tail(data: bytes, pos: int, err) -> None:
    """The symbol table and comments after the gates: accepted, anything else is not.  A
    line starting with ``c`` opens the comments, which run to the end of the file (ABC
    writes binary extensions right after the ``c``)."""
    for ln in data[pos:].split(b"\n"):
        ln = ln.rstrip(b"\r")
        if ln.startswith(b"c"):
            return
        if ln and not _SYMBOL.fullmatch(ln):
            raise err(f"unexpected data after the AND gates: {ln[:60]!r}")


def _parse(data: bytes, src: str, group_sizes, tau, rewrite) -> Netlist:
    def err(msg):
        return AigerFormatError(f"{src}: {msg}")

    if not data:
        raise err("empty file")
    rd = _Reader(data, err)
    binary, M, n_in, n_out, A = _header_fields(rd)
    if binary:
        if M != n_in + A:
            raise err(f"binary AIGER needs M = I + L + A, got M={M}, I+L+A={n_in + A}")
        inputs = 2 * (1 + np.arange(n_in, dtype=np.int64))
        outs = rd.ints(n_out, 1, "output").reshape(-1)
        d, pos = _leb128_decode(data, rd.pos, 2 * A, err)
        lhs = 2 * (n_in + 1 + np.arange(A, dtype=np.int64))
        r0 = lhs - d[0::2]
        r1 = r0 - d[1::2]
        if A and ((d[0::2] < 1).any() or (r1 < 0).any()):
            g = int(np.flatnonzero((d[0::2] < 1) | (r1 < 0))[0])
            raise err(f"corrupt binary AND section: AND {g} has fan-ins {int(r0[g])}, "
                      f"{int(r1[g])} for literal {int(lhs[g])}")
        ands = np.column_stack([lhs, r0, r1]).reshape(-1, 3)
    else:
        inputs = rd.ints(n_in, 1, "input").reshape(-1)
        outs = rd.ints(n_out, 1, "output").reshape(-1)
        ands = rd.ints(A, 3, "AND")
        pos = rd.pos
    _check_tail(data, pos, err)
    return _build(M, inputs, outs, ands, err, group_sizes, tau, rewrite)


def _build(M, inputs, outs, ands, err, group_sizes, tau, rewrite) -> Netlist:
    n_in, A = inputs.size, ands.shape[0]
    top = 2 * M + 1
    for what, v in (("input", inputs), ("output", outs), ("AND", ands.reshape(-1))):
        if v.size and v.max() > top:
            raise err(f"{what} literal {int(v.max())} exceeds 2*M+1 = {top}")
    for what, v in (("input", inputs), ("AND", ands[:, 0])):
        bad = ((v & 1) == 1) | (v < 2)
        if bad.any():
            raise err(f"{what} literal {int(v[bad][0])} must be even and not a constant")
    # definition index of each variable: 0 the constant, 1 + i input i, 1 + n_in + j AND j
    defined = np.concatenate([inputs, ands[:, 0]]) >> 1
    key = np.argsort(defined, kind="stable")
    sdef = defined[key]
    if A + n_in > 1 and (sdef[1:] == sdef[:-1]).any():
        raise err(f"variable {int(sdef[1:][sdef[1:] == sdef[:-1]][0])} is defined twice")

    def where(var):
        var = np.asarray(var, dtype=np.int64).reshape(-1)
        res = np.zeros(var.shape, dtype=np.int64)
        nz = np.flatnonzero(var != 0)
        if nz.size:
            at = np.searchsorted(sdef, var[nz])
            ok = at < sdef.size
            ok[ok] = sdef[at[ok]] == var[nz][ok]
            if not ok.all():
                raise err(f"variable {int(var[nz][~ok][0])} is used but never defined")
            res[nz] = 1 + key[at]
        return res

    w_out = where(outs >> 1)
    src = where(ands[:, 1:] >> 1).reshape(-1, 2)  # [A, 2]
    if A and (src - (1 + n_in) >= np.arange(A)[:, None]).any():  # ASCII, not topological
        order = _topological(src - (1 + n_in), ands, err)
        rank = np.empty(A, dtype=np.int64)
        rank[order] = np.arange(A)
        ands = ands[order]
        src = src[order]
        src = np.where(src > n_in, 1 + n_in + rank[np.maximum(src - 1 - n_in, 0)], src)
        w_out = np.where(w_out > n_in, 1 + n_in + rank[np.maximum(w_out - 1 - n_in, 0)],
                         w_out)
    # logic levels, from a plain netlist: node 0 const, 2 + i input i, 2 + n_in + j AND j
    node = np.where(src == 0, 0, src + 1)
    lev = (Netlist(n_in, node, np.full(A, 2, np.uint8), np.full(A, _AND), []).levels()[2 + n_in:]
           if A else np.zeros(0, dtype=np.int32))
    b = NetlistBuilder(n_in, rewrite=rewrite)
    lit = np.empty(1 + n_in + A, dtype=np.int64)  # builder literal per definition index
    lit[0] = FALSE
    lit[1:1 + n_in] = b.input_lits()
    neg = ands[:, 1:] & 1
    go = np.argsort(lev, kind="stable")
    bounds = (np.flatnonzero(np.diff(lev[go])) + 1).tolist()
    for s, e in (zip([0] + bounds, bounds + [A]) if A else ()):
        g = go[s:e]
        lit[1 + n_in + g] = b.add(lit[src[g]] ^ neg[g], np.full(g.size, _AND))
    o = lit[w_out] ^ (outs & 1)
    gs = None if group_sizes is None else np.asarray(group_sizes)
    try:
        return b.finish(o, gs, tau)
    except NetlistFormatError:
        raise
    except ValueError as e:  # group sizes that do not fit the outputs
        raise err(str(e)) from e


def _topological(dep, ands, err) -> np.ndarray:
    """An order of the AND rows in which every fan-in is made first (an ASCII file may list
    them in any order); ``dep[j]`` are the AND rows row j reads (negative: not an AND).
    A cycle raises."""
    deps = [[d for d in row if d >= 0] for row in dep.tolist()]
    known: set = set()
    order = []
    for j in dependencies_first(range(len(deps)), known, deps.__getitem__,
                                lambda j: err(f"combinational cycle through AND literal "
                                              f"{int(ands[j, 0])}")):
        known.add(j)
        order.append(j)
    return np.asarray(order, dtype=np.int64)
