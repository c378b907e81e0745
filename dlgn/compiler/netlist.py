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
and names the first violation.

File format (``.dlgn.npz``, version 1): an uncompressed numpy ``.npz`` archive holding the
arrays above under their names plus ``header``, a uint8 array with UTF-8 JSON
``{"format": "dlgn-netlist", "version": 1, "n_inputs": ..., "tau": ..., "meta": {...}}``.
It is read with ``allow_pickle=False``; anything else raises :class:`NetlistFormatError`.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import zipfile
from dataclasses import dataclass, field

import numpy as np

from .atomic import write_bytes_atomic
from .gates import MAX_ARITY

__all__ = ["Netlist", "NetlistError", "NetlistFormatError", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "dlgn-netlist"
FORMAT_VERSION = 1
_ARRAYS = {"fanin": np.int32, "arity": np.uint8, "table": np.uint64,
           "outputs": np.int32, "invert": np.bool_, "group_sizes": np.int32}
_MAX_FILE_NODES = 1 << 31


class NetlistError(ValueError):
    """A Netlist violates one of its invariants."""


class NetlistFormatError(NetlistError):
    """A netlist file is missing, truncated, corrupt, of another version or hostile."""


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
        self.n_inputs = int(self.n_inputs)
        fanin = np.asarray(self.fanin)
        if fanin.ndim == 1 and fanin.size == 0:
            fanin = fanin.reshape(0, 1)
        self.fanin = np.ascontiguousarray(fanin, dtype=np.int32)
        self.arity = np.ascontiguousarray(self.arity, dtype=np.uint8).reshape(-1)
        self.table = np.ascontiguousarray(self.table, dtype=np.uint64).reshape(-1)
        self.outputs = np.ascontiguousarray(self.outputs, dtype=np.int32).reshape(-1)
        if self.invert is None:
            self.invert = np.zeros(self.outputs.shape[0], dtype=bool)
        self.invert = np.ascontiguousarray(self.invert, dtype=bool).reshape(-1)
        if self.group_sizes is None:
            self.group_sizes = np.zeros(0, dtype=np.int32)
        self.group_sizes = np.ascontiguousarray(self.group_sizes, dtype=np.int32).reshape(-1)
        self.tau = float(self.tau)
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

        if self.n_inputs < 0:
            fail(f"n_inputs is {self.n_inputs}")
        if self.fanin.ndim != 2:
            fail(f"fanin must be 2-D [G, K], got shape {self.fanin.shape}")
        G, K = self.fanin.shape
        if not 1 <= K <= MAX_ARITY:
            fail(f"fanin width K={K} is outside 1..{MAX_ARITY}")
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
        if not (math.isfinite(self.tau) and self.tau > 0):
            fail(f"tau must be a positive finite number, got {self.tau}")
        try:
            json.dumps(self.meta)
        except (TypeError, ValueError) as e:
            fail(f"meta is not JSON-serializable: {e}")
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

    def depth(self) -> int:
        return int(self.levels().max(initial=0))

    def copy(self) -> "Netlist":
        return Netlist(self.n_inputs, self.fanin.copy(), self.arity.copy(), self.table.copy(),
                       self.outputs.copy(), self.invert.copy(), self.group_sizes.copy(),
                       self.tau, json.loads(json.dumps(self.meta)))

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
                             "n_inputs": self.n_inputs, "tau": self.tau, "meta": self.meta},
                            sort_keys=True).encode()
        buf = io.BytesIO()
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        np.savez(buf, header=np.frombuffer(header, dtype=np.uint8), **arrays)
        write_bytes_atomic(path, buf.getvalue())

    @classmethod
    def load(cls, path) -> "Netlist":
        """Read a file written by :meth:`save`; raise :class:`NetlistFormatError` otherwise."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise NetlistFormatError(f"{path}: no such netlist file")
        try:
            with np.load(path, allow_pickle=False) as z:
                names = set(z.files)
                missing = ({"header"} | set(_ARRAYS)) - names
                if missing:
                    raise NetlistFormatError(
                        f"{path}: not a dlgn netlist file (missing {', '.join(sorted(missing))})")
                header = json.loads(bytes(z["header"].astype(np.uint8)).decode("utf-8"))
                if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
                    raise NetlistFormatError(f"{path}: not a dlgn netlist file")
                if header.get("version") != FORMAT_VERSION:
                    raise NetlistFormatError(
                        f"{path}: netlist format version {header.get('version')!r}; this dlgn "
                        f"reads version {FORMAT_VERSION}")
                arrays = {}
                for name, dtype in _ARRAYS.items():
                    a = z[name]
                    if a.dtype != np.dtype(dtype):
                        raise NetlistFormatError(
                            f"{path}: array {name!r} has dtype {a.dtype}, expected {np.dtype(dtype)}")
                    if a.size > _MAX_FILE_NODES:
                        raise NetlistFormatError(f"{path}: array {name!r} is implausibly large")
                    arrays[name] = a
                n_inputs = header.get("n_inputs")
                tau = header.get("tau")
                meta = header.get("meta", {})
                if not isinstance(n_inputs, int) or isinstance(n_inputs, bool) \
                        or not isinstance(tau, (int, float)) or not isinstance(meta, dict):
                    raise NetlistFormatError(f"{path}: malformed header")
        except NetlistFormatError:
            raise
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile,
                UnicodeDecodeError) as e:
            raise NetlistFormatError(f"{path}: unreadable netlist file ({e})") from e
        if arrays["fanin"].ndim != 2:
            raise NetlistFormatError(f"{path}: fanin must be 2-D")
        net = cls(n_inputs, tau=tau, meta=meta, **arrays)
        try:
            return net.check()
        except NetlistError as e:
            raise NetlistFormatError(f"{path}: {e}") from e
