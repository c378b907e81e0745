"""Support reduction: drop fan-ins a table does not depend on."""
from __future__ import annotations

from .base import rewrite_pass

__all__ = ["support_reduction"]

support_reduction = rewrite_pass("support_reduction", {"support"}, """\
    Remove every fan-in the gate's table ignores, compacting the table (arity shrinks).""")
