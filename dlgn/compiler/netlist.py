"""The IR: a flat, topologically ordered gate-level netlist (DESIGN.md section 3).

Node ids: 0 is constant 0, 1 is constant 1, then the ``n_inputs`` primary inputs, then
the gates in topological order (every fan-in of gate ``g`` has an id smaller than
``g``'s own node id, ``2 + n_inputs + g``).

Arrays (numpy):

=============  ==============  ==========================================================
``fanin``      int32[G, K]     fan-in node ids; K is the widest arity (1..6); entries past
                               a gate's arity are 0
``arity``      uint8[G]        inputs each gate reads (0..K)
``table``      uint64[G]       truth table, bit u = output on input u = sum x_i 2^(k-1-i);
                               bits at or above 2**arity are 0
``outputs``    int32[O]        node ids of the outputs (constants and inputs are legal)
``invert``     bool[O]         per-output polarity: True means the output is NOT node
``group_sizes``int32[C]        GroupSum head: outputs split into C contiguous groups
                               (empty: no head, the outputs are the result)
=============  ==============  ==========================================================

plus ``tau`` (GroupSum temperature, > 0) and ``meta`` (a JSON-serializable dict: the
encoder, the training config, provenance).  ``Netlist.check()`` verifies every invariant
and names the first violation.  ``Netlist(...)`` converts its arguments to the dtypes above
only when that is exact: any integer (or bool) array or list whose values fit; a float,
string or object array, a value out of range (a fan-in of 2**32 + 2, an arity of 258, a
negative table, an invert of 2) or a non-integer ``n_inputs`` raises :class:`NetlistError`
naming the field.

File format (``.dlgn.npz``, version 1): an uncompressed numpy ``.npz`` archive holding the
arrays above under their names plus ``header``, a uint8 array with UTF-8 JSON
``{"format": "dlgn-netlist", "version": 1, "n_inputs": ..., "tau": ..., "meta": {...}}``.
Every member is *stored* (``np.savez``, never ``np.savez_compressed``) and is a version 1.0
or 2.0 ``.npy`` array of exactly the dtype above (either byte order); ``header`` is at most
:data:`MAX_HEADER_BYTES` bytes of JSON with at most :data:`MAX_HEADER_CONTAINERS` arrays and
objects (``[`` and ``{`` bytes) and :data:`MAX_HEADER_VALUES` values (those plus ``,``
bytes); ``meta`` is a JSON object and ``tau`` a finite positive number.

Sizes: node ids are int32, so ``n_nodes = 2 + n_inputs + n_gates`` is at most
:data:`MAX_NODES` (2**31 - 1), as are the numbers of outputs and of groups.
:meth:`Netlist.check` enforces this; a backend with a smaller limit (a C array, a Verilog
port list, a GPU buffer) calls :meth:`Netlist.check_size` before it allocates anything.

:meth:`Netlist.load` treats the file as hostile.  It reads the central directory and each
member's ``.npy`` header first and bounds every shape by the header's counts, by
:data:`MAX_NODES` and by the member's stored size (``file_size`` must equal header plus
``itemsize * prod(shape)``, and the member must lie inside the file) before it reads any
data, so memory and time stay proportional to the file's size; compressed or encrypted
members are refused.  Every failure -- missing, truncated, corrupt, hostile, of another
version -- is a :class:`NetlistFormatError` with a one-line message naming the file; a
pickle is never unpickled.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import operator
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.lib import format as _npy

from ..errors import DlgnError
from .atomic import write_bytes_atomic
from .gates import MAX_ARITY

__all__ = ["Netlist", "NetlistError", "NetlistFormatError", "NetlistTooLargeError",
           "FORMAT_NAME", "FORMAT_VERSION", "MAX_NODES", "MAX_HEADER_BYTES",
           "MAX_HEADER_CONTAINERS", "MAX_HEADER_VALUES"]

FORMAT_NAME = "dlgn-netlist"
FORMAT_VERSION = 1
_ARRAYS = {"fanin": np.int32, "arity": np.uint8, "table": np.uint64,
           "outputs": np.int32, "invert": np.bool_, "group_sizes": np.int32}

#: Largest node count (``2 + n_inputs + n_gates``), output count and group count: node ids
#: are int32.
MAX_NODES = (1 << 31) - 1
#: Largest JSON ``header`` member a file may hold (and :meth:`Netlist.save` writes).
MAX_HEADER_BYTES = 16 << 20
#: Most JSON arrays plus objects (``[`` and ``{`` bytes) and most values (``,`` bytes) the
#: header may hold: they bound the memory that parsing it takes (``{},`` is 3 bytes of file
#: but ~70 bytes of memory, ``"ab",`` 5 bytes but ~60).
MAX_HEADER_CONTAINERS = 1 << 18
MAX_HEADER_VALUES = 1 << 20
_MAX_CENTRAL_DIR = 1 << 16      # bytes of zip central directory (ours: ~7 entries, < 1 KB)
_NPY_HEAD = 1 << 14             # a .npy header is at most 10 000 characters plus 12 bytes
_CHUNK = 1 << 24                # member data is read in chunks of 16 MiB


class NetlistError(DlgnError, ValueError):
    """A Netlist violates one of its invariants."""


class NetlistFormatError(NetlistError):
    """A netlist file is missing, truncated, corrupt, of another version or hostile."""


class NetlistTooLargeError(NetlistError):
    """A netlist is larger than a backend (or the int32 node ids) can handle."""


def _as_array(name: str, x, dtype) -> np.ndarray:
    """``x`` as a contiguous array of ``dtype``, refusing any cast that loses information.

    Integer (and bool) arrays are accepted when every value fits ``dtype``; float, complex,
    string and object arrays are refused unless empty.  Cheap when ``x`` already has
    ``dtype`` (no copy, no scan) or casts safely (one copy); otherwise one min/max scan."""
    dt = np.dtype(dtype)
    if isinstance(x, np.ndarray) and x.dtype == dt:
        return np.ascontiguousarray(x)
    try:
        a = np.asarray(x)
        if a.size and a.dtype.kind in "fO" and not isinstance(x, np.ndarray):
            a = _python_ints(name, x, dt)       # e.g. [1, 2**63] comes out as float64
    except NetlistError:
        raise
    except (TypeError, ValueError, OverflowError) as e:
        raise NetlistError(f"{name} is not an array of integers ({e})") from None
    if a.dtype == dt:
        return np.ascontiguousarray(a)
    if a.size == 0:
        return np.zeros(a.shape, dt)
    kind = a.dtype.kind
    if kind not in "biu":
        raise NetlistError(f"{name} has dtype {a.dtype}; it must hold integers "
                           f"(stored as {dt}) and is not cast")
    if kind != "b" and not np.can_cast(a.dtype, dt):
        lo_ok, hi_ok = (0, 1) if dt.kind == "b" else (int(np.iinfo(dt).min),
                                                       int(np.iinfo(dt).max))
        lo, hi = int(a.min()), int(a.max())
        if lo < lo_ok or hi > hi_ok:
            bad = lo if lo < lo_ok else hi
            raise NetlistError(f"{name} holds {bad}, outside {lo_ok}..{hi_ok} ({dt}); "
                               f"it is not cast")
    return np.ascontiguousarray(a, dtype=dt)


def _python_ints(name: str, x, dt) -> np.ndarray:
    """A nested list of Python ints that numpy read as float or object: convert exactly."""
    obj = np.array(x, dtype=object)
    flat = obj.reshape(-1)
    for v in flat:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise NetlistError(f"{name} holds {v!r}; it must hold integers and is not cast")
    lo_ok, hi_ok = (0, 1) if dt.kind == "b" else (int(np.iinfo(dt).min), int(np.iinfo(dt).max))
    for v in flat:
        if not lo_ok <= int(v) <= hi_ok:
            raise NetlistError(f"{name} holds {int(v)}, outside {lo_ok}..{hi_ok} ({dt}); "
                               f"it is not cast")
    return np.array([int(v) for v in flat], dtype=dt).reshape(obj.shape)


def _as_count(name: str, v) -> int:
    """An exact integer (Python or numpy int; not bool, not float)."""
    if isinstance(v, (bool, np.bool_)):
        raise NetlistError(f"{name} must be an int, got {v!r}")
    try:
        return operator.index(v)
    except TypeError:
        raise NetlistError(f"{name} must be an int, got {type(v).__name__} {v!r:.80}") \
            from None


def _as_tau(v) -> float:
    if isinstance(v, (bool, np.bool_, str, bytes)):
        raise NetlistError(f"tau must be a number, got {v!r:.80}")
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError) as e:
        raise NetlistError(f"tau must be a finite number ({type(e).__name__}: {e})") from None


@dataclass(eq=False)
class Netlist:
    n_inputs: int
    fanin: np.ndarray
    arity: np.ndarray
    table: np.ndarray
    outputs: np.ndarray
    invert: np.ndarray | None = None
    group_sizes: np.ndarray | None = None
    tau: float = 1.0
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        # Every conversion is exact or raises NetlistError naming the field: an int64 fan-in
        # of 2**32 + 2 is not node 2, a float table is not truncated, arity 258 is not 2.
        self.n_inputs = _as_count("n_inputs", self.n_inputs)
        fanin = _as_array("fanin", self.fanin, np.int32)
        if fanin.ndim == 1 and fanin.size == 0:
            fanin = fanin.reshape(0, 1)
        self.fanin = fanin
        self.arity = _as_array("arity", self.arity, np.uint8).reshape(-1)
        self.table = _as_array("table", self.table, np.uint64).reshape(-1)
        self.outputs = _as_array("outputs", self.outputs, np.int32).reshape(-1)
        if self.invert is None:
            self.invert = np.zeros(self.outputs.shape[0], dtype=bool)
        self.invert = _as_array("invert", self.invert, np.bool_).reshape(-1)
        if self.group_sizes is None:
            self.group_sizes = np.zeros(0, dtype=np.int32)
        self.group_sizes = _as_array("group_sizes", self.group_sizes, np.int32).reshape(-1)
        self.tau = _as_tau(self.tau)
        if self.meta is not None and not isinstance(self.meta, Mapping):
            raise NetlistError(f"meta must be a dict, got {type(self.meta).__name__}")
        self.meta = dict(self.meta or {})

    # ------------------------------------------------------------------ sizes
    @property
    def n_gates(self) -> int:
        return int(self.table.shape[0])

    @property
    def max_arity(self) -> int:
        return int(self.fanin.shape[1]) if self.fanin.ndim == 2 else 0

    @property
    def first_gate(self) -> int:
        """Node id of gate 0."""
        return 2 + self.n_inputs

    @property
    def n_nodes(self) -> int:
        return 2 + self.n_inputs + self.n_gates

    @property
    def n_outputs(self) -> int:
        return int(self.outputs.shape[0])

    @property
    def n_classes(self) -> int:
        return int(self.group_sizes.shape[0])

    def __repr__(self) -> str:
        return (f"Netlist(n_inputs={self.n_inputs}, n_gates={self.n_gates}, "
                f"max_arity={self.max_arity}, n_outputs={self.n_outputs}, "
                f"n_classes={self.n_classes}, tau={self.tau:g})")

    # ------------------------------------------------------------------ checks
    def check(self) -> "Netlist":
        """Verify every invariant; raise :class:`NetlistError` naming the first violation.

        Returns ``self`` so that ``Netlist(...).check()`` chains."""
        def fail(msg):
            raise NetlistError(f"invalid netlist: {msg}")

        if isinstance(self.n_inputs, (bool, np.bool_)) \
                or not isinstance(self.n_inputs, (int, np.integer)):
            fail(f"n_inputs must be an int, got {self.n_inputs!r:.80}")
        if self.n_inputs < 0:
            fail(f"n_inputs is {self.n_inputs}")
        for name, dtype in _ARRAYS.items():
            a = getattr(self, name)
            if not isinstance(a, np.ndarray) or a.dtype != np.dtype(dtype):
                fail(f"{name} must be a numpy {np.dtype(dtype)} array, got "
                     f"{getattr(a, 'dtype', type(a).__name__)} (Netlist(...) converts)")
        if self.fanin.ndim != 2:
            fail(f"fanin must be 2-D [G, K], got shape {self.fanin.shape}")
        G, K = self.fanin.shape
        if not 1 <= K <= MAX_ARITY:
            fail(f"fanin width K={K} is outside 1..{MAX_ARITY}")
        if self.n_inputs > MAX_NODES - 2 - G:
            fail(f"n_nodes = 2 + n_inputs + n_gates = 2 + {self.n_inputs} + {G} exceeds "
                 f"{MAX_NODES} (node ids are int32)")
        for name in ("outputs", "invert", "group_sizes"):
            if getattr(self, name).ndim != 1:
                fail(f"{name} must be 1-D, got shape {getattr(self, name).shape}")
        if self.outputs.shape[0] > MAX_NODES or self.group_sizes.shape[0] > MAX_NODES:
            fail(f"{self.outputs.shape[0]} outputs in {self.group_sizes.shape[0]} groups: "
                 f"more than {MAX_NODES}")
        if self.arity.shape != (G,) or self.table.shape != (G,):
            fail(f"fanin has {G} rows but arity has {self.arity.shape[0]} and "
                 f"table {self.table.shape[0]}")
        if G:
            bad = np.nonzero(self.arity > K)[0]
            if bad.size:
                g = int(bad[0])
                fail(f"gate {g} has arity {int(self.arity[g])} > K={K}")
            ids = self.first_gate + np.arange(G, dtype=np.int64)
            used = np.arange(K)[None, :] < self.arity[:, None].astype(np.int64)
            f64 = self.fanin.astype(np.int64)
            neg = np.nonzero(((f64 < 0) & used).any(axis=1))[0]
            if neg.size:
                fail(f"gate {int(neg[0])} (node {int(ids[neg[0]])}) has a negative fan-in")
            late = np.nonzero(((f64 >= ids[:, None]) & used).any(axis=1))[0]
            if late.size:
                g = int(late[0])
                fail(f"gate {g} (node {int(ids[g])}) reads node "
                     f"{int(f64[g][used[g]].max())}: fan-ins must precede the gate")
            junk = np.nonzero(((f64 != 0) & ~used).any(axis=1))[0]
            if junk.size:
                g = int(junk[0])
                fail(f"gate {g} has non-zero fan-in entries past its arity {int(self.arity[g])}")
            small = self.arity < MAX_ARITY
            nbits = np.left_shift(1, self.arity.astype(np.int64))  # 2**arity, 1..64
            limit = np.zeros(G, dtype=np.uint64)
            limit[small] = np.left_shift(np.uint64(1), nbits[small].astype(np.uint64))
            over = np.nonzero(small & (self.table >= limit))[0]
            if over.size:
                g = int(over[0])
                fail(f"gate {g} has table {int(self.table[g]):#x} wider than its "
                     f"{int(nbits[g])} entries")
        O = self.outputs.shape[0]
        if self.invert.shape != (O,):
            fail(f"invert has {self.invert.shape[0]} entries for {O} outputs")
        if O:
            o = self.outputs.astype(np.int64)
            bad = np.nonzero((o < 0) | (o >= self.n_nodes))[0]
            if bad.size:
                fail(f"output {int(bad[0])} refers to node {int(o[bad[0]])}, "
                     f"outside 0..{self.n_nodes - 1}")
        if self.group_sizes.size:
            if np.any(self.group_sizes < 0):
                fail("a group size is negative")
            if int(self.group_sizes.sum()) != O:
                fail(f"group sizes sum to {int(self.group_sizes.sum())} but there are {O} outputs")
        tau = self.tau
        try:
            tau_ok = not isinstance(tau, (bool, np.bool_)) \
                and isinstance(tau, (int, float, np.integer, np.floating)) \
                and math.isfinite(tau) and tau > 0
        except OverflowError:
            tau_ok = False
        if not tau_ok:
            fail(f"tau must be a positive finite number, got {tau!r:.80}")
        if not isinstance(self.meta, dict):
            fail(f"meta must be a dict, got {type(self.meta).__name__}")
        try:
            json.dumps(self.meta)
        except (TypeError, ValueError, RecursionError) as e:
            fail(f"meta is not JSON-serializable: {e}")
        return self

    def check_size(self, limit_nodes: int = MAX_NODES, *, limit_inputs: int | None = None,
                   limit_gates: int | None = None, limit_outputs: int | None = None,
                   what: str = "this backend") -> "Netlist":
        """Refuse a netlist too large for ``what`` *before* anything is allocated for it.

        Raises :class:`NetlistTooLargeError` (a :class:`NetlistError`) with a one-line
        message when ``n_nodes > limit_nodes`` or ``n_inputs``, ``n_gates`` or ``n_outputs``
        exceeds its limit (``None``: no limit beyond ``limit_nodes``).  Every backend calls
        it first, e.g. ``net.check_size(limit_inputs=1 << 20, what="the Verilog target")``.
        Returns ``self``."""
        def over(count, limit, noun):
            if limit is not None and count > limit:
                raise NetlistTooLargeError(
                    f"{what} cannot handle a netlist with {count:,} {noun} "
                    f"(limit {int(limit):,}): {self!r}")
        over(self.n_nodes, min(int(limit_nodes), MAX_NODES), "nodes")
        over(self.n_inputs, limit_inputs, "inputs")
        over(self.n_gates, limit_gates, "gates")
        over(self.n_outputs, limit_outputs, "outputs")
        return self

    # ------------------------------------------------------------------ derived
    def levels(self) -> np.ndarray:
        """Logic level of every node (constants and inputs 0, a gate 1 + max of its fan-ins)."""
        lev = np.zeros(self.n_nodes, dtype=np.int32)
        G, K = self.fanin.shape
        if G == 0:
            return lev
        used = np.arange(K)[None, :] < self.arity[:, None].astype(np.int64)
        base = self.first_gate
        block = 4096
        for s in range(0, G, block):
            e = min(G, s + block)
            f = self.fanin[s:e]
            u = used[s:e]
            while True:
                cand = np.where(u, lev[f], -1).max(axis=1, initial=-1) + 1
                cand = np.maximum(cand, 1)
                if np.array_equal(cand, lev[base + s:base + e]):
                    break
                lev[base + s:base + e] = cand
        return lev

    def level_groups(self) -> list[np.ndarray]:
        """Gate indices (from ``first_gate``) grouped by logic level, lowest level first,
        each group in gate order: the order a level-at-a-time rebuild adds them in."""
        G = self.n_gates
        if not G:
            return []
        lev = self.levels()[self.first_gate:]
        order = np.argsort(lev, kind="stable")
        bounds = (np.flatnonzero(np.diff(lev[order])) + 1).tolist()
        return [order[s:e] for s, e in zip([0] + bounds, bounds + [G])]

    def depth(self) -> int:
        return int(self.levels().max(initial=0))

    def copy(self) -> "Netlist":
        return Netlist(self.n_inputs, self.fanin.copy(), self.arity.copy(), self.table.copy(),
                       self.outputs.copy(), self.invert.copy(), self.group_sizes.copy(),
                       self.tau, json.loads(json.dumps(self.meta)))

    def logic(self) -> "Netlist":
        """The same gates and output bits without the GroupSum head (no ``group_sizes``)
        and without ``meta``: the net's logic alone, as synthesis and LUT counts see it.
        Shares the arrays (netlists are not changed in place)."""
        return Netlist(self.n_inputs, self.fanin, self.arity, self.table, self.outputs,
                       self.invert, None, self.tau, {})

    def content_hash(self) -> str:
        """SHA-256 over everything that defines the function (not ``meta``)."""
        h = hashlib.sha256()
        h.update(json.dumps({"n_inputs": self.n_inputs, "tau": self.tau,
                             "K": self.max_arity}).encode())
        for name in _ARRAYS:
            a = np.ascontiguousarray(getattr(self, name))
            h.update(name.encode())
            h.update(str(a.shape).encode())
            h.update(a.astype(a.dtype.newbyteorder("<")).tobytes())
        return h.hexdigest()

    def same_structure(self, other: "Netlist") -> bool:
        """True when the two netlists are identical array for array (meta ignored)."""
        return self.content_hash() == other.content_hash()

    # ------------------------------------------------------------------ file I/O
    def save(self, path) -> None:
        """Write the versioned ``.npz`` file (see the module docstring); atomic."""
        self.check()
        header = json.dumps({"format": FORMAT_NAME, "version": FORMAT_VERSION,
                             "n_inputs": int(self.n_inputs), "tau": self.tau,
                             "meta": self.meta}, sort_keys=True).encode()
        problem = _header_problem(header)
        if problem:
            raise NetlistError(f"cannot save {os.fspath(path)}: {problem}")
        buf = io.BytesIO()
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        np.savez(buf, header=np.frombuffer(header, dtype=np.uint8), **arrays)
        write_bytes_atomic(path, buf.getvalue())

    @classmethod
    def load(cls, path) -> "Netlist":
        """Read a file written by :meth:`save`; raise :class:`NetlistFormatError` otherwise.

        The file is treated as hostile (see the module docstring): every failure, whatever
        its cause, is a :class:`NetlistFormatError` whose one-line message names the file,
        and memory and time stay proportional to the file's size."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise NetlistFormatError(f"{path}: no such netlist file")
        try:
            header, arrays = _read_file(path)
            net = cls(header["n_inputs"], tau=header["tau"], meta=header["meta"], **arrays)
            return net.check()
        except _Bad as e:
            raise NetlistFormatError(f"{path}: {e}") from None
        except NetlistError as e:
            raise NetlistFormatError(f"{path}: {_one_line(e)}") from e
        except zipfile.BadZipFile as e:
            raise NetlistFormatError(f"{path}: not a valid netlist archive ({_one_line(e)})") \
                from e
        except RecursionError as e:
            raise NetlistFormatError(f"{path}: header JSON is nested too deeply") from e
        except MemoryError as e:
            raise NetlistFormatError(f"{path}: out of memory reading the netlist") from e
        except Exception as e:      # noqa: BLE001 - a hostile file may raise anything
            detail = _one_line(e)
            raise NetlistFormatError(f"{path}: unreadable netlist file ({type(e).__name__}"
                                     f"{': ' + detail if detail else ''})") from e


