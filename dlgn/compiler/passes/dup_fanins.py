"""Duplicate-fan-in reduction: a gate reading one node twice reads it once."""
from __future__ import annotations

from .base import rewrite_pass

__all__ = ["merge_duplicate_fanins"]

merge_duplicate_fanins = rewrite_pass("merge_duplicate_fanins", {"dup"}, """\
    When fan-ins i < j of a gate are the same node, restrict the table to x_j = x_i and drop
    input j.""")
