"""UTC days, the unit every rollup row is keyed by."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def parse_days(days: Iterable[str | date]) -> list[date]:
    return sorted({d if isinstance(d, date) else date.fromisoformat(d) for d in days})
