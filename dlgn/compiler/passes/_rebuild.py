"""The hashing, folding rebuild behind the passes (ABC's ``Gia_ManHashAnd`` idea).

The old netlist is swept one logic level at a time; every old node is mapped to a
*literal* of the new netlist (``2 * node + negated``).  For the gates of one level, all at
once (numpy, per arity group), the rebuild

1. substitutes each fan-in by its literal; a negated literal is absorbed by complementing
   that input in the table (always: this is what makes inverter absorption sound);
2. ``const``: cofactors the table on constant fan-ins and drops them;
3. ``dup``: merges fan-ins that read the same node (x_j := x_i) and drops the copies;
4. ``support``: drops fan-ins the table does not depend on;
5. ``strash``: sorts the remaining fan-ins by (new level, node id), an order that
   renumbering by level keeps, permuting the table; then merges structurally identical
   gates (same arity, fan-ins and table), including complementary ones when ``absorb``
   normalizes polarity: within the level by sorting 64-bit hashes (verified exactly, with
   an exact fallback on a collision), and with gates made at earlier levels through one
   sorted hash store per new level (a match is verified exactly before it is used);
6. ``const``: a gate left with no inputs, or whose table is constant, becomes the
   constant node;
   ``bypass``: a gate left computing x becomes x; ``absorb``: a gate computing NOT x
   becomes the negated literal of x, and every other gate is stored in the polarity whose
   table is 0 on the all-zeros input (the complement moves to consumers and the head).

New gates are created in old topological order, so the result is topologically ordered.
Gates that lose all consumers stay (dead-gate elimination removes them).  Two-input gates
take a lookup-table fast path (:func:`_group2`, built from :func:`_group` itself and tested
equal to it).  Work runs in chunks of ``_CHUNK`` gates, so the scratch memory stays bounded.
"""
from __future__ import annotations

import numpy as np

from ..netlist import Netlist
from ..tables import explode, implode, remap, support as _support

__all__ = ["rebuild", "FLAGS"]

FLAGS = ("const", "dup", "support", "strash", "bypass", "absorb")
_C1 = np.uint64(0x9E3779B97F4A7C15)
_C2 = np.uint64(0xC2B2AE3D27D4EB4F)


def _ubits(k):
    u = np.arange(1 << k, dtype=np.int64)
    return [(u >> (k - 1 - i)) & 1 for i in range(k)]


