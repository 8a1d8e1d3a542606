"""Empty-safe summary statistics.

`percentile` is PostgreSQL's `percentile_cont` to the bit: the fraction is mapped onto the
sorted values at position p·(n-1) and the two neighbours are interpolated as
`lo + (hi - lo)·(pos - floor(pos))`, the same float operations as `float8_lerp` in
PostgreSQL's orderedsetaggs.c. So a figure computed here equals the one a rollup query returns.
Every function returns None for no values instead of raising: "no data" is not zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


def _sorted(values: Iterable[float]) -> list[float]:
    out = [float(v) for v in values]
    for v in out:
        if math.isnan(v):
            raise ValueError("NaN is not a measurement")
    out.sort()
    return out


def mean(values: Iterable[float]) -> float | None:
    """Σx / n; None when empty."""
    data = [float(v) for v in values]
    if not data:
        return None
    return math.fsum(data) / len(data)


def percentile(values: Iterable[float], fraction: float) -> float | None:
    """percentile_cont(fraction): with sorted x₀…xₙ₋₁, pos = fraction·(n-1),
    result = x[⌊pos⌋] + (x[⌈pos⌉] - x[⌊pos⌋])·(pos - ⌊pos⌋). None when empty."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("percentile fraction must be within [0, 1]")
    data = _sorted(values)
    if not data:
        return None
    position = fraction * (len(data) - 1)
    first = math.floor(position)
    second = math.ceil(position)
    lo, hi = data[first], data[second]
    if first == second:
        return lo
    return lo + (hi - lo) * (position - first)


def median(values: Iterable[float]) -> float | None:
    """percentile_cont(0.5): the middle value, or the mean of the two middle ones."""
    return percentile(values, 0.5)


@dataclass(frozen=True)
class Summary:
    count: int
    average: float | None
    median: float | None
    p95: float | None


def summarize(values: Iterable[float]) -> Summary:
    data = list(values)
    return Summary(len(data), mean(data), median(data), percentile(data, 0.95))
