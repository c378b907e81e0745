"""Constant propagation: cofactor tables on constant fan-ins."""
from __future__ import annotations

from .base import rewrite_pass

__all__ = ["constant_propagation"]

constant_propagation = rewrite_pass("constant_propagation", {"const"}, """\
    Fix every constant fan-in in its consumer's table (cofactor) and drop it; a gate left
    with no input, or with a constant table, becomes the constant node.""")
