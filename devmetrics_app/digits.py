"""`str.isdigit()` accepts characters `int()` refuses ("²", "٣" parse, "²" does not), so every
check on untrusted text that precedes `int()` uses this instead."""

from __future__ import annotations


def is_decimal(text: str) -> bool:
    """True for a non-empty run of ASCII digits 0-9: exactly what `int()` parses without surprise."""
    return text.isascii() and text.isdigit()