def _group(node, neg, table, k, fl, counts, nlev):
    """Rewrite n gates of arity k whose fan-ins are literals (node, neg) [n, k].

    Returns (arity', fanin' [n, k], table', ) with the kept fan-ins first."""
    n = node.shape[0]
    P = 1 << k
    bits = explode(table, k)
    ub = _ubits(k)
    is_const = (node < 2) if fl["const"] else np.zeros((n, k), dtype=bool)
    rep = np.broadcast_to(np.arange(k), (n, k)).copy()
    if fl["dup"]:
        for j in range(1, k):
            for i in range(j - 1, -1, -1):
                same = (node[:, i] == node[:, j]) & ~is_const[:, j]
                rep[same, j] = rep[same, i]
    src = np.zeros((n, P), dtype=np.int64)
    for j in range(k):
        v = np.zeros((n, P), dtype=np.int64)
        for i in range(j + 1):
            sel = rep[:, j] == i
            if sel.any():
                v[sel] = ub[i][None, :]
        v = np.where(is_const[:, j, None], node[:, j, None], v) ^ neg[:, j, None]
        src |= v << (k - 1 - j)
    bits = remap(bits, src)
    drop = is_const | (rep != np.arange(k)[None, :])
    counts["constant_fanins"] += int(is_const.sum())
    counts["duplicate_fanins"] += int((rep != np.arange(k)[None, :]).sum())
    if fl["support"]:
        nodep = ~_support(bits, k) & ~drop
        counts["unused_fanins"] += int(nodep.sum())
        drop |= nodep
    keep = ~drop
    newk = keep.sum(axis=1).astype(np.int64)
    BIG = np.int64(1) << 62
    # canonical order: by (new level, node id), which renumbering by level keeps
    key = (nlev[node].astype(np.int64) << 32) | node if fl["strash"] else \
        np.broadcast_to(np.arange(k), (n, k))
    key = np.where(keep, key, BIG)
    if k == 2:  # fast path
        sw = key[:, 1] < key[:, 0]
        perm = np.where(sw[:, None], np.array([[1, 0]]), np.array([[0, 1]]))
    else:
        perm = np.argsort(key, axis=1, kind="stable")  # kept inputs first
    # entry u' of the new table reads old entry sum_j bit(u', k'-1-j) << (k-1-perm[j])
    u = np.arange(P, dtype=np.int64)[None, :]
    src = np.zeros((n, P), dtype=np.int64)
    for j in range(k):
        active = (j < newk)[:, None]
        b = (u >> np.maximum(newk - 1 - j, 0)[:, None]) & 1
        src |= np.where(active, b << (k - 1 - perm[:, j])[:, None], 0)
    bits = remap(bits, src)
    valid = u < (np.int64(1) << newk)[:, None]
    newt = implode(np.where(valid, bits, 0))
    fan = np.take_along_axis(node, perm, axis=1)
    fan = np.where(np.arange(k)[None, :] < newk[:, None], fan, 0)
    return newk, fan, newt


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
    both = both.astype(np.int64)
    f2 = dict(fl, const=True)  # states 2/3 are the constants the caller passes only
    scratch = {k: 0 for k in ("constant_fanins", "duplicate_fanins", "unused_fanins")}
    nk, f_, nt = _group(node, neg, t, 2, f2, scratch, np.zeros(12, dtype=np.int32))
    pos = np.where(f_ == node[:, :1], 0, 1)
    per = np.zeros((1024, 3), dtype=np.int64)
    per[:, 0] = (~var[0]).astype(np.int64) + (~var[1])
    per[:, 1] = both if fl["dup"] else 0
    per[:, 2] = 2 - nk - per[:, 0] - per[:, 1]
    _FAST2[key] = (nk, nt, pos, per)
    return _FAST2[key]


def _group2(node, neg, table, fl, counts, nlev):
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
    tot = per[code].sum(axis=0)
    counts["constant_fanins"] += int(tot[0])
    counts["duplicate_fanins"] += int(tot[1])
    counts["unused_fanins"] += int(tot[2])
    return newk, fan, nt[code]


_CHUNK = 1 << 14  # gates per vectorized step (bounds the scratch memory)


def _mask(k):
    return np.where(k >= 6, np.uint64(0xFFFFFFFFFFFFFFFF),
                    (np.uint64(1) << (np.uint64(1) << np.minimum(k, 5).astype(np.uint64)))
                    - np.uint64(1))


def _chunk(net, gs, lit, fl, c, nlev):
    """Rewrite gates ``gs`` (one level, any arities): returns res (literal, or -1 for "make
    a gate"), outneg, arity', fan-in' int32[n, K] and table' of each."""
    K = net.max_arity
    n = gs.shape[0]
    newk = np.zeros(n, dtype=np.int64)
    fan = np.zeros((n, K), dtype=np.int32)
    newt = np.zeros(n, dtype=np.uint64)
    ar = net.arity[gs]
    for k in np.unique(ar):
        k = int(k)
        sel = np.flatnonzero(ar == k)
        g = gs[sel]
        L = lit[net.fanin[g, :k]]
        node, neg = L >> 1, L & 1
        del L
        cn = (node < 2) & (neg == 1)  # a negated constant is the other constant
        node[cn] = 1 - node[cn]
        neg[cn] = 0
        if k == 2:
            nk, f, t = _group2(node, neg, net.table[g], fl, c, nlev)
        else:
            nk, f, t = _group(node, neg, net.table[g], k, fl, c, nlev)
        newk[sel], newt[sel] = nk, t
        fan[sel, :k] = f
    res = np.full(n, -1, dtype=lit.dtype)
    mask = _mask(newk)
    if fl["const"]:  # no inputs left, or a table that ignores all of them
        z = (newk == 0) | (newt == 0) | (newt == mask)
        res[z] = 2 * (newt[z] & np.uint64(1)).astype(np.int64)
        c["constants"] += int(z.sum())
    one = (newk == 1) & (res < 0)
    if fl["bypass"]:
        w = one & (newt == np.uint64(2))
        res[w] = 2 * fan[w, 0].astype(np.int64)
        c["wires"] += int(w.sum())
    outneg = np.zeros(n, dtype=bool)
    if fl["absorb"]:
        inv = one & (newt == np.uint64(1))
        res[inv] = 2 * fan[inv, 0].astype(np.int64) + 1
        c["inverters"] += int(inv.sum())
        outneg = (res < 0) & ((newt & np.uint64(1)) == np.uint64(1))
        newt[outneg] ^= mask[outneg]
        c["complemented"] += int(outneg.sum())
    used = np.arange(K)[None, :] < newk[:, None]
    lv = np.where(used, nlev[fan], 0).max(axis=1, initial=0) + 1
    return res, outneg, newk.astype(np.uint8), fan, newt, lv


