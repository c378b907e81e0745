"""Logic gates as data: the one table that evaluation, folding, every emitter and
the frontend read.

Truth-table convention (DESIGN.md section 2, the kitty/ABC convention): a k-input gate
with inputs x_0 ... x_{k-1} reads entry ``u = sum(x_i * 2**(k-1-i))`` of its table; the
table is an integer whose bit ``u`` is the output for input ``u``.  For k = 2,
``u = 2a + b``: AND = 0b1000 = 8, OR = 14, XOR = 6, A = 12, B = 10.

difflogic numbers its 16 gates by the 4-bit reversal of this table
(``id = 8*T00 + 4*T01 + 2*T10 + T11``); :func:`table_to_difflogic` and
:func:`difflogic_to_table` are the only conversion.

Expressions (:data:`EXPR1`, :data:`EXPR2`): every one- and two-input function written once
as a template that the C, CUDA and Verilog emitters all read.  A template is a
``str.format`` pattern over the operands ``{0}`` (x_0, the first input) and ``{1}`` (x_1),
the constants ``{Z}`` (0) and ``{O}`` (1), the operators ``~ & | ^`` and parentheses, with
the precedence C and Verilog share (``~`` binds tightest, then ``&``, ``^``, ``|``).  An
emitter substitutes its own spelling of the operands and constants (C: ``DLGN_ZERO``,
Verilog: ``1'b0``); the operators are the same in every target.
"""
from __future__ import annotations

from types import MappingProxyType

import numpy as np

__all__ = [
    "MAX_ARITY",
    "GATE_NAMES",
    "GATE_TABLES",
    "GATE_COEFFS",
    "table_of",
    "table_to_difflogic",
    "difflogic_to_table",
    "table_mask",
    "passthrough_table",
    "table_bits",
    "bits_to_table",
    "eval_table",
    "EXPR1",
    "EXPR2",
]

MAX_ARITY = 6

#: Names of the 16 two-input functions, indexed by difflogic op id.
GATE_NAMES: tuple[str, ...] = (
    "FALSE", "AND", "A_AND_NOT_B", "A", "NOT_A_AND_B", "B", "XOR", "OR",
    "NOR", "XNOR", "NOT_B", "A_OR_NOT_B", "NOT_A", "NOT_A_OR_B", "NAND", "TRUE",
)


def _rev4(v: int) -> int:
    return ((v & 1) << 3) | ((v & 2) << 1) | ((v & 4) >> 1) | ((v & 8) >> 3)


def difflogic_to_table(op_id):
    """difflogic op id (0..15) -> 4-bit truth table in our convention (vectorized)."""
    a = np.asarray(op_id)
    if np.any((a < 0) | (a > 15)):
        raise ValueError("difflogic op ids are 0..15")
    out = np.array([_rev4(i) for i in range(16)], dtype=np.int64)[a]
    return int(out) if out.ndim == 0 else out


def table_to_difflogic(table):
    """4-bit truth table in our convention -> difflogic op id (the inverse map)."""
    a = np.asarray(table)
    if np.any((a < 0) | (a > 15)):
        raise ValueError("two-input truth tables are 0..15")
    out = np.array([_rev4(i) for i in range(16)], dtype=np.int64)[a]
    return int(out) if out.ndim == 0 else out


#: Truth table (our convention) of each gate, indexed by difflogic op id.
GATE_TABLES: np.ndarray = np.array([_rev4(i) for i in range(16)], dtype=np.int64)
GATE_TABLES.setflags(write=False)


def table_of(name: str) -> int:
    """Truth table of a named two-input gate, e.g. ``table_of("AND") == 8``."""
    try:
        return int(GATE_TABLES[GATE_NAMES.index(name.upper())])
    except ValueError:
        raise ValueError(f"unknown gate {name!r}; known: {', '.join(GATE_NAMES)}") from None


def _coeffs(table: int) -> tuple[int, int, int, int]:
    t00, t01, t10, t11 = (table >> 0) & 1, (table >> 1) & 1, (table >> 2) & 1, (table >> 3) & 1
    return (t00, t10 - t00, t01 - t00, t11 - t10 - t01 + t00)


#: Real-valued relaxation of each gate (difflogic order) as y = c0 + c1*a + c2*b + c3*a*b.
#: AND -> (0, 0, 0, 1): ab;  XOR -> (0, 1, 1, -2): a + b - 2ab;  OR -> (0, 1, 1, -1).
GATE_COEFFS: np.ndarray = np.array([_coeffs(int(t)) for t in GATE_TABLES], dtype=np.int64)
GATE_COEFFS.setflags(write=False)


def table_mask(arity: int) -> int:
    """All-ones table of a gate of ``arity`` inputs (2**arity bits)."""
    if not 0 <= arity <= MAX_ARITY:
        raise ValueError(f"arity must be 0..{MAX_ARITY}, got {arity}")
    return (1 << (1 << arity)) - 1


def passthrough_table(arity: int, which: int = 0) -> int:
    """Table of the gate that outputs its input ``which`` (x_0 by default)."""
    if not 0 <= which < arity:
        raise ValueError(f"input {which} does not exist on a {arity}-input gate")
    t = 0
    for u in range(1 << arity):
        if (u >> (arity - 1 - which)) & 1:
            t |= 1 << u
    return t


def table_bits(table: int, arity: int) -> np.ndarray:
    """Bits of a table as a bool array of length 2**arity (entry u = output on input u)."""
    return np.array([(int(table) >> u) & 1 for u in range(1 << arity)], dtype=bool)


def bits_to_table(bits) -> int:
    """Inverse of :func:`table_bits`."""
    t = 0
    for u, b in enumerate(np.asarray(bits).reshape(-1)):
        if b:
            t |= 1 << u
    return t


def eval_table(table: int, arity: int, inputs) -> int:
    """Evaluate one gate on 0/1 inputs (x_0 first): the definition, one call at a time."""
    u = 0
    for x in inputs:
        u = (u << 1) | (1 if x else 0)
    if len(inputs) != arity:
        raise ValueError(f"expected {arity} inputs, got {len(inputs)}")
    return (int(table) >> u) & 1


#: One-input functions as expression templates, indexed by truth table (0..3).
EXPR1 = MappingProxyType({0: "{Z}", 1: "~{0}", 2: "{0}", 3: "{O}"})

#: Two-input functions as expression templates, indexed by truth table (u = 2a + b with
#: a = x_0 = ``{0}``, b = x_1 = ``{1}``): each is one operator (or none) on the operands.
EXPR2 = MappingProxyType({
    0: "{Z}", 1: "~({0} | {1})", 2: "~{0} & {1}", 3: "~{0}", 4: "{0} & ~{1}", 5: "~{1}",
    6: "{0} ^ {1}", 7: "~({0} & {1})", 8: "{0} & {1}", 9: "~({0} ^ {1})", 10: "{1}",
    11: "~{0} | {1}", 12: "{0}", 13: "{0} | ~{1}", 14: "{0} | {1}", 15: "{O}",
})
