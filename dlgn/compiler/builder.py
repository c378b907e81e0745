"""The one netlist constructor: every producer and every pass builds through it.

A netlist under construction is addressed by **literals**: ``2 * node + negated``, where a
node is constant 0 (node 0), constant 1 (node 1), a primary input (nodes ``2 ..
1 + n_inputs``) or a gate made so far.  :data:`FALSE` = 0 (node 0) and :data:`TRUE` = 2
(node 1); literals 1 and 3 (negated constants) are accepted and mean the other constant
(a fan-in reads the other constant node; an output keeps the node and its ``invert``).
The literal of input ``i`` is ``2 * (2 + i)``.  A negated literal costs
nothing: the builder absorbs it into the reading gate's table, or into the output's
``invert`` flag.

``add(fanin_lits[n, k], tables[n])`` makes ``n`` gates at once (numpy, no Python loop over
gates) and returns their literals.  Every fan-in must be a literal made before the call, so
gates of one call never read each other: one call is one "level" of work, and a rebuild is
a short loop over the old netlist's levels.  With ``rewrite=True`` (the default) ``add``
guarantees, for every gate it is given, that the returned literal computes that gate's
function of its fan-in literals and that

* constant fan-ins are cofactored into the table and dropped (``const``);
* fan-ins that read one node twice are merged (``dup``) and fan-ins the table ignores are
  dropped (``support``), so a made gate depends on every fan-in it keeps;
* a gate left constant is the constant literal, one computing ``x`` is ``x``'s literal
  (``bypass``), one computing ``NOT x`` is ``x``'s negated literal (``absorb``);
* every other gate is stored in the polarity whose table is 0 on the all-zeros input (the
  complement moves to the returned literal, so complementary gates hash alike), with its
  fan-ins sorted canonically by (level, node id) (``strash``);
* a gate structurally identical (arity, fan-ins, table) to one made before, in this call or
  an earlier one, is not made again: its literal is returned (hash matches are verified
  exactly, so a collision never merges two different gates).

``rewrite`` may also be a collection of the flag names in :data:`FLAGS` (one pass each);
with ``rewrite=False`` gates are appended as given (negated fan-ins still absorbed).
Gates are stored in the order they are made, so the netlist stays topologically ordered;
gates that end up unread stay (dead-gate elimination removes them).  ``finish(outputs,
group_sizes, tau, meta)`` returns the :class:`~dlgn.compiler.netlist.Netlist`.

The table rewrites are those of :mod:`dlgn.compiler.tables` (fix, negate, identify and
select inputs).  Two-input gates take a lookup-table fast path built by running the general
path on every case (and tested equal to it); work runs in chunks of ``_CHUNK`` gates so the
scratch memory stays bounded.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .gates import MAX_ARITY
from .netlist import Netlist, NetlistError
from .tables import explode, fix_inputs, identify_inputs, implode, negate_inputs, \
    select_inputs, support

__all__ = ["NetlistBuilder", "FLAGS", "FALSE", "TRUE", "BuilderError"]

FLAGS = ("const", "dup", "support", "strash", "bypass", "absorb")
FALSE, TRUE = 0, 2
COUNTERS = ("constants", "wires", "inverters", "duplicates", "complemented",
            "constant_fanins", "duplicate_fanins", "unused_fanins", "reordered_fanins")
_C1 = np.uint64(0x9E3779B97F4A7C15)
_C2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P = tuple(np.uint64(p) for p in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x94D049BB133111EB,
                                  0xBF58476D1CE4E5B9, 0xD6E8FEB86659FD93, 0xA0761D6478BD642F))
_CHUNK = 1 << 14  # gates per vectorized step (bounds the scratch memory)
_BIG = np.int64(1) << 62


class BuilderError(NetlistError):
    """A gate handed to :class:`NetlistBuilder` is malformed (bad literal, arity, table)."""


def _flags(rewrite) -> dict:
    if rewrite is True:
        return {f: True for f in FLAGS}
    if rewrite is False or rewrite is None:
        return {f: False for f in FLAGS}
    if isinstance(rewrite, str) or not isinstance(rewrite, Iterable):
        raise BuilderError(f"rewrite must be True, False or a collection of {FLAGS}")
    names = set(rewrite)
    bad = names - set(FLAGS)
    if bad:
        raise BuilderError(f"unknown rewrite flags {sorted(bad)}; known: {', '.join(FLAGS)}")
    return {f: f in names for f in FLAGS}


def _mask(k):
    """All-ones table per arity (uint64), vectorized."""
    k = np.asarray(k, dtype=np.int64)
    return np.where(k >= 6, np.uint64(0xFFFFFFFFFFFFFFFF),
                    (np.uint64(1) << (np.uint64(1) << np.minimum(k, 5).astype(np.uint64)))
                    - np.uint64(1))


# --------------------------------------------------------------------------- one arity
_PER = ("constant_fanins", "duplicate_fanins", "unused_fanins", "reordered_fanins")


def _group(node, neg, table, k, fl, nlev):
    """Rewrite n gates of arity k whose fan-ins are literals (node, neg) [n, k] (constant
    fan-ins are nodes 0/1, never negated).  Returns (arity', fan-in' [n, k], table',
    per-gate counts int64[n, 4] of :data:`_PER`) with the kept fan-ins first."""
    n = node.shape[0]
    cols = np.arange(k)[None, :]
    bits = explode(table, k)
    if neg.any():
        bits = negate_inputs(bits, k, neg.astype(bool))
    is_const = (node < 2) if fl["const"] else np.zeros((n, k), dtype=bool)
    if is_const.any():
        bits = fix_inputs(bits, k, is_const, node == 1)
    rep = np.broadcast_to(np.arange(k), (n, k)).copy()
    if fl["dup"]:
        for j in range(1, k):
            for i in range(j - 1, -1, -1):
                same = (node[:, i] == node[:, j]) & ~is_const[:, j]
                rep[same, j] = rep[same, i]
    dup = rep != cols
    if dup.any():
        bits = identify_inputs(bits, k, rep)
    drop = is_const | dup
    per = np.zeros((n, 4), dtype=np.int64)
    per[:, 0] = is_const.sum(axis=1)
    per[:, 1] = dup.sum(axis=1)
    if fl["support"]:
        nodep = ~support(bits, k) & ~drop
        per[:, 2] = nodep.sum(axis=1)
        drop |= nodep
    keep = ~drop
    newk = keep.sum(axis=1).astype(np.int64)
    # canonical order: by (new level, node id), which renumbering by level keeps
    key = (nlev[node].astype(np.int64) << 32) | node if fl["strash"] else \
        np.broadcast_to(np.arange(k), (n, k))
    key = np.where(keep, key, _BIG)
    if k == 2:  # fast path of argsort
        sw = key[:, 1] < key[:, 0]
        perm = np.where(sw[:, None], np.array([[1, 0]]), np.array([[0, 1]]))
    else:
        perm = np.argsort(key, axis=1, kind="stable")  # kept inputs first
    per[:, 3] = (np.take_along_axis(keep, perm, axis=1) & (perm != cols)).any(axis=1)
    newt = implode(select_inputs(bits, k, perm, newk))
    fan = np.take_along_axis(node, perm, axis=1)
    fan = np.where(cols < newk[:, None], fan, 0)
    return newk, fan, newt, per


_FAST2 = {}  # flags -> lookup tables of the two-input fast path


def _fast2_tables(fl):
    """Lookup tables for two-input gates, built by running :func:`_group` on every case.

    A case (code < 1024) is: table (4 bits) | state of input 0 << 4 | state of input 1 << 6
    | same node << 8 | swap << 9, a state being 0 (x), 1 (NOT x), 2 (constant 0) or
    3 (constant 1), swap meaning that input 1 sorts before input 0."""
    key = tuple(fl[f] for f in ("const", "dup", "support", "strash"))
    if key in _FAST2:
        return _FAST2[key]
    code = np.arange(1024, dtype=np.int64)
    t = (code & 15).astype(np.uint64)
    st = [(code >> 4) & 3, (code >> 6) & 3]
    same = (code >> 8) & 1
    sw = (code >> 9) & 1
    var = [(x < 2) for x in st]
    node = np.zeros((1024, 2), dtype=np.int64)
    neg = np.zeros((1024, 2), dtype=np.int64)
    for i in range(2):
        node[:, i] = np.where(var[i], np.where(sw == 1, 11 - i, 10 + i), st[i] - 2)
        neg[:, i] = np.where(var[i], st[i], 0)
    both = var[0] & var[1] & (same == 1)
    node[both, 1] = node[both, 0]
    f2 = dict(fl, const=True)  # states 2/3 are the constants the caller passes only
    nk, f_, nt, per = _group(node, neg, t, 2, f2, np.zeros(12, dtype=np.int32))
    pos = np.where(f_ == node[:, :1], 0, 1)
    _FAST2[key] = (nk, nt, pos, per)
    return _FAST2[key]


def _group2(node, neg, table, fl, nlev):
    """:func:`_group` for two-input gates through the lookup tables (same results)."""
    nk, nt, pos, per = _fast2_tables(fl)
    cst = (node < 2) if fl["const"] else np.zeros(node.shape, dtype=bool)
    stt = np.where(cst, 2 + node, neg)
    same = (node[:, 0] == node[:, 1]) & ~cst[:, 0] & ~cst[:, 1] if fl["dup"] else \
        np.zeros(node.shape[0], dtype=bool)
    if fl["strash"]:
        k0 = (nlev[node[:, 0]].astype(np.int64) << 32) | node[:, 0]
        k1 = (nlev[node[:, 1]].astype(np.int64) << 32) | node[:, 1]
        sw = (k1 < k0) & ~same
    else:
        sw = np.zeros(node.shape[0], dtype=bool)
    code = (table.astype(np.int64) | (stt[:, 0] << 4) | (stt[:, 1] << 6)
            | (same.astype(np.int64) << 8) | (sw.astype(np.int64) << 9))
    newk = nk[code]
    fan = np.zeros(node.shape, dtype=np.int64)
    for j in range(2):
        fan[:, j] = np.where(newk > j, np.where(pos[code, j] == 0, node[:, 0], node[:, 1]), 0)
    return newk, fan, nt[code], per[code]


# --------------------------------------------------------------------------- the builder
class NetlistBuilder:
    """The hashing, folding netlist constructor (see the module docstring)."""

    FALSE = FALSE
    TRUE = TRUE

    def __init__(self, n_inputs: int, *, rewrite=True, capacity: int = 0):
        if isinstance(n_inputs, bool) or not isinstance(n_inputs, (int, np.integer)) \
                or n_inputs < 0:
            raise BuilderError(f"n_inputs must be a non-negative int, got {n_inputs!r}")
        self.n_inputs = int(n_inputs)
        self.first = 2 + self.n_inputs
        self.flags = _flags(rewrite)
        self._rewrite = any(self.flags.values())
        self.counts = dict.fromkeys(COUNTERS, 0)
        cap = max(16, int(capacity))
        self._n = 0
        self._fan = np.zeros((cap, 1), dtype=np.int32)
        self._ar = np.zeros(cap, dtype=np.uint8)
        self._tab = np.zeros(cap, dtype=np.uint64)
        self._lev = np.zeros(self.first + cap, dtype=np.int32)  # level of every node
        self._store: dict = {}  # level -> (sorted hashes, node ids)
        self._pending: dict = {}  # level -> list of (hashes, ids) not merged into the store

    # ------------------------------------------------------------------ sizes
    @property
    def n_gates(self) -> int:
        return self._n

    @property
    def n_nodes(self) -> int:
        return self.first + self._n

    def input_lits(self) -> np.ndarray:
        """Literals of the primary inputs, int64[n_inputs]."""
        return 2 * np.arange(2, self.first, dtype=np.int64)

    def levels(self) -> np.ndarray:
        """Logic level of every node made so far (constants and inputs 0)."""
        return self._lev[:self.n_nodes].copy()

    # ------------------------------------------------------------------ seeding
    @classmethod
    def from_netlist(cls, net: Netlist, rewrite=True, *, check: bool = True):
        """A builder holding ``net``'s gates and ``lits[v]``, the literal of old node v.

        With ``rewrite=False`` the gates are copied as they are (same node ids); otherwise
        they are added one old level at a time, which is the folding rebuild.  ``check=False``
        skips validating ``net`` (for callers that just did)."""
        if check:
            net.check()
        b = cls(net.n_inputs, rewrite=rewrite, capacity=net.n_gates)
        G, first = net.n_gates, net.first_gate
        if not b._rewrite:
            b._append(net.fanin.astype(np.int64), net.arity, net.table, net.levels()[first:])
            return b, 2 * np.arange(net.n_nodes, dtype=np.int64)
        lit = np.empty(net.n_nodes, dtype=np.int64)
        lit[:first] = 2 * np.arange(first, dtype=np.int64)
        b.counts["moved"] = 0
        if G:
            lev = net.levels()[first:]
            order = np.argsort(lev, kind="stable")
            b.counts["moved"] = int((order != np.arange(G)).sum())
            bounds = (np.flatnonzero(np.diff(lev[order])) + 1).tolist()
            del lev
            for s, e in zip([0] + bounds, bounds + [G]):
                g = order[s:e]
                fan = net.fanin[g].astype(np.int64)
                ar = net.arity[g]
                used = np.arange(fan.shape[1])[None, :] < ar[:, None].astype(np.int64)
                lits = np.where(used, lit[fan], 0)
                lit[first + g] = b._add_checked(lits, net.table[g], ar.astype(np.int64))
        return b, lit

    # ------------------------------------------------------------------ adding gates
    def add(self, fanin_lits, tables, arity=None) -> np.ndarray:
        """Make gates ``(fanin_lits[i, :arity[i]], tables[i])``; return their literals.

        ``fanin_lits``: int[n, k] literals made before this call (k = 0..6); ``tables``:
        uint64[n] in the convention of :mod:`dlgn.compiler.gates`; ``arity``: per-gate
        arities <= k (default k; entries past a row's arity are ignored)."""
        lits = np.asarray(fanin_lits)
        tab = np.asarray(tables)
        if lits.ndim == 1 and lits.size == 0:
            lits = lits.reshape(tab.reshape(-1).shape[0], 0)
        if lits.ndim != 2:
            raise BuilderError(f"fanin_lits must be 2-D [n, k], got shape {lits.shape}")
        n, k = lits.shape
        if k > MAX_ARITY:
            raise BuilderError(f"arity {k} exceeds the maximum of {MAX_ARITY}")
        if lits.dtype.kind not in "iub" or tab.dtype.kind not in "iub":
            raise BuilderError("fan-in literals and tables must be integer arrays")
        tab = tab.reshape(-1)
        if tab.shape[0] != n:
            raise BuilderError(f"{n} fan-in rows but {tab.shape[0]} tables")
        if arity is None:
            ar = np.full(n, k, dtype=np.int64)
        else:
            ar = np.asarray(arity).reshape(-1).astype(np.int64)
            if ar.shape[0] != n or (n and (ar.min() < 0 or ar.max() > k)):
                raise BuilderError(f"arity must be {n} values in 0..{k}")
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        lits = lits.astype(np.int64)
        used = np.arange(k)[None, :] < ar[:, None]
        if k and ((lits < 0) | (lits >= 2 * self.n_nodes))[used].any():
            bad = lits[used][(lits[used] < 0) | (lits[used] >= 2 * self.n_nodes)][0]
            raise BuilderError(f"fan-in literal {int(bad)} is not a literal made so far "
                               f"(0..{2 * self.n_nodes - 1})")
        if (tab.dtype.kind == "i" and (tab < 0).any()):
            raise BuilderError("truth tables must be non-negative")
        tab = tab.astype(np.uint64)
        if ((tab & ~_mask(ar)) != 0).any():
            g = int(np.flatnonzero((tab & ~_mask(ar)) != 0)[0])
            raise BuilderError(f"gate {g}: table {int(tab[g]):#x} is wider than its "
                               f"{1 << int(ar[g])} entries")
        return self._add_checked(np.where(used, lits, 0), tab, ar)

    def add_named(self, lit: dict, rows) -> None:
        """Add gates given by name, for readers of text formats: ``rows`` is a list of
        ``(name, fan-in names, table)`` whose fan-ins are all keys of ``lit`` (name ->
        literal); the new gates' literals are stored in ``lit`` under their names.  Rows of
        one call must not read each other (group them by level)."""
        if not rows:
            return
        K = max(1, max(len(ins) for _, ins, _ in rows))
        fan = np.zeros((len(rows), K), dtype=np.int64)
        for r, (_, ins, _) in enumerate(rows):
            fan[r, :len(ins)] = [lit[x] for x in ins]
        made = self.add(fan, np.array([t for _, _, t in rows], dtype=np.uint64),
                        arity=[len(ins) for _, ins, _ in rows])
        lit.update(zip((name for name, _, _ in rows), made.tolist()))

    def _add_checked(self, lits, tab, ar):
        """:meth:`add` on validated arrays (fan-ins past a row's arity already 0)."""
        n = lits.shape[0]
        out = np.empty(n, dtype=np.int64)
        parts = []  # gates to make, per chunk: (positions, fan-ins, arity, table, level)
        for a in range(0, n, _CHUNK):
            b = min(n, a + _CHUNK)
            out[a:b], part = self._add_chunk(lits[a:b], tab[a:b], ar[a:b])
            if part[0].size:
                parts.append((part[0] + a,) + part[1:])
        if parts:  # one hashing step for the whole call
            pos = np.concatenate([p[0] for p in parts])
            K = max(p[1].shape[1] for p in parts)
            fan = np.zeros((pos.size, K), dtype=np.int64)
            at = 0
            for p in parts:
                fan[at:at + p[0].size, :p[1].shape[1]] = p[1]
                at += p[0].size
            nodes = self._make(fan, *(np.concatenate([p[i] for p in parts]) for i in (2, 3, 4)))
            out[pos] = 2 * nodes + out[pos]
        return out

    def _add_chunk(self, lits, tab, ar):
        n, K = lits.shape
        fl, c = self.flags, self.counts
        newk = np.zeros(n, dtype=np.int64)
        fan = np.zeros((n, max(K, 1)), dtype=np.int64)
        newt = np.zeros(n, dtype=np.uint64)
        for k in np.unique(ar).tolist():
            sel = np.flatnonzero(ar == k)
            L = lits[sel, :k]
            node, neg = L >> 1, L & 1
            cn = (node < 2) & (neg == 1)  # a negated constant is the other constant
            node[cn] = 1 - node[cn]
            neg[cn] = 0
            if not self._rewrite:
                t = tab[sel]
                if k and neg.any():
                    t = implode(negate_inputs(explode(t, k), k, neg.astype(bool)))
                nk, f = np.full(sel.size, k, dtype=np.int64), node
            elif k == 0:
                nk, f, t = np.zeros(sel.size, dtype=np.int64), node, tab[sel]
            else:
                nk, f, t, per = (_group2(node, neg, tab[sel], fl, self._lev) if k == 2 else
                                 _group(node, neg, tab[sel], k, fl, self._lev))
                for name, v in zip(_PER, per.sum(axis=0).tolist()):
                    c[name] += v
            newk[sel], newt[sel] = nk, t
            fan[sel, :k] = f
        res = np.full(n, -1, dtype=np.int64)
        mask = _mask(newk)
        if fl["const"]:  # no inputs left, or a table that ignores all of them
            z = (newk == 0) | (newt == 0) | (newt == mask)
            res[z] = 2 * (newt[z] & np.uint64(1)).astype(np.int64)
            c["constants"] += int(z.sum())
        one = (newk == 1) & (res < 0)
        if fl["bypass"]:
            w = one & (newt == np.uint64(2))
            res[w] = 2 * fan[w, 0]
            c["wires"] += int(w.sum())
        outneg = np.zeros(n, dtype=bool)
        if fl["absorb"]:
            inv = one & (newt == np.uint64(1))
            res[inv] = 2 * fan[inv, 0] + 1
            c["inverters"] += int(inv.sum())
            outneg = (res < 0) & ((newt & np.uint64(1)) == np.uint64(1))
            newt[outneg] ^= mask[outneg]
            c["complemented"] += int(outneg.sum())
        mk = np.flatnonzero(res < 0)
        used = np.arange(fan.shape[1])[None, :] < newk[mk, None]
        lv = np.where(used, self._lev[fan[mk]], 0).max(axis=1, initial=0) + 1
        res[mk] = outneg[mk]  # the caller adds 2 * node
        return res, (mk, fan[mk], newk[mk], newt[mk], lv)

    def _make(self, fan, ar, tab, lv):
        """Node ids for gates (already rewritten): existing identical gates or new ones."""
        m = ar.shape[0]
        if not self.flags["strash"]:
            return self._append(fan, ar, tab, lv)
        h = _hash(ar, fan, tab)
        rep = _reps(h, ar, fan, tab)
        R = np.flatnonzero(rep == np.arange(m))
        target = np.full(m, -1, dtype=np.int64)
        target[R] = self._lookup(h[R], lv[R], fan[R], ar[R], tab[R])
        new = R[target[R] < 0]
        target[new] = self._append(fan[new], ar[new], tab[new], lv[new])
        self._insert(h[new], lv[new], target[new])
        self.counts["duplicates"] += int(m - new.size)
        return target[rep]

    def _append(self, fan, ar, tab, lv):
        m = ar.shape[0]
        need = self._n + m
        K = int(max(self._fan.shape[1], fan.shape[1] if m else 1))
        if need > self._ar.shape[0] or K > self._fan.shape[1]:
            cap = max(need, 2 * self._ar.shape[0]) if need > self._ar.shape[0] \
                else self._ar.shape[0]
            f2 = np.zeros((cap, K), dtype=np.int32)
            f2[:self._n, :self._fan.shape[1]] = self._fan[:self._n]
            self._fan = f2
            for name in ("_ar", "_tab"):
                old = getattr(self, name)
                new = np.zeros(cap, dtype=old.dtype)
                new[:self._n] = old[:self._n]
                setattr(self, name, new)
            lev = np.zeros(self.first + cap, dtype=np.int32)
            lev[:self.n_nodes] = self._lev[:self.n_nodes]
            self._lev = lev
        s = self._n
        if m:
            self._fan[s:need, :fan.shape[1]] = fan
            self._ar[s:need] = ar
            self._tab[s:need] = tab
            self._lev[self.first + s:self.first + need] = lv
        self._n = need
        return self.first + s + np.arange(m, dtype=np.int64)

    # ------------------------------------------------------------------ hashing store
    def _lookup(self, h, lv, fan, ar, tab):
        """Node ids of gates made earlier identical to the given gates (-1: none)."""
        found = np.full(h.size, -1, dtype=np.int64)
        first = self.first
        for lvl in np.unique(lv).tolist():
            st = self._sorted(lvl)
            if st is None:
                continue
            hs, ids = st
            sel = np.flatnonzero(lv == lvl)
            at = np.minimum(np.searchsorted(hs, h[sel]), hs.size - 1)
            hit = hs[at] == h[sel]
            sel, cand = sel[hit], ids[at[hit]].astype(np.int64) - first
            K = min(fan.shape[1], self._fan.shape[1])
            same = (self._tab[cand] == tab[sel]) & (self._ar[cand] == ar[sel]) & \
                (self._fan[cand, :K] == fan[sel, :K]).all(axis=1)
            if fan.shape[1] > K:
                same &= (fan[sel, K:] == 0).all(axis=1)
            found[sel[same]] = cand[same] + first
            # a hash shared by several stored gates: look at the others too (rare)
            miss = sel[~same]
            if miss.size:
                lo = np.searchsorted(hs, h[miss], side="left")
                hi = np.searchsorted(hs, h[miss], side="right")
                for i, a, b in zip(miss.tolist(), lo.tolist(), hi.tolist()):
                    for j in range(a + 1, b):
                        g = int(ids[j]) - first
                        if self._tab[g] == tab[i] and self._ar[g] == ar[i] and \
                                (self._fan[g, :K] == fan[i, :K]).all():
                            found[i] = g + first
                            break
        return found

    def _sorted(self, lvl):
        pend = self._pending.pop(lvl, None)
        if pend:
            hn = np.concatenate([p[0] for p in pend])
            idn = np.concatenate([p[1] for p in pend])
            if lvl in self._store:
                hn = np.concatenate([self._store[lvl][0], hn])
                idn = np.concatenate([self._store[lvl][1], idn])
            o = np.argsort(hn, kind="stable")
            self._store[lvl] = (hn[o], idn[o])
        return self._store.get(lvl)

    def _insert(self, h, lv, ids):
        """Add made gates (hash, level, node id) to the per-level stores (merged lazily)."""
        for lvl in np.unique(lv).tolist():
            sel = lv == lvl
            self._pending.setdefault(lvl, []).append((h[sel], ids[sel].astype(np.int64)))

    # ------------------------------------------------------------------ finishing
    def finish(self, outputs, group_sizes=None, tau: float = 1.0, meta=None, *,
               check: bool = True) -> Netlist:
        """The netlist of the gates made so far with ``outputs`` (literals; a negated one
        becomes an ``invert`` flag) and the GroupSum head ``group_sizes``.  The gates are
        valid by construction; ``check=False`` skips re-validating the whole netlist."""
        o = np.asarray(outputs).reshape(-1)
        if o.size and o.dtype.kind not in "iu":
            raise BuilderError("outputs must be integer literals")
        o = o.astype(np.int64)
        if o.size and ((o < 0) | (o >= 2 * self.n_nodes)).any():
            bad = int(o[(o < 0) | (o >= 2 * self.n_nodes)][0])
            raise BuilderError(f"output literal {bad} is not a literal made so far")
        n = self._n
        K = max(1, int(self._ar[:n].max(initial=0)))
        fan = self._fan[:n, :K].copy()
        if K > self._fan.shape[1]:
            fan = np.zeros((n, K), dtype=np.int32)
            fan[:, :self._fan.shape[1]] = self._fan[:n]
        net = Netlist(self.n_inputs, fan, self._ar[:n].copy(), self._tab[:n].copy(),
                      (o >> 1).astype(np.int64), (o & 1).astype(bool),
                      np.zeros(0, dtype=np.int32) if group_sizes is None else group_sizes,
                      tau, dict(meta or {}))
        return net.check() if check else net


def _hash(ar, fan, tab):
    """64-bit hash of (arity, fan-ins, table); a zero column adds nothing, so the hash does
    not depend on the width of the fan-in array."""
    x = tab * _C1 ^ ar.astype(np.uint64) * _C2
    for j in range(fan.shape[1]):
        x ^= fan[:, j].astype(np.uint64) * _P[j]
    x *= _C1
    x ^= x >> np.uint64(29)
    x *= _C2
    x ^= x >> np.uint64(32)
    return x


def _reps(h, ar, fan, tab):
    """For each gate, the index of the first structurally identical gate (exact)."""
    n = h.size
    o = np.argsort(h, kind="stable")
    hs = h[o]
    start = np.empty(n, dtype=bool)
    start[0] = True
    np.not_equal(hs[1:], hs[:-1], out=start[1:])
    grp = np.where(start, np.arange(n), 0)
    np.maximum.accumulate(grp, out=grp)
    rep = np.empty(n, dtype=np.int64)
    rep[o] = o[grp]  # stable sort: the group's first member has the smallest index
    if not ((tab[rep] == tab) & (ar[rep] == ar) & (fan[rep] == fan).all(axis=1)).all():
        # a 64-bit hash collision: do it exactly
        key = np.ascontiguousarray(np.column_stack([ar.astype(np.int64), tab.view(np.int64),
                                                    fan]))
        _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
        rep = first[inv.reshape(-1)]
    return rep