def rebuild(net: Netlist, counts: dict | None = None, **flags) -> Netlist:
    """One sweep with the given flags (see the module docstring); returns a new Netlist.

    ``counts`` (optional dict) receives what was removed: constants, wires, inverters,
    duplicates (gates merged by hashing), complemented (gates stored inverted),
    constant_fanins, duplicate_fanins, unused_fanins."""
    fl = {f: bool(flags.pop(f, False)) for f in FLAGS}
    if flags:
        raise TypeError(f"unknown rebuild flags: {', '.join(flags)}")
    c = {k: 0 for k in ("constants", "wires", "inverters", "duplicates", "complemented",
                        "constant_fanins", "duplicate_fanins", "unused_fanins")}
    G, K = net.fanin.shape
    first = net.first_gate
    ltype = np.int32 if net.n_nodes < (1 << 30) else np.int64
    lit = np.empty(net.n_nodes, dtype=ltype)  # old node -> new literal
    lit[:first] = 2 * np.arange(first, dtype=ltype)
    out_fan = np.zeros((G, K), dtype=np.int32)
    out_tab = np.zeros(G, dtype=np.uint64)
    out_ar = np.zeros(G, dtype=np.uint8)
    made = 0
    nlev = np.zeros(first + G, dtype=np.int32)  # level of each new node
    store = {}  # new level -> (sorted hashes, node ids): structural hashing across levels
    if G:
        lev = net.levels()[first:]
        order = np.argsort(lev, kind="stable").astype(np.int32)
        bounds = (np.flatnonzero(np.diff(lev[order])) + 1).tolist()
        del lev
        for s, e in zip([0] + bounds, bounds + [G]):
            n = e - s
            res = np.empty(n, dtype=ltype)
            neg = np.empty(n, dtype=bool)
            lk = np.empty(n, dtype=np.uint8)
            lf = np.empty((n, K), dtype=np.int32)
            lt = np.empty(n, dtype=np.uint64)
            lv = np.empty(n, dtype=np.int32)
            for a in range(0, n, _CHUNK):
                b = min(n, a + _CHUNK)
                res[a:b], neg[a:b], lk[a:b], lf[a:b], lt[a:b], lv[a:b] = \
                    _chunk(net, order[s + a:s + b].astype(np.int64), lit, fl, c, nlev)
            mk = np.flatnonzero(res < 0)
            if mk.size:
                if fl["strash"]:
                    rep, h = _hash_reps(lk, lf, lt, mk)
                    is_rep = rep == np.arange(mk.size)
                    R = np.flatnonzero(is_rep)
                    target = np.full(mk.size, -1, dtype=np.int64)  # node id per rep
                    target[R] = _lookup(store, h[R], lv[mk[R]], mk[R], lk, lf, lt,
                                        out_ar, out_fan, out_tab, first)
                    new = R[target[R] < 0]
                else:
                    rep = np.arange(mk.size)
                    target = np.full(mk.size, -1, dtype=np.int64)
                    new = rep
                m = new.size
                target[new] = first + made + np.arange(m)
                res[mk] = 2 * target[rep] + neg[mk]
                keep = mk[new]
                c["duplicates"] += int(mk.size - m)
                out_fan[made:made + m] = lf[keep]
                out_tab[made:made + m] = lt[keep]
                out_ar[made:made + m] = lk[keep]
                nlev[first + made:first + made + m] = lv[keep]
                if fl["strash"]:
                    _insert(store, h[new], lv[keep], target[new])
                made += m
                del rep, target, new, keep
            lit[first + order[s:e]] = res
        del order
    del store, nlev
    K2 = max(1, int(out_ar[:made].max(initial=0)))
    fan = out_fan[:made, :K2]
    if K2 < K or made < G:  # compact copies, so the G-sized buffers are freed
        fan = fan.copy()
        out_ar, out_tab = out_ar[:made].copy(), out_tab[:made].copy()
    del out_fan
    ol = lit[net.outputs.astype(np.int64)]
    del lit
    if counts is not None:
        for k, v in c.items():
            counts[k] = counts.get(k, 0) + v
    return Netlist(net.n_inputs, fan, out_ar[:made], out_tab[:made], ol >> 1,
                   net.invert ^ (ol & 1).astype(bool), net.group_sizes.copy(), net.tau,
                   dict(net.meta))


