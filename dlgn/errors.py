"""The root of dlgn's user errors.

Every error that a user can cause and fix -- a missing or damaged file, data of the wrong
shape, an option out of range, a tool that is not installed -- is a :class:`DlgnError`.
The project's typed errors (``NetlistError``, ``EncodingError``, ``DatasetError``,
``ModelFileError``, ``CheckpointError``, ``CacheError``, ``ToolError``, ...) subclass it,
most of them together with the built-in class they always were (``ValueError``,
``RuntimeError``), so ``except ValueError`` in callers keeps working.

The ``dlgn`` command catches ``DlgnError``, prints its message as one line and exits 1;
:class:`UsageError` (a command line that cannot mean anything: contradictory options, an
option value out of range that argparse could not check) exits 2, like argparse's own
usage errors.  Anything else is a bug and keeps its traceback.

This module imports nothing from dlgn, so every layer may import it.
"""
from __future__ import annotations

__all__ = ["DlgnError", "UsageError"]


class DlgnError(Exception):
    """A user error: the message says what is wrong and, where it can, what to do."""


class UsageError(DlgnError, ValueError):
    """A command line or call whose options contradict each other or lie out of range."""
