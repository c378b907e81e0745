"""LUT-k mapping: cover the netlist with k-input lookup tables (k = 2..6).

The classic FPGA mapper (ABC's ``if``: priority cuts, depth-optimal mapping, area
recovery), over the flat IR and vectorized with numpy one logic level at a time:

1. **Normalize.**  Gates wider than ``k`` are Shannon-decomposed (a cofactor pair and a
   multiplexer); then the folding rebuild (:func:`~dlgn.compiler.passes.fold.fold`: no
   constants, wires, inverters, duplicate or unused fan-ins) and dead-gate elimination.
   Every gate of arity 1..k is one node of the subject graph, so a trained net's k-input
   gates are mapped as they are.
2. **Cuts.**  Nodes are visited level by level; all the nodes of one level (and arity)
   merge their fan-ins' cut sets at once with array operations: the pairs of cuts pass a
   64-bit signature filter, the survivors are merged exactly (sorted leaf lists), scored,
   de-duplicated and the best ``cuts`` per node are kept (*priority cuts*).  A node of
   arity a > 2 merges its fan-ins one after the other, keeping the best partial cuts.
3. **Depth.**  The first round orders cuts by (arrival, size, area flow): every node's
   arrival time is the best depth its cut sets reach, and the mapping's depth D is that of
   the deepest output.
4. **Area recovery.**  Required times are propagated from D back through the current cover;
   then ``area_rounds`` rounds of *area flow* (cuts ordered by area flow with fan-out
   estimates blended from the previous covers, as ABC does) and ``exact_rounds`` rounds of
   *exact local area* (the LUTs a cut adds to the current cover: its own plus, for every
   leaf that nothing else would reference once the node gives up its current cut, the
   area of that leaf's chosen cut; reference counts are kept exact, recursively, as nodes
   change cuts, and all candidates of a level are scored at once, so leaves shared by two
   cuts of one level are not seen; a round that ends with a larger cover is undone) each
   pick, for every node, the best cut that still meets its required time (the previous
   round's cut always does), so the depth stays D.
5. **Tables.**  Each chosen cut's truth table is computed by simulating its cone on the
   2^k leaf patterns (uint64 words, all cones at once, a logic level a step) and the LUTs are added
   through :class:`~dlgn.compiler.builder.NetlistBuilder` (folding: a LUT that ignores a
   leaf drops it, equal LUTs merge), one LUT level at a time.

Pre: ``net.check()`` holds; ``2 <= k <= 6``.  Post: the result computes the same outputs
(polarity applied) on every input, ``check()`` holds, every gate has arity <= k, outputs,
``invert``, ``group_sizes``, ``tau`` and ``meta`` are kept, and the depth is the depth the
cut sets reach (optimal over them).  The result is deterministic (same net, same bytes).

:func:`lut_map` returns a :class:`LutMapResult`: ``changes`` as every pass
(``absorbed``: gates fewer, ``rebuilt``: 1 unless the net came back unchanged) and
``stats``: ``luts``, ``depth``, ``gates_before``, ``depth_before``, ``k``, ``seconds``.
Unlike the clean-up passes it rewrites a clean net, so it is not in
:data:`~dlgn.compiler.passes.PASSES` (the pipeline's fixed point); call it after
:func:`~dlgn.compiler.optimize`.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from ..builder import NetlistBuilder
from ..gates import MAX_ARITY
from ..netlist import Netlist, NetlistError
from .base import PassResult, rebuild
from .dead import eliminate_dead

__all__ = ["lut_map", "LutMapResult", "LutMapError"]

log = logging.getLogger(__name__)

_INF = np.int32(1 << 30)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_CHUNK = 1 << 13  # nodes per vectorized merge (bounds the scratch memory)


class LutMapError(NetlistError):
    """A bad argument to :func:`lut_map` (k or the cut limit out of range)."""


@dataclass(frozen=True)
class LutMapResult(PassResult):
    """:class:`PassResult` plus ``stats`` (LUT count and depth, before and after)."""
    stats: dict = field(default_factory=dict)


def _int_arg(name, v, lo, hi):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise LutMapError(f"{name} must be an int in {lo}..{hi}, got {v!r}")
    if not lo <= int(v) <= hi:
        raise LutMapError(f"{name} must be in {lo}..{hi}, got {int(v)}")
    return int(v)


# --------------------------------------------------------------------------- normalizing
_MUX = np.uint64(0xCA)  # (s, a, b) -> s ? a : b


def _decompose(net: Netlist, k: int) -> Netlist:
    """The same function with every gate of arity > k Shannon-decomposed on its first
    input (cofactors of arity a-1, then a multiplexer: one 3-input gate, or three 2-input
    gates when k = 2)."""
    b = NetlistBuilder(net.n_inputs, rewrite=True, capacity=net.n_gates)
    first = net.first_gate
    lit = np.empty(net.n_nodes, dtype=np.int64)
    lit[:first] = 2 * np.arange(first, dtype=np.int64)
    lev = net.levels()[first:]
    order = np.argsort(lev, kind="stable")
    bounds = (np.flatnonzero(np.diff(lev[order])) + 1).tolist()

    def make(lits, tab, a):
        if a <= k:
            return b.add(lits[:, :a], tab)
        half = np.uint64(1 << (a - 1))
        lo_mask = (np.uint64(1) << half) - np.uint64(1)
        hi = make(lits[:, 1:], tab >> half, a - 1)
        lo = make(lits[:, 1:], tab & lo_mask, a - 1)
        s = lits[:, 0]
        if k >= 3:
            return b.add(np.stack([s, hi, lo], axis=1), np.full(s.size, _MUX))
        t1 = b.add(np.stack([s, hi], axis=1), np.full(s.size, np.uint64(8)))
        t0 = b.add(np.stack([s, lo], axis=1), np.full(s.size, np.uint64(2)))
        return b.add(np.stack([t1, t0], axis=1), np.full(s.size, np.uint64(14)))

    for s, e in zip([0] + bounds, bounds + [net.n_gates]):
        g = order[s:e]
        ar = net.arity[g].astype(np.int64)
        for a in np.unique(ar).tolist():
            ga = g[ar == a]
            lits = lit[net.fanin[ga, :a].astype(np.int64)] if a else \
                np.zeros((ga.size, 0), dtype=np.int64)
            lit[first + ga] = make(lits, net.table[ga], a)
    out = lit[net.outputs.astype(np.int64)] ^ net.invert.astype(np.int64)
    return b.finish(out, net.group_sizes.copy(), net.tau, net.meta, check=False)


def _normalize(net: Netlist, k: int) -> Netlist:
    if net.n_gates and int(net.arity.max()) > k:
        net = _decompose(net, k)
    net = rebuild(net, ("const", "dup", "support", "strash", "bypass", "absorb")).net
    return eliminate_dead(net).net


# --------------------------------------------------------------------------- cut merging
def _mix(n: int) -> np.ndarray:
    """A random-looking 64-bit value per node id (splitmix64), 0 for the sentinel n."""
    x = np.arange(n + 1, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    x[n] = 0
    return x


def _cols(op, X):
    """``op`` reduced over the (few) columns of X[m, c], column by column (a reduction
    along a short last axis is slow in numpy)."""
    out = X[:, 0].copy()
    for c in range(1, X.shape[1]):
        op(out, X[:, c], out=out)
    return out


def _count(B):
    """Number of True entries per row of a bool[m, c]."""
    return _cols(np.add, B.view(np.uint8)).astype(np.int64) if B.shape[1] < 256 else \
        B.sum(axis=1)


def _unique_sorted(x):
    """np.unique of an int64 array, by sorting (faster than hashing here)."""
    x = np.sort(x)
    if x.size:
        keep = np.ones(x.size, dtype=bool)
        np.not_equal(x[1:], x[:-1], out=keep[1:])
        x = x[keep]
    return x


def _union(A: np.ndarray, B: np.ndarray, k: int, S: int):
    """Sorted unions of leaf lists A, B int32[m, k] (ascending, padded with S): the first k
    leaves of each union (padded with S) and its size."""
    C = np.concatenate([A, B], axis=1)
    C.sort(axis=1)
    dup = np.zeros(C.shape, dtype=bool)
    np.equal(C[:, 1:], C[:, :-1], out=dup[:, 1:])
    C[dup] = S
    size = _count(C != S)
    C.sort(axis=1)
    return C[:, :k], size


class _Mapper:
    def __init__(self, net: Netlist, k: int, cuts: int):
        self.net, self.k, self.C = net, k, cuts
        n = self.n = net.n_nodes
        self.S = n
        self.first = first = net.first_gate
        G = net.n_gates
        self.fan = np.full((n + 1, MAX_ARITY), n, dtype=np.int32)
        self.ar = np.zeros(n + 1, dtype=np.int64)
        self.tab = np.zeros(n + 1, dtype=np.uint64)
        if G:
            K = net.max_arity
            used = np.arange(K)[None, :] < net.arity[:, None].astype(np.int64)
            self.fan[first:n, :K] = np.where(used, net.fanin, n)
            self.ar[first:n] = net.arity
            self.tab[first:n] = net.table
        self.is_gate = np.zeros(n + 1, dtype=bool)
        self.is_gate[first:n] = True
        lev = net.levels()
        self.lev = np.append(lev, 0)
        # groups of gates: (level, arity) -> node ids
        gl = lev[first:].astype(np.int64)
        key = gl * 8 + net.arity.astype(np.int64)
        order = np.argsort(key, kind="stable")
        bounds = np.flatnonzero(np.diff(key[order])) + 1
        self.groups = [first + g for g in np.split(order, bounds)] if G else []
        self.levels = [] if not G else sorted(set(gl.tolist()))
        by_level: dict = {}
        for grp in self.groups:
            by_level.setdefault(int(lev[grp[0]]), []).append(grp)
        self.by_level = by_level
        self.mix = _mix(n)
        # cut storage: leaves (sorted, S-padded), signatures; slot 0 is the best cut
        self.cl = np.full((n + 1, cuts, k), n, dtype=np.int32)
        self.cs = np.zeros((n + 1, cuts), dtype=np.uint64)
        self.best = np.full((n + 1, k), n, dtype=np.int32)
        self.best[:first, 0] = np.arange(first)  # inputs: the trivial cut
        self.arr = np.zeros(n + 1, dtype=np.int64)
        self.flow = np.zeros(n + 1, dtype=np.float64)
        self.req = np.full(n + 1, _INF, dtype=np.int64)
        # fan-out estimates: structural fan-out (outputs count) to start with
        ref = np.bincount(self.fan[first:n].reshape(-1), minlength=n + 1).astype(np.float64)
        ref += np.bincount(net.outputs.astype(np.int64), minlength=n + 1)
        ref[n] = 0
        self.est = ref
        self.refs = np.zeros(n + 1, dtype=np.int64)
        self.mapped = np.zeros(n + 1, dtype=bool)
        self.mode = "depth"

    # ------------------------------------------------------------------ one node group
    def _fanin_set(self, f):
        """Cut sets of fan-in nodes f[n]: trivial cut first, then the stored cuts."""
        n, k, S = f.size, self.k, self.S
        L = np.full((n, self.C + 1, k), S, dtype=np.int32)
        L[:, 0, 0] = f
        L[:, 1:] = self.cl[f]
        sig = np.empty((n, self.C + 1), dtype=np.uint64)
        sig[:, 0] = np.uint64(1) << (f.astype(np.uint64) & np.uint64(63))
        sig[:, 1:] = self.cs[f]
        valid = L[:, :, 0] != S
        return L, sig, valid

    def _score(self, U, size, rows):
        """Depth, area flow, 50-bit sort key and 64-bit hash of candidate cuts U[m, k]."""
        d = _cols(np.maximum, self.arr[U]) + 1
        if self.mode == "exact":
            af = self._exact_area(U, rows)
        else:
            af = 1.0 + _cols(np.add, self.afd[U])
        mu = self.mix[U]
        h = _cols(np.bitwise_xor, mu * np.uint64(3) + (mu >> np.uint64(7)))
        hb = (h & np.uint64(0x7F)).astype(np.int64)
        sz = size.astype(np.int64)
        if self.mode == "depth":  # arrival, size, area flow
            afq = np.minimum(np.rint(af * 16.0), (1 << 20) - 1).astype(np.int64)
            key = (np.minimum(d, (1 << 20) - 1) << 30) | (sz << 27) | (afq << 7) | hb
        else:  # area flow, size, arrival
            afq = np.minimum(np.rint(af * 32.0), (1 << 27) - 1).astype(np.int64)
            key = (afq << 23) | (sz << 20) | (np.minimum(d, (1 << 13) - 1) << 7) | hb
        return d, af, key, h

    def _select(self, n, rows, U, size, sig, keep_n, pin=None, feasible=None):
        """Keep the best ``keep_n`` distinct candidates per row.  Candidates: rows[m] (row in
        0..n-1, n <= 2**13), U, size, sig.  ``pin``: bool[m] candidates that sort first;
        ``feasible(d, rows)``: candidates that meet the required time (a row with none
        keeps one anyway).  Returns (L[n, keep_n, k], sig[n, keep_n], valid, index of the
        chosen candidates [n, keep_n] (-1: none), d, af)."""
        k, S = self.k, self.S
        d, af, key, h = self._score(U, size, rows)
        late = (1 << 50) - 1
        if feasible is not None:
            key = np.where(feasible(d, rows), key, late)
        if pin is not None:
            key = np.where(pin, 0, key)
        comb = (rows.astype(np.int64) << 50) | key
        o = np.argsort(comb, kind="stable")
        cs, rs = comb[o], rows[o]
        hs = h[o]
        m = o.size
        head = np.ones(m, dtype=bool)
        np.not_equal(rs[1:], rs[:-1], out=head[1:])
        keep = ((cs & late) != late) | head   # a row of late cuts keeps its first
        keep[1:] &= ~((cs[1:] == cs[:-1]) & (hs[1:] == hs[:-1]))
        ck = np.cumsum(keep)
        start = np.flatnonzero(head)
        base = np.zeros(n, dtype=np.int64)
        rstart = rs[start]
        base[rstart] = ck[start] - keep[start]
        rank = ck - base[rs]
        sel = np.flatnonzero(keep & (rank <= keep_n))
        r, slot, ci = rs[sel], rank[sel] - 1, o[sel]
        chosen = np.full((n, keep_n), -1, dtype=np.int64)
        chosen[r, slot] = ci
        L = np.full((n, keep_n, k), S, dtype=np.int32)
        L[r, slot] = U[ci]
        sg = np.zeros((n, keep_n), dtype=np.uint64)
        sg[r, slot] = sig[ci]
        return L, sg, chosen >= 0, chosen, d, af

    def _merge_pairs(self, PL, PS, PV, QL, QS, QV):
        """All pairs of a P cut and a Q cut whose union has at most k leaves."""
        k, S = self.k, self.S
        sig = PS[:, :, None] | QS[:, None, :]
        ok = PV[:, :, None] & QV[:, None, :]
        ok &= np.bitwise_count(sig) <= k
        r, i, j = np.nonzero(ok)
        U, size = _union(PL[r, i], QL[r, j], k, S)
        good = size <= k
        return r[good], U[good], size[good], sig[r, i, j][good], ((i == 0) & (j == 0))[good]

    def _group(self, nodes):
        """Compute the cut sets of gates ``nodes`` (one level, one arity, <= 2**13)."""
        a = int(self.ar[nodes[0]])
        n, C, S = nodes.size, self.C, self.S
        self._nodes = nodes
        f = self.fan[nodes, :a].astype(np.int64)
        PL, PS, PV = self._fanin_set(f[:, 0])
        # arity 1 (absent after normalization): the fan-in's cuts are the node's
        r, i = np.nonzero(PV)
        cands = (r, PL[r, i], _count(PL[r, i] != S), PS[r, i], i == 0)
        for j in range(1, a):
            QL, QS, QV = self._fanin_set(f[:, j])
            cands = self._merge_pairs(PL, PS, PV, QL, QS, QV)
            if j < a - 1:  # keep the best partial cuts (the all-fan-in one pinned)
                PL, PS, PV = self._select(n, *cands[:4], C + 1, pin=cands[4])[:3]
        rows, U, size, sig, _ = cands
        feasible = None
        if self.mode != "depth":  # the previous round's cut is always a candidate
            prev = self.best[nodes]
            used = prev != S
            psig = np.bitwise_or.reduce(
                np.where(used, np.uint64(1) << (prev.astype(np.uint64) & np.uint64(63)),
                         np.uint64(0)), axis=1)
            rows = np.concatenate([rows, np.arange(n)])
            U = np.concatenate([U, prev])
            size = np.concatenate([size, used.sum(axis=1)])
            sig = np.concatenate([sig, psig])
            req = self.req[nodes]
            feasible = lambda d, r: d <= req[r]
        L, sg, _, chosen, d, af = self._select(n, rows, U, size, sig, C, feasible=feasible)
        self.cl[nodes] = L
        self.cs[nodes] = sg
        b = chosen[:, 0]
        if self.mode == "exact":
            self._exact_commit(nodes, U[b])
        self.best[nodes] = U[b]
        self.arr[nodes] = d[b]
        self.flow[nodes] = af[b]

    # ------------------------------------------------------------------ rounds
    def run_round(self, mode):
        self.mode = mode
        self.afd = np.where(self.est > 0, self.flow / np.maximum(self.est, 1.0), self.flow)
        self.afd[:self.first] = 0.0
        self.afd[self.S] = 0.0
        if mode == "exact":
            self.xrefs = self.refs.copy()
        for lv in self.levels:
            for grp in self.by_level[lv]:
                for s in range(0, grp.size, _CHUNK):
                    nodes = grp[s:s + _CHUNK]
                    self._group(nodes)
                    self.afd[nodes] = self.flow[nodes] / np.maximum(self.est[nodes], 1.0)
        self.cover()

    def _exact_area(self, U, rows):
        """Exact local area of candidate cuts U[m] of nodes ``self._nodes[rows]``: the cut's
        LUT plus the cone, in the current cover, of every leaf that no other LUT would
        reference once the node gives up its current cut (a leaf's cone counted as the area
        of its own chosen cut, computed when it was visited)."""
        v = self._nodes[rows]
        own = self.best[v]
        mine = self.xrefs[v] > 0
        refs = self.xrefs[U]
        for c in range(U.shape[1]):
            lc = U[:, c]
            hit = own[:, 0] == lc
            for j in range(1, own.shape[1]):
                hit |= own[:, j] == lc
            refs[:, c] -= hit & mine
        free = (refs <= 0) & self.is_gate[U]
        return 1.0 + _cols(np.add, np.where(free, self.flow[U], 0.0))

    def _exact_commit(self, nodes, new):
        """Move the references of the nodes in the cover from their old cut to ``new``,
        recursively: a LUT that gains its first reference references its own cut's leaves,
        one that loses its last releases them."""
        S = self.S
        mine = self.xrefs[nodes] > 0
        old, new = self.best[nodes][mine], new[mine]
        changed = ~(old == new).all(axis=1)
        old, new = old[changed], new[changed]
        self._reref(new[new != S].astype(np.int64), 1)
        self._reref(old[old != S].astype(np.int64), -1)

    def _reref(self, leaves, step):
        x = self.xrefs
        while leaves.size:
            np.add.at(x, leaves, step)
            u = _unique_sorted(leaves)
            u = u[self.is_gate[u]]
            if step > 0:   # 0 -> c: c is how many this step added
                sl = np.sort(leaves)
                cnt = np.searchsorted(sl, u, side="right") - np.searchsorted(sl, u, side="left")
                u = u[x[u] == cnt]
            else:
                u = u[x[u] == 0]
            lf = self.best[u]
            leaves = lf[lf != self.S].astype(np.int64)

    def cover(self):
        """Mark the LUTs the outputs need, count references, propagate required times."""
        n, S = self.n, self.S
        mapped = np.zeros(n + 1, dtype=bool)
        refs = np.zeros(n + 1, dtype=np.int64)
        outs = self.net.outputs.astype(np.int64)
        mapped[outs] = True
        np.add.at(refs, outs, 1)
        gate_outs = outs[self.is_gate[outs]]
        D = int(self.arr[gate_outs].max(initial=0))
        self.depth = D
        req = np.full(n + 1, _INF, dtype=np.int64)
        req[gate_outs] = D
        for lv in reversed(self.levels):
            for grp in self.by_level[lv]:
                v = grp[mapped[grp]]
                if not v.size:
                    continue
                leaves = self.best[v]
                rv = np.broadcast_to((req[v] - 1)[:, None], leaves.shape)
                ok = leaves != S
                lf = leaves[ok].astype(np.int64)
                mapped[lf] = True
                np.add.at(refs, lf, 1)
                np.minimum.at(req, lf, rv[ok])
        mapped[:self.first] = False
        mapped[S] = False
        self.mapped, self.refs, self.req = mapped, refs, req
        self.est = (2.0 * self.est + refs) / 3.0
        self.n_luts = int(mapped.sum())

    _STATE = ("best", "arr", "flow", "req", "refs", "mapped", "est")  # what luts() reads

    def save(self) -> dict:
        d = {name: getattr(self, name).copy() for name in self._STATE}
        d["n_luts"], d["depth"] = self.n_luts, self.depth
        return d

    def restore(self, d: dict) -> None:
        for name in self._STATE:
            setattr(self, name, d[name])
        self.n_luts, self.depth = d["n_luts"], d["depth"]

    # ------------------------------------------------------------------ the LUTs
    def luts(self):
        """(roots int64[L], leaves int32[L, k] S-padded, sizes, tables uint64[L])."""
        roots = np.flatnonzero(self.mapped[:self.n])
        leaves = self.best[roots]
        sizes = (leaves != self.S).sum(axis=1)
        return roots, leaves, sizes, self._tables(roots, leaves, sizes)

    def _tables(self, roots, leaves, sizes):
        """Truth table of each root over its leaves: its cone simulated on the 2^k leaf
        patterns (one uint64 word per (LUT, cone node) pair, all cones at once)."""
        n = self.n
        L = roots.size
        if L == 0:
            return np.zeros(0, dtype=np.uint64)
        N1 = np.int64(n + 1)
        # the cone of every LUT: (lut, node) pairs, found by a backward sweep to the leaves
        pc = np.arange(L, dtype=np.int64)
        pv = roots.astype(np.int64)
        keys = [pc * N1 + pv]
        fc, fv = pc, pv
        while fc.size:
            inner = self.is_gate[fv] & ~_cols(np.logical_or, leaves[fc] == fv[:, None])
            fc, fv = fc[inner], fv[inner]
            a = self.ar[fv]
            fan = self.fan[fv].astype(np.int64)
            used = np.arange(MAX_ARITY)[None, :] < a[:, None]
            fc = np.broadcast_to(fc[:, None], fan.shape)[used]
            fv = fan[used]
            kk = _unique_sorted(fc * N1 + fv)   # reconvergence: each pair once a step
            keys.append(kk)
            fc, fv = kk // N1, kk % N1
        key = _unique_sorted(np.concatenate(keys))
        pc, pv = key // N1, key % N1
        val = np.zeros(key.size, dtype=np.uint64)
        # leaves: projections; constants: 0 / all ones; gates: evaluated in level order
        lf = leaves[pc]
        hit = lf == pv[:, None]
        is_leaf = hit.any(axis=1)
        pos = hit.argmax(axis=1)
        u = np.arange(64, dtype=np.uint64)
        proj = np.zeros((MAX_ARITY + 1, MAX_ARITY), dtype=np.uint64)
        for s in range(1, MAX_ARITY + 1):
            for i in range(s):
                bits = (u >> np.uint64(s - 1 - i)) & np.uint64(1)
                proj[s, i] = np.bitwise_or.reduce(bits << u)
        val[is_leaf] = proj[sizes[pc[is_leaf]], pos[is_leaf]]
        val[~is_leaf & (pv == 1)] = _ALL
        inner = np.flatnonzero(~is_leaf & self.is_gate[pv])
        lv = self.lev[pv[inner]]
        o = np.argsort(lv, kind="stable")
        inner, lv = inner[o], lv[o]
        bounds = np.flatnonzero(np.diff(lv)) + 1
        for grp in np.split(inner, bounds):
            a_all = self.ar[pv[grp]]
            for a in np.unique(a_all).tolist():
                g = grp[a_all == a]
                v = pv[g]
                ins = []
                for j in range(a):
                    kj = pc[g] * N1 + self.fan[v, j].astype(np.int64)
                    ins.append(val[np.searchsorted(key, kj)])
                val[g] = _evaluate(self.tab[v], ins)
        out = val[np.searchsorted(key, np.arange(L, dtype=np.int64) * N1 + roots)]
        mask = np.where(sizes >= 6, _ALL,
                        (np.uint64(1) << (np.uint64(1) << np.minimum(sizes, 5).astype(np.uint64)))
                        - np.uint64(1))
        return out & mask


def _evaluate(tables, ins):
    """Bit-parallel outputs of gates with truth tables ``tables`` on input words ``ins``
    (a list of uint64 arrays, x_0 first)."""
    terms = [np.full(tables.size, _ALL, dtype=np.uint64)]
    for x in ins:  # x_0 ends up the most significant bit of the entry index
        terms = [t & nx for t in terms for nx in (~x, x)]
    out = np.zeros(tables.size, dtype=np.uint64)
    for u, t in enumerate(terms):
        on = ((tables >> np.uint64(u)) & np.uint64(1)).astype(bool)
        out |= np.where(on, t, np.uint64(0))
    return out


def _build(net: Netlist, roots, leaves, sizes, tables, lev, S) -> Netlist:
    """The LUT netlist through the folding builder, one LUT level (``lev``: 1 + the
    deepest leaf's) at a time."""
    n = net.n_nodes
    L = roots.size
    b = NetlistBuilder(net.n_inputs, rewrite=True, capacity=L)
    lit = np.full(n + 1, -1, dtype=np.int64)
    lit[:net.first_gate] = 2 * np.arange(net.first_gate, dtype=np.int64)
    lit[S] = 0
    order = np.argsort(lev, kind="stable")
    bounds = np.flatnonzero(np.diff(lev[order])) + 1
    for grp in np.split(order, bounds):
        if not grp.size:
            continue
        lf = leaves[grp]
        K = int(sizes[grp].max())
        lits = np.where(lf[:, :K] != S, lit[lf[:, :K]], 0)
        lit[roots[grp]] = b.add(lits, tables[grp], arity=sizes[grp])
    out = lit[net.outputs.astype(np.int64)] ^ net.invert.astype(np.int64)
    res = b.finish(out, net.group_sizes.copy(), net.tau, net.meta, check=False)
    return eliminate_dead(res).net


def lut_map(net: Netlist, k: int = 6, *, cuts: int = 8, area_rounds: int = 2,
            exact_rounds: int = 1) -> LutMapResult:
    """Map ``net`` onto k-input LUTs (see the module docstring); every gate of the result is
    one LUT of at most ``k`` inputs.  ``cuts``: priority cuts kept per node (1..64);
    ``area_rounds``: area-flow rounds after the depth-optimal one (0..16);
    ``exact_rounds``: exact-local-area rounds after those (0..16; a round whose cover is
    larger than the one before is undone, and ends them)."""
    if not isinstance(net, Netlist):
        raise TypeError(f"lut_map expects a Netlist, got {type(net).__name__}")
    k = _int_arg("k", k, 2, MAX_ARITY)
    cuts = _int_arg("cuts", cuts, 1, 64)
    area_rounds = _int_arg("area_rounds", area_rounds, 0, 16)
    exact_rounds = _int_arg("exact_rounds", exact_rounds, 0, 16)
    net.check()
    t0 = time.perf_counter()
    g0, d0 = net.n_gates, net.depth()
    work = _normalize(net, k)
    m = _Mapper(work, k, cuts)
    m.run_round("depth")
    log.debug("lut_map: depth round: %d LUTs, depth %d", m.n_luts, m.depth)
    for r in range(area_rounds):
        m.run_round("area")
        log.debug("lut_map: area-flow round %d: %d LUTs, depth %d", r + 1, m.n_luts, m.depth)
    for r in range(exact_rounds):
        saved = m.save()
        m.run_round("exact")
        log.debug("lut_map: exact-area round %d: %d LUTs, depth %d", r + 1, m.n_luts, m.depth)
        if m.n_luts > saved["n_luts"]:  # the level-parallel estimate lost: keep the cover
            m.restore(saved)
            break
    roots, leaves, sizes, tables = m.luts()
    out = _build(work, roots, leaves, sizes, tables, m.arr[roots], m.S)
    same = out.same_structure(net)
    if same:
        out = net
    stats = {"k": k, "gates_before": g0, "depth_before": d0, "luts": out.n_gates,
             "depth": out.depth(), "seconds": round(time.perf_counter() - t0, 6)}
    log.info("lut_map: %d gates (depth %d) -> %d LUT-%d (depth %d) in %.2f s", g0, d0,
             stats["luts"], k, stats["depth"], stats["seconds"])
    changes = {"absorbed": max(0, g0 - out.n_gates), "rebuilt": 0 if same else 1}
    return LutMapResult(out, changes, stats)
