"""Gates as data, torch side: the real-valued relaxations of the 16 two-input gates and the
OP (original parametrization) soft truth table.

Everything is read from :data:`dlgn.compiler.gates.GATE_COEFFS` and
:data:`dlgn.compiler.gates.GATE_TABLES` (difflogic order), never duplicated here.

* ``gate_relaxations(a, b)`` -- the 16 relaxations ``g_i(a, b) = c0 + c1 a + c2 b + c3 ab``
  (AND -> ab, XOR -> a + b - 2ab, ...), stacked on a new leading axis.  This is the literal
  OP formula's building block (the test reference).
* ``op_soft_table(logits[out, 16]) -> T[out, 4]`` -- ``T_u = sum of softmax(logits)_i over
  the gates i whose table has bit u``.  OP's reduced form is then the multilinear evaluation
  of ``T`` (exactly the IWP k = 2 formula), see :mod:`dlgn.frontend.functional`.
"""
from __future__ import annotations

import numpy as np
import torch

from dlgn.compiler.gates import GATE_COEFFS, GATE_TABLES

__all__ = ["N_GATES", "OP_MINTERMS", "gate_coeffs", "op_minterms", "gate_relaxations",
           "op_soft_table", "op_literal_forward", "phi_fn", "PHI_NAMES"]

N_GATES = 16

#: OP_MINTERMS[i, u] = bit u of gate i's truth table (difflogic order i, u = 2a + b).
OP_MINTERMS: np.ndarray = ((GATE_TABLES[:, None] >> np.arange(4)[None, :]) & 1).astype(np.int64)
OP_MINTERMS.setflags(write=False)

PHI_NAMES = ("sigmoid", "sin")


def gate_coeffs(dtype=torch.float32, device=None) -> torch.Tensor:
    """GATE_COEFFS as a tensor [16, 4]: columns c0, c1 (a), c2 (b), c3 (ab)."""
    return torch.tensor(GATE_COEFFS, dtype=dtype, device=device)


def op_minterms(dtype=torch.float32, device=None) -> torch.Tensor:
    """OP_MINTERMS as a tensor [16, 4]."""
    return torch.tensor(OP_MINTERMS, dtype=dtype, device=device)


def gate_relaxations(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The 16 gate relaxations evaluated at (a, b): a tensor [16, *a.shape]."""
    c = gate_coeffs(a.dtype, a.device)
    shape = (N_GATES,) + (1,) * a.dim()
    c0, c1, c2, c3 = (c[:, j].reshape(shape) for j in range(4))
    return c0 + c1 * a + c2 * b + c3 * (a * b)


def op_soft_table(logits: torch.Tensor) -> torch.Tensor:
    """Soft truth table T[out, 4] (u = 2a + b) of OP gates with logits [out, 16]."""
    if logits.dim() != 2 or logits.shape[1] != N_GATES:
        raise ValueError(f"OP logits must have shape [out, {N_GATES}], got {tuple(logits.shape)}")
    p = torch.softmax(logits, dim=1)
    return p @ op_minterms(p.dtype, p.device)


def op_literal_forward(x: torch.Tensor, idx: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """The literal OP formula: y = sum_i softmax(z)_i * g_i(a, b) (difflogic 2022), [B, out].

    Slow (16 relaxations per gate and sample); kept as the test and benchmark reference."""
    if idx.dim() != 2 or idx.shape[1] != 2:
        raise ValueError("OP gates have exactly 2 inputs: idx must be [out, 2]")
    a = x[:, idx[:, 0]]
    b = x[:, idx[:, 1]]
    p = torch.softmax(logits, dim=1)  # [out, 16]
    c = gate_coeffs(x.dtype, x.device)
    ab = a * b
    y = torch.zeros_like(a)
    for i in range(N_GATES):  # y += p_i * g_i(a, b), one relaxation at a time (difflogic)
        c0, c1, c2, c3 = c[i]
        y = y + p[:, i] * (c0 + c1 * a + c2 * b + c3 * ab)
    return y


def phi_fn(name: str):
    """The map phi: W -> omega in [0, 1] of IWP ("sigmoid" or "sin": 0.5 + 0.5 sin W)."""
    if name == "sigmoid":
        return torch.sigmoid
    if name == "sin":
        return lambda w: 0.5 + 0.5 * torch.sin(w)
    raise ValueError(f"phi must be one of {PHI_NAMES}, got {name!r}")
