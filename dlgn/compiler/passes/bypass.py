"""Wire bypass: a gate computing one of its inputs unchanged is replaced by that input."""
from __future__ import annotations

from .base import rewrite_pass

__all__ = ["bypass_wires"]

bypass_wires = rewrite_pass("bypass_wires", {"bypass"}, """\
    A one-input gate with table 0b10 (x) is removed; its consumers and outputs read its
    input. (Run support reduction first to expose wires hidden in wider gates.)""")
