"""Analysis and drawing: statistics, networkx graphs and DOT export of a cone.

networkx is used here only (imported lazily), never as the IR."""
from __future__ import annotations

import numpy as np

from .gates import GATE_NAMES, GATE_TABLES
from .netlist import Netlist
from .passes.dead import reachable

__all__ = ["stats", "fanout", "cone_nodes", "to_networkx", "to_dot", "gate_types"]


def fanout(net: Netlist) -> np.ndarray:
    """int64[n_nodes]: how many gate fan-in slots read each node (outputs not counted)."""
    used = np.arange(net.max_arity)[None, :] < net.arity[:, None].astype(np.int64)
    return np.bincount(net.fanin[used].astype(np.int64), minlength=net.n_nodes)


def stats(net: Netlist) -> dict:
    """Plain-JSON statistics: inputs, gates, outputs, classes, depth, arity histogram,
    gates per level, fan-out max/mean over gates, outputs that are constants or inputs."""
    lev = net.levels()
    G = net.n_gates
    fo = fanout(net)[net.first_gate:]
    o = net.outputs.astype(np.int64)
    return {
        "inputs": net.n_inputs,
        "gates": G,
        "outputs": net.n_outputs,
        "classes": net.n_classes,
        "depth": int(lev.max(initial=0)),
        "arity_histogram": {str(k): int(c) for k, c in
                            enumerate(np.bincount(net.arity, minlength=net.max_arity + 1)) if c},
        "gates_per_level": np.bincount(lev[net.first_gate:])[1:].tolist() if G else [],
        "fanout_max": int(fo.max(initial=0)),
        "fanout_mean": round(float(fo.mean()), 6) if G else 0.0,
        "constant_outputs": int((o < 2).sum()),
        "input_outputs": int(((o >= 2) & (o < net.first_gate)).sum()),
        "inverted_outputs": int(net.invert.sum()),
    }


def gate_types(net: Netlist, top: int = 16) -> list[dict]:
    """The most common (arity, table) pairs, most frequent first: two-input gates by name
    (``AND``, ``XOR``, ...), others as ``LUT<k>:<table hex>``."""
    if net.n_gates == 0:
        return []
    key = (net.arity.astype(np.uint64) << np.uint64(60)) ^ net.table
    big = net.arity >= 6
    if big.any():  # a 64-bit table leaves no room for the arity: keep them apart exactly
        pairs = np.stack([net.arity.astype(np.uint64), net.table], axis=1)
        u, inv, cnt = np.unique(pairs, axis=0, return_inverse=True, return_counts=True)
        ar, tab = u[:, 0].astype(int), u[:, 1]
    else:
        u, cnt = np.unique(key, return_counts=True)
        ar, tab = (u >> np.uint64(60)).astype(int), u & np.uint64((1 << 60) - 1)
    order = np.lexsort((tab, ar, -cnt))[:top]
    names2 = {int(t): n for t, n in zip(GATE_TABLES.tolist(), GATE_NAMES)}
    out = []
    for i in order.tolist():
        k, t = int(ar[i]), int(tab[i])
        if k == 2:
            name = names2[t]
        elif k == 1:
            name = ("FALSE", "NOT", "BUF", "TRUE")[t]
        elif k == 0:
            name = "CONST1" if t & 1 else "CONST0"
        else:
            name = f"LUT{k}:{t:0{(1 << k) // 4}x}"
        out.append({"gate": name, "arity": k, "count": int(cnt[i])})
    return out


def cone_nodes(net: Netlist, cone=None, by: str = "output") -> np.ndarray:
    """Sorted node ids in the transitive fan-in of ``cone`` (None: every node).

    ``by="output"``: ``cone`` holds output indices; ``by="node"``: node ids."""
    if cone is None:
        return np.arange(net.n_nodes)
    c = np.atleast_1d(np.asarray(cone, dtype=np.int64))
    if by == "output":
        if c.size and (c.min() < 0 or c.max() >= net.n_outputs):
            raise ValueError(f"output index out of range 0..{net.n_outputs - 1}")
        c = net.outputs[c].astype(np.int64)
    elif by != "node":
        raise ValueError("by must be 'output' or 'node'")
    if c.size and (c.min() < 0 or c.max() >= net.n_nodes):
        raise ValueError(f"node id out of range 0..{net.n_nodes - 1}")
    return np.flatnonzero(reachable(net, c))


def _label(net, v):
    if v < 2:
        return str(v)
    if v < net.first_gate:
        return f"x{v - 2}"
    g = v - net.first_gate
    k, t = int(net.arity[g]), int(net.table[g])
    if k == 2:
        return GATE_NAMES[int(np.flatnonzero(GATE_TABLES == t)[0])]
    return f"LUT{k} {t:#x}"


def to_networkx(net: Netlist, cone=None, by: str = "output"):
    """A ``networkx.MultiDiGraph`` (edges fan-in -> gate, key = input position, so a gate
    reading one node twice keeps both edges); node attributes: kind (const/input/gate),
    arity, table, level, label; graph attributes: outputs, invert, group_sizes."""
    import networkx as nx
    nodes = cone_nodes(net, cone, by)
    lev = net.levels()
    G = nx.MultiDiGraph(outputs=net.outputs.tolist(), invert=net.invert.tolist(),
                        group_sizes=net.group_sizes.tolist())
    first = net.first_gate
    for v in nodes.tolist():
        kind = "const" if v < 2 else ("input" if v < first else "gate")
        attrs = {"kind": kind, "level": int(lev[v]), "label": _label(net, v)}
        if kind == "gate":
            attrs.update(arity=int(net.arity[v - first]), table=int(net.table[v - first]))
        G.add_node(v, **attrs)
    for v in nodes.tolist():
        if v >= first:
            g = v - first
            for i in range(int(net.arity[g])):
                G.add_edge(int(net.fanin[g, i]), v, key=i, pin=i)
    return G


def to_dot(net: Netlist, cone=None, path=None, by: str = "output") -> str:
    """Graphviz DOT text of the cone (deterministic); also written to ``path``."""
    nodes = cone_nodes(net, cone, by)
    keep = set(nodes.tolist())
    first = net.first_gate
    lines = ["digraph dlgn {", "  rankdir=LR;"]
    for v in nodes.tolist():
        shape = "box" if v < first else "ellipse"
        lines.append(f'  n{v} [label="{_label(net, v)}", shape={shape}];')
    for v in nodes.tolist():
        if v >= first:
            g = v - first
            for i in range(int(net.arity[g])):
                lines.append(f'  n{int(net.fanin[g, i])} -> n{v} [label="{i}"];')
    outs = range(net.n_outputs) if cone is None or by == "node" else \
        np.atleast_1d(np.asarray(cone)).tolist()
    for o in outs:
        src = int(net.outputs[o])
        if src in keep:
            lines.append(f'  y{o} [label="y{o}", shape=doublecircle];')
            style = ' [style=dashed, label="NOT"]' if net.invert[o] else ""
            lines.append(f"  n{src} -> y{o}{style};")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if path is not None:
        from pathlib import Path
        Path(path).write_text(text)
    return text
