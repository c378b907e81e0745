"""Option parsing shared by the subcommands."""
from __future__ import annotations

from ..errors import UsageError

__all__ = ["parse_targets"]


def parse_targets(text: str, known) -> list[str]:
    """A comma-separated target list, lower-cased and deduplicated in order; an unknown
    name is a :class:`~dlgn.errors.UsageError`."""
    out: list[str] = []
    for t in (t.strip().lower() for t in text.split(",")):
        if not t:
            continue
        if t not in known:
            raise UsageError(f"unknown target {t!r}; choose from {', '.join(known)}")
        if t not in out:
            out.append(t)
    return out