# ---------------------------------------------------------------------- reading files
def _one_line(e: BaseException, limit: int = 240) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _header_problem(raw: bytes) -> str | None:
    """Why a JSON header of these bytes is refused (too big to parse cheaply), or None."""
    if len(raw) > MAX_HEADER_BYTES:
        return f"header is {len(raw):,} bytes, more than {MAX_HEADER_BYTES:,}"
    containers = raw.count(b"[") + raw.count(b"{")
    if containers > MAX_HEADER_CONTAINERS:
        return (f"header holds {containers:,} JSON arrays/objects, more than "
                f"{MAX_HEADER_CONTAINERS:,}")
    values = raw.count(b",") + containers
    if values > MAX_HEADER_VALUES:
        return f"header holds {values:,} JSON values, more than {MAX_HEADER_VALUES:,}"
    return None


class _Bad(NetlistFormatError):
    """Raised inside :func:`_read_file`; :meth:`Netlist.load` prefixes the path."""


def _parse_int(text: str) -> int:
    if len(text) > 400:     # far beyond any count or seed; int() on long text is slow
        raise _Bad(f"header holds an integer of {len(text)} digits")
    return int(text)


def _parse_header(raw: bytes) -> dict:
    problem = _header_problem(raw)
    if problem:
        raise _Bad(problem)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _Bad(f"header is not UTF-8 ({e.reason} at byte {e.start})") from None
    try:
        header = json.loads(text, parse_int=_parse_int)
    except RecursionError:
        raise _Bad("header JSON is nested too deeply") from None
    except ValueError as e:
        if isinstance(e, NetlistError):
            raise
        raise _Bad(f"header is not valid JSON ({_one_line(e, 120)})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise _Bad("not a dlgn netlist file")
    version = header.get("version")
    if isinstance(version, bool) or version != FORMAT_VERSION:
        raise _Bad(f"netlist format version {version!r:.40}; this dlgn reads version "
                   f"{FORMAT_VERSION}")
    n_inputs, tau, meta = header.get("n_inputs"), header.get("tau"), header.get("meta", {})
    if isinstance(n_inputs, bool) or not isinstance(n_inputs, int):
        raise _Bad(f"malformed header: n_inputs is {n_inputs!r:.40}, not an int")
    if not 0 <= n_inputs <= MAX_NODES - 2:
        raise _Bad(f"n_inputs = {n_inputs} is outside 0..{MAX_NODES - 2} "
                   f"(node ids are int32)")
    if isinstance(tau, bool) or not isinstance(tau, (int, float)):
        raise _Bad(f"malformed header: tau is {tau!r:.40}, not a number")
    try:
        tau = float(tau)
    except OverflowError:
        tau = math.inf
    if not (math.isfinite(tau) and tau > 0):
        raise _Bad(f"malformed header: tau must be a positive finite number, got {tau}")
    if not isinstance(meta, dict):
        raise _Bad(f"malformed header: meta is a {type(meta).__name__}, not a JSON object")
    return {"n_inputs": n_inputs, "tau": tau, "meta": meta}


def _npy_head(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str):
    """Parse one member's ``.npy`` header without reading its data.

    Returns ``(shape, fortran_order, dtype, data_offset)``."""
    with zf.open(info) as fp:
        head = fp.read(min(info.file_size, _NPY_HEAD))
    b = io.BytesIO(head)
    try:
        version = _npy.read_magic(b)
    except ValueError:
        raise _Bad(f"member {name!r} is not a .npy array") from None
    if version == (1, 0):
        shape, fortran, dtype = _npy.read_array_header_1_0(b)
    elif version == (2, 0):
        shape, fortran, dtype = _npy.read_array_header_2_0(b)
    else:
        raise _Bad(f"member {name!r} is .npy version {version}, expected 1.0 or 2.0")
    return shape, fortran, dtype, b.tell()


def _member_dtype(name: str, dtype: np.dtype, want) -> np.dtype:
    want = np.dtype(want)
    if dtype.hasobject:
        raise _Bad(f"array {name!r} holds Python objects (a pickle); refused")
    if dtype not in (want.newbyteorder("<"), want.newbyteorder(">")):
        raise _Bad(f"array {name!r} has dtype {dtype}, expected {want}")
    return dtype


def _read_data(zf, name, info, shape, fortran, dtype, offset) -> np.ndarray:
    """Read exactly the bytes the (already bounded) header announces, in chunks."""
    nbytes = info.file_size - offset
    data = np.empty(nbytes, dtype=np.uint8)
    with zf.open(info) as fp:
        fp.read(offset)
        pos = 0
        while pos < nbytes:
            chunk = fp.read(min(_CHUNK, nbytes - pos))
            if not chunk:
                raise _Bad(f"array {name!r} is truncated")
            data[pos:pos + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
            pos += len(chunk)
        if fp.read(1):     # also completes the CRC-32 check of the member
            raise _Bad(f"array {name!r} is longer than its header says")
    a = data.view(dtype)
    if fortran and len(shape) > 1:
        a = a.reshape(shape[::-1]).T
    else:
        a = a.reshape(shape)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return np.ascontiguousarray(a)


def _read_file(path: str):
    """The bounded reader behind :meth:`Netlist.load`: ``(header, arrays)``."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        magic = f.read(6)
        if magic == b"\x93NUMPY":
            raise _Bad("a plain .npy array, not a .dlgn.npz netlist archive")
        # Bound the central directory before zipfile parses it (a 10 MB directory of empty
        # entries takes zipfile seconds).  _EndRecData is the finder zipfile itself uses.
        find_end = getattr(zipfile, "_EndRecData", None)
        if find_end is not None:
            end = find_end(f)
            if end is None:
                raise _Bad("not a netlist archive (no zip end-of-central-directory record)")
            if end[zipfile._ECD_SIZE] > _MAX_CENTRAL_DIR:
                raise _Bad(f"zip central directory of {end[zipfile._ECD_SIZE]:,} bytes; a "
                           f"netlist archive has 7 members")
        f.seek(0)
        with zipfile.ZipFile(f) as zf:
            infos = zf.infolist()
            if len(infos) > 64:
                raise _Bad(f"{len(infos)} archive members; a netlist archive has 7")
            by_name = {}
            for info in infos:
                if info.filename in by_name:
                    raise _Bad(f"archive member {info.filename!r} appears twice")
                by_name[info.filename] = info
            wanted = ["header", *_ARRAYS]
            missing = [n for n in wanted if n + ".npy" not in by_name]
            if missing:
                raise _Bad(f"not a dlgn netlist file (missing {', '.join(sorted(missing))})")
            heads = {}
            for name in wanted:
                info = by_name[name + ".npy"]
                if info.compress_type != zipfile.ZIP_STORED:
                    raise _Bad(f"member {name!r} is compressed (method {info.compress_type}); "
                               f"netlist archives are stored uncompressed")
                if info.flag_bits & 0x1:
                    raise _Bad(f"member {name!r} is encrypted")
                if info.compress_size != info.file_size \
                        or info.header_offset + 30 + info.file_size > size:
                    raise _Bad(f"member {name!r} claims {info.file_size:,} bytes, more than "
                               f"the file holds")
                shape, fortran, dtype, offset = _npy_head(zf, info, name)
                dtype = _member_dtype(name, dtype, np.uint8 if name == "header"
                                      else _ARRAYS[name])
                want_ndim = 2 if name == "fanin" else 1
                if len(shape) != want_ndim:
                    raise _Bad(f"array {name!r} must be {want_ndim}-D, got shape {shape}")
                if any(isinstance(d, bool) or d < 0 or d > MAX_NODES for d in shape):
                    raise _Bad(f"array {name!r} has an impossible shape {shape}")
                if offset + dtype.itemsize * math.prod(shape) != info.file_size:
                    raise _Bad(f"array {name!r} claims shape {shape} ({dtype}) but its "
                               f"member holds {info.file_size - offset:,} data bytes")
                heads[name] = (info, shape, fortran, dtype, offset)

            # Every count agrees and is bounded before any data is read.
            (L,) = heads["header"][1]
            if L > MAX_HEADER_BYTES:
                raise _Bad(f"header is {L:,} bytes, more than {MAX_HEADER_BYTES:,}")
            G, K = heads["fanin"][1]
            if not 1 <= K <= MAX_ARITY:
                raise _Bad(f"fanin width K={K} is outside 1..{MAX_ARITY}")
            for name in ("arity", "table"):
                if heads[name][1] != (G,):
                    raise _Bad(f"fanin has {G} rows but {name} has shape {heads[name][1]}")
            (O,) = heads["outputs"][1]
            if heads["invert"][1] != (O,):
                raise _Bad(f"{O} outputs but invert has shape {heads['invert'][1]}")
            header = _parse_header(_read_data(zf, "header", *heads["header"]).tobytes())
            if header["n_inputs"] > MAX_NODES - 2 - G:
                raise _Bad(f"n_nodes = 2 + {header['n_inputs']} inputs + {G} gates exceeds "
                           f"{MAX_NODES} (node ids are int32)")
            arrays = {name: _read_data(zf, name, *heads[name]) for name in _ARRAYS}
    inv = arrays["invert"]
    if inv.size and int(inv.view(np.uint8).max()) > 1:
        raise _Bad("array 'invert' holds bool bytes other than 0 and 1")
    return header, arrays
