"""GroupSum: the class head.  Output bits are split into ``n_classes`` contiguous groups of
equal size; the score of class c is (sum of group c) / tau.

With ``max_weight=W`` (>= 1) the head is *learned*: every output bit i has a weight
``w_i`` in {0, 1, ..., W} and the score of class c is (sum of ``w_i * bit_i`` over group c)
/ tau.  The weights are trained as reals and rounded in the forward pass (straight-through:
the gradient passes the rounding unchanged), so training sees the integer head it compiles
to.  A weight-0 output is dropped; the netlist lists an output of weight w w times, which
the compiler's heads count as one bit of that weight (the LUT-6 head puts it straight into
the columns of w's binary digits; see :mod:`dlgn.compiler.head`).  A narrow last layer with
weights up to 3 gives each class a finer score for no more outputs, and weight 0 prunes the
outputs (and the logic only they read) that do not help.

The learned scores are divided by the mean weight as well (``tau * mean(w)``, the
netlist's ``tau``): scaling every weight up would otherwise be a free way to sharpen the
softmax, and the weights would learn a temperature (measured: most grew to 2 and 3, a head
twice the LUTs) instead of which outputs matter.  The argmax is the weighted count's.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["GroupSum", "MAX_HEAD_WEIGHT"]

#: The largest ``max_weight`` a learned head takes (a weight is a small integer).
MAX_HEAD_WEIGHT = 15


class GroupSum(nn.Module):
    def __init__(self, n_classes: int, tau: float = 1.0, *, max_weight: int = 0,
                 width: int | None = None):
        super().__init__()
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 1:
            raise ValueError(f"n_classes must be a positive int, got {n_classes!r}")
        tau = float(tau)
        if not tau > 0 or tau == float("inf"):
            raise ValueError(f"tau must be a positive finite number, got {tau}")
        if isinstance(max_weight, bool) or not isinstance(max_weight, int) \
                or not 0 <= max_weight <= MAX_HEAD_WEIGHT:
            raise ValueError(f"max_weight must be an int in 0..{MAX_HEAD_WEIGHT} (0: a plain "
                             f"GroupSum), got {max_weight!r}")
        self.n_classes, self.tau, self.max_weight = n_classes, tau, max_weight
        if max_weight:
            if isinstance(width, bool) or not isinstance(width, int) or width < 1:
                raise ValueError(f"a learned head (max_weight={max_weight}) needs the width "
                                 f"of the last layer, got {width!r}")
            self._equal_groups(width)
            # every output starts at weight 1: the plain GroupSum
            self.score_weight = nn.Parameter(torch.ones(width))

    def _equal_groups(self, width: int) -> int:
        if width % self.n_classes:
            raise ValueError(f"GroupSum: width {width} is not divisible by "
                             f"n_classes={self.n_classes}")
        return width // self.n_classes

    def _check_width(self, width: int) -> None:
        self._equal_groups(width)
        if self.max_weight and width != self.score_weight.numel():
            raise ValueError(f"GroupSum: a learned head over {self.score_weight.numel()} "
                             f"outputs was given {width}")

    @property
    def effective_tau(self) -> float:
        """The temperature of the scores: ``tau``, times the mean integer weight for a
        learned head (``tau`` when every weight is 0); the netlist's ``tau``."""
        w = self.integer_weights()
        if not w or not sum(w):
            return self.tau
        return self.tau * sum(w) / len(w)

    @torch.no_grad()
    def integer_weights(self) -> list[int] | None:
        """The weights the netlist uses (one int per output), or None for a plain head."""
        if not self.max_weight:
            return None
        return self.score_weight.detach().round().clamp(0, self.max_weight).to(
            torch.int64).cpu().tolist()

    def group_sizes(self, width: int) -> list[int]:
        """Group sizes of the *input* width (equal groups).  The netlist's groups are those
        :meth:`lower_groups` returns (for a learned head: the weights' sums)."""
        return [self._equal_groups(width)] * self.n_classes

    def lower(self, builder, in_lits):
        """The head's output literals (``in_lits``, each repeated by its weight for a learned
        head); the compiler's ``lower_head`` turns the groups into gates."""
        return self.lower_groups(builder, in_lits)[0]

    def lower_groups(self, builder, in_lits) -> tuple[list, list[int]]:
        """``(outputs, group_sizes)`` of the netlist: the head adds no gates."""
        in_lits = list(in_lits)
        self._check_width(len(in_lits))
        if not self.max_weight:
            return in_lits, self.group_sizes(len(in_lits))
        g = self._equal_groups(len(in_lits))
        weights = self.integer_weights()
        out, sizes = [], []
        for start in range(0, len(in_lits), g):
            group = [lit for lit, k in zip(in_lits[start:start + g], weights[start:start + g])
                     for _ in range(k)]
            out += group
            sizes.append(len(group))
        return out, sizes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2:
            raise ValueError(f"GroupSum expects [batch, width], got {tuple(x.shape)}")
        self._check_width(x.shape[1])
        g = self._equal_groups(x.shape[1])
        if self.max_weight:
            theta = self.score_weight
            w = theta.round().clamp(0, self.max_weight).to(theta.dtype)
            if self.training:
                w = theta + (w - theta).detach()  # straight-through rounding
            # scale-free: the mean weight divides out (when every weight is 0 every score
            # is 0, and the clamp only keeps the division finite)
            mean = w.mean().clamp_min(1.0 / w.numel())
            s = (x * w.to(x.dtype)).reshape(x.shape[0], self.n_classes, g).sum(-1)
            return s / (self.tau * mean.to(x.dtype))
        return x.reshape(x.shape[0], self.n_classes, g).sum(-1) / self.tau

    def extra_repr(self) -> str:
        return f"n_classes={self.n_classes}, tau={self.tau:g}" + (
            f", max_weight={self.max_weight}" if self.max_weight else "")
