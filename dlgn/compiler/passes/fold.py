"""The combined hashing, folding rebuild: every rewrite of the builder in one sweep."""
from __future__ import annotations

from ..builder import FLAGS
from .base import rewrite_pass

__all__ = ["fold"]

fold = rewrite_pass("fold", FLAGS, """\
    Constant propagation, duplicate-fan-in reduction, support reduction, wire bypass,
    inverter absorption and structural hashing in one level-by-level sweep.""")
