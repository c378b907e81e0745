"""Inverter absorption into consumers' tables and the head's per-output polarity."""
from __future__ import annotations

from .base import rewrite_pass

__all__ = ["absorb_inverters"]

absorb_inverters = rewrite_pass("absorb_inverters", {"absorb"}, """\
    A one-input gate with table 0b01 (NOT x) is removed: each consumer complements that
    input in its table and each output reading it flips its polarity (``invert``). Every
    other gate is stored in the polarity whose table is 0 on the all-zeros input, the
    complement moving into its consumers and outputs the same way, so that complementary
    gates hash alike.""")
