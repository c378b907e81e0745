"""The runtime's error root: :class:`dlgn.errors.DlgnError` (a plain Exception subclass of
the same name where that module is not there)."""
from __future__ import annotations

try:
    from ..errors import DlgnError
except ImportError:  # pragma: no cover - a tree without dlgn.errors
    class DlgnError(Exception):
        """A user error: the message says what is wrong and, where it can, what to do."""

__all__ = ["DlgnError"]
