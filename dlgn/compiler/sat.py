"""A SAT miter of two netlists (Tseitin encoding, python-sat with CaDiCaL).

Variables: node ``v`` of netlist A is SAT variable ``v + 1``; netlist B's gates follow
(its constants and inputs share A's variables).  A k-input gate with table T and output y
gets one clause per table entry u: ``(inputs != u) OR (y == T[u])``.  The miter asserts
that some output pair differs (polarity applied); UNSAT proves equivalence, a model is a
counterexample, which the reference simulator confirms before it is returned.

It imports :mod:`dlgn.compiler.verdict` (the result type), never :mod:`dlgn.compiler.equiv`
(which registers :func:`sat_equivalent` as its ``"sat"`` method)."""
from __future__ import annotations

import logging

import numpy as np

from .netlist import Netlist
from .verdict import EquivResult, check_compatible, first_difference

__all__ = ["sat_equivalent", "gate_clauses"]

log = logging.getLogger(__name__)


def gate_clauses(net: Netlist, var: np.ndarray) -> list:
    """CNF clauses (lists of ints) for every gate; ``var[node]`` is the node's variable."""
    clauses = []
    first = net.first_gate
    for k in np.unique(net.arity):
        k = int(k)
        g = np.flatnonzero(net.arity == k)
        y = var[first + g]
        x = var[net.fanin[g, :k].astype(np.int64)]  # [n, k]
        t = net.table[g]
        P = 1 << k
        u = np.arange(P)
        # rows [n, P, k+1]
        xb = ((u[:, None] >> (k - 1 - np.arange(k))[None, :]) & 1).astype(bool)  # [P, k]
        lits = np.where(xb[None, :, :], -x[:, None, :], x[:, None, :])
        tb = ((t[:, None] >> u[None, :].astype(np.uint64)) & np.uint64(1)).astype(bool)
        ylit = np.where(tb, y[:, None], -y[:, None])
        rows = np.concatenate([lits, ylit[:, :, None]], axis=2).reshape(-1, k + 1)
        clauses.extend(rows.tolist())
    return clauses


def sat_equivalent(a: Netlist, b: Netlist, solver: str = "cadical153") -> EquivResult:
    """Prove ``a`` and ``b`` equivalent or return a confirmed counterexample."""
    try:
        from pysat.solvers import Solver
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("SAT checking needs python-sat: pip install python-sat") from e
    check_compatible(a, b)
    if a.n_outputs == 0:
        return EquivResult(True, "sat")
    va = np.arange(a.n_nodes, dtype=np.int64) + 1
    vb = np.empty(b.n_nodes, dtype=np.int64)
    vb[:b.first_gate] = va[:a.first_gate]
    vb[b.first_gate:] = a.n_nodes + 1 + np.arange(b.n_gates)
    top = a.n_nodes + b.n_gates
    clauses = [[-1], [2]] + gate_clauses(a, va) + gate_clauses(b, vb)
    n_out = a.n_outputs
    ya = np.where(a.invert, -va[a.outputs], va[a.outputs])
    yb = np.where(b.invert, -vb[b.outputs], vb[b.outputs])
    d = top + 1 + np.arange(n_out)
    for o in range(n_out):  # d_o -> (ya XOR yb)
        p, q, r = int(ya[o]), int(yb[o]), int(d[o])
        clauses.append([-r, p, q])
        clauses.append([-r, -p, -q])
    clauses.append([int(v) for v in d])
    with Solver(name=solver, bootstrap_with=clauses) as s:
        sat = s.solve()
        model = s.get_model() if sat else None
    if not sat:
        return EquivResult(True, "sat")
    m = np.zeros(top + n_out + 1, dtype=bool)
    mv = np.asarray(model, dtype=np.int64)
    m[np.abs(mv)] = mv > 0
    cex = m[va[2:2 + a.n_inputs]]
    out = first_difference(a, b, cex)
    if out is None:
        raise RuntimeError("internal error: the SAT counterexample does not separate the "
                           "netlists in the reference simulator")
    return EquivResult(False, "sat", cex, out)
