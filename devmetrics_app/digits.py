"""`str.isdigit()` accepts characters `int()` refuses ("²", "٣" parse, "²" does not), so every
check on untrusted text that precedes `int()` uses this instead."""

from __future__ import annotations


def is_decimal(text: str) -> bool:
    """True for a non-empty run of ASCII digits 0-9: exactly what `int()` parses without surprise."""
    return text.isascii() and text.isdigit()


def bounded_int(text: str, maximum: int) -> int | None:
    """`text` as an int when it is decimal and at most `maximum`, else None. A long run of digits
    is refused by its length first: `int()` raises past 4,300 digits, and need not work so hard."""
    if not is_decimal(text) or len(text) > len(str(maximum)):
        return None
    value = int(text)
    return value if value <= maximum else None