def _hash_reps(ar, fan, tab, idx):
    """For gates ``idx`` (of the level arrays), the position in ``idx`` of the first
    structurally identical gate (same arity, fan-ins and table); exact."""
    n = idx.size
    h = np.empty(n, dtype=np.uint64)
    for a in range(0, n, _CHUNK):
        i = idx[a:a + _CHUNK]
        x = tab[i] * _C1 ^ ar[i].astype(np.uint64) * _C2
        for j in range(fan.shape[1]):
            x = (x ^ fan[i, j].astype(np.uint64)) * _C1
            x ^= x >> np.uint64(29)
        h[a:a + _CHUNK] = x
    o = np.argsort(h, kind="stable")
    hs = h[o]
    start = np.empty(n, dtype=bool)
    start[0] = True
    np.not_equal(hs[1:], hs[:-1], out=start[1:])
    del hs
    grp = np.where(start, np.arange(n), 0)
    np.maximum.accumulate(grp, out=grp)
    rep = np.empty(n, dtype=np.int64)
    rep[o] = o[grp]  # stable sort: the group's first member has the smallest index
    del grp, o, start
    ok = True
    for a in range(0, n, _CHUNK):
        i, r = idx[a:a + _CHUNK], idx[rep[a:a + _CHUNK]]
        if not ((tab[r] == tab[i]) & (ar[r] == ar[i]) & (fan[r] == fan[i]).all(axis=1)).all():
            ok = False
            break
    if not ok:  # a 64-bit hash collision: do it exactly
        key = np.ascontiguousarray(np.column_stack([ar[idx].astype(np.int64),
                                                    tab[idx].view(np.int64), fan[idx]]))
        _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
        rep = first[inv.reshape(-1)]
    return rep, h


def _lookup(store, h, lv, pos, lk, lf, lt, out_ar, out_fan, out_tab, first):
    """Node ids of gates made earlier identical to the level gates ``pos`` (-1: none)."""
    found = np.full(h.size, -1, dtype=np.int64)
    for lvl in np.unique(lv).tolist():
        if lvl not in store:
            continue
        hs, ids = store[lvl]
        sel = np.flatnonzero(lv == lvl)
        at = np.minimum(np.searchsorted(hs, h[sel]), hs.size - 1)
        hit = hs[at] == h[sel]
        sel, cand = sel[hit], ids[at[hit]].astype(np.int64) - first
        p = pos[sel]
        same = (out_tab[cand] == lt[p]) & (out_ar[cand] == lk[p]) & \
            (out_fan[cand] == lf[p]).all(axis=1)
        found[sel[same]] = cand[same] + first
    return found


def _insert(store, h, lv, ids):
    """Add made gates (hash, level, node id) to the per-level sorted stores."""
    for lvl in np.unique(lv).tolist():
        sel = lv == lvl
        hn, idn = h[sel], ids[sel].astype(np.int32)
        if lvl in store:
            hn = np.concatenate([store[lvl][0], hn])
            idn = np.concatenate([store[lvl][1], idn])
        o = np.argsort(hn, kind="stable")
        store[lvl] = (hn[o], idn[o])
