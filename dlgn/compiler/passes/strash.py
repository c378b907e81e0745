"""Structural hashing (CSE) with canonical fan-in order."""
from __future__ import annotations

from .base import rewrite_pass

__all__ = ["structural_hashing"]

structural_hashing = rewrite_pass("structural_hashing", {"strash"}, """\
    Sort each gate's fan-ins canonically (by level, then node id; the table is permuted) and
    merge gates with the same arity, fan-ins and table; consumers and outputs read the first
    one made. Hash matches are verified exactly, so a collision never merges two different
    gates.""")
