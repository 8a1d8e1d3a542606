"""Figures with their exclusions, and the `explain` lists bounded to `EXPLAIN_LIMIT` with a cursor."""

from __future__ import annotations

from typing import Any

from ..explain import Exclusion, Figure, Item

EXPLAIN_LIMIT = 50


def build_figure(
    value: float | None,
    unit: str,
    count: int,
    excluded: list[tuple[str, int]],
    items: list[Item] | None = None,
    details: dict[str, Any] | None = None,
    excluded_items: dict[str, list[Item]] | None = None,
) -> Figure:
    # A count derived by subtraction can dip below 0 while rollups catch up (the figure then says
    # `pending`): it is never served negative.
    kept = [Exclusion(reason, n, (excluded_items or {}).get(reason, [])) for reason, n in excluded if n > 0]
    return Figure(value, unit, count, kept, items, details or {})


def cursor_offset(cursor: str | None) -> int:
    try:
        return max(0, int(cursor)) if cursor else 0
    except ValueError:
        raise ValueError("cursor must be a value returned as next_cursor") from None


def next_cursor_for(offset: int, total: int) -> str | None:
    return str(offset + EXPLAIN_LIMIT) if offset + EXPLAIN_LIMIT < total else None
