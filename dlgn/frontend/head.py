"""GroupSum: the class head.  Output bits are split into ``n_classes`` contiguous groups of
equal size; the score of class c is (sum of group c) / tau."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["GroupSum"]


class GroupSum(nn.Module):
    def __init__(self, n_classes: int, tau: float = 1.0):
        super().__init__()
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
            raise ValueError(f"n_classes must be a positive int, got {n_classes!r}")
        tau = float(tau)
        if not tau > 0 or tau == float("inf"):
            raise ValueError(f"tau must be a positive finite number, got {tau}")
        self.n_classes, self.tau = n_classes, tau

    def group_sizes(self, width: int) -> list[int]:
        if width % self.n_classes:
            raise ValueError(f"GroupSum: width {width} is not divisible by "
                             f"n_classes={self.n_classes}")
        return [width // self.n_classes] * self.n_classes

    def lower(self, builder, in_lits):
        """The head adds no gates: its outputs are ``in_lits``, split into
        :meth:`group_sizes` (the compiler's ``lower_head`` turns it into gates)."""
        self.group_sizes(len(in_lits))
        return in_lits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2:
            raise ValueError(f"GroupSum expects [batch, width], got {tuple(x.shape)}")
        g = self.group_sizes(x.shape[1])[0]
        return x.reshape(x.shape[0], self.n_classes, g).sum(-1) / self.tau

    def extra_repr(self) -> str:
        return f"n_classes={self.n_classes}, tau={self.tau:g}"
