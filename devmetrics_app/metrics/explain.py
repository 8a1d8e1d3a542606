"""The common shape every calculator returns, so the API serialises all metrics alike
(web/api/serialize.py turns these into JSON; nothing in metrics/ does).

A `Figure` is one number with its unit, how many items it was computed from, what was left out
and why (`excluded`), and optionally the items themselves (`items`), which the API shows only
for `?explain=true`. `details` carries the secondary numbers of a figure (average / median / p95,
a benchmark bucket, a trend) that belong to the same headline.

`Period` is the half-open interval [start, end) every period metric is computed over: an event
at exactly `end` belongs to the next period, so adjacent periods never count an item twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Field metadata for a report's fields that only an explained answer carries (a total of the
# items listed, the cursor to page on): web/api/serialize.py leaves them out otherwise.
EXPLAIN_ONLY = "explain_only"


def explain_only() -> Any:
    """A report field present only with `explain=true`; None until then."""
    return field(default=None, metadata={EXPLAIN_ONLY: True})


@dataclass(frozen=True)
class Period:
    """Half-open [start, end) with timezone-aware bounds."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("period bounds must be timezone-aware")
        if self.end <= self.start:
            raise ValueError("period end must be after its start")

    def __contains__(self, moment: object) -> bool:
        return isinstance(moment, datetime) and self.start <= moment < self.end

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400.0


@dataclass(frozen=True)
class Item:
    """One thing behind a figure: a pull request, deployment, incident, sprint, reviewer..."""

    kind: str
    id: int | str
    label: str = ""
    value: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Exclusion:
    """Items left out of a figure for one reason (the count is always shown; items on explain)."""

    reason: str
    count: int
    items: list[Item] = field(default_factory=list)


@dataclass(frozen=True)
class Figure:
    value: float | None
    unit: str
    count: int
    excluded: list[Exclusion] = field(default_factory=list)
    items: list[Item] | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def excluded_count(self) -> int:
        return sum(e.count for e in self.excluded)


class ExclusionLog:
    """Collects excluded items by reason, keeping the order reasons first appeared."""

    def __init__(self) -> None:
        self._by_reason: dict[str, list[Item]] = {}

    def add(self, reason: str, item: Item) -> None:
        self._by_reason.setdefault(reason, []).append(item)

    def extend(self, exclusions: Iterable[Exclusion]) -> None:
        for exclusion in exclusions:
            self._by_reason.setdefault(exclusion.reason, []).extend(exclusion.items)

    def exclusions(self) -> list[Exclusion]:
        return [Exclusion(reason, len(items), list(items)) for reason, items in self._by_reason.items()]

    def count(self, reason: str | None = None) -> int:
        if reason is None:
            return sum(len(v) for v in self._by_reason.values())
        return len(self._by_reason.get(reason, ()))


def hours(delta_seconds: float) -> float:
    return delta_seconds / 3600.0
