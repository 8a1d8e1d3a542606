"""Typed metric results become JSON here, and only here.

`metrics/read/` returns dataclasses (reports of `Figure`s, `Item`s, counts and dates); the API
handlers, and the pages that show the API's numbers, turn them into JSON-ready values with
`to_json`. A figure's `details` (average, median, p95, a benchmark bucket...) sit beside its
value; its items, and the items behind each exclusion, are listed only when `explain` is asked
for. A report field declared with `metrics.explain.explain_only()` (a total, a cursor) is left
out of an unexplained answer altogether.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from devmetrics_app.metrics.calc.dora import BENCHMARK_SOURCE, Thresholds
from devmetrics_app.metrics.explain import EXPLAIN_ONLY, Figure


def figure_json(figure: Figure, *, explain: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "value": figure.value,
        "unit": figure.unit,
        "count": figure.count,
        "excluded": [
            {"reason": e.reason, "count": e.count,
             **({"items": [to_json(i) for i in e.items]} if explain else {})}
            for e in figure.excluded
        ],
    }
    for key, value in figure.details.items():
        out[key] = to_json(value, explain=explain)
    if explain:
        out["items"] = [to_json(i) for i in figure.items or []]
    return out


def thresholds_json(thresholds: Thresholds) -> dict[str, Any]:
    """A DORA key's cluster boundaries as the API documents them: per level, the rule and the
    2023 report's wording."""
    rules, reported = thresholds.rules(), thresholds.reported()
    return {"unit": thresholds.unit, "source": BENCHMARK_SOURCE,
            **{level: {"rule": rules[level], "report": reported[level]} for level in rules}}


def to_json(value: Any, *, explain: bool = False) -> Any:
    """Figures as `figure_json`, DORA thresholds as `thresholds_json`, other dataclasses as
    dicts of their fields, datetimes as ISO-8601, sets as sorted lists; plain JSON values pass
    through unchanged."""
    if isinstance(value, Figure):
        return figure_json(value, explain=explain)
    if isinstance(value, Thresholds):
        return thresholds_json(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name), explain=explain)
                for f in dataclasses.fields(value)
                if explain or not f.metadata.get(EXPLAIN_ONLY)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v, explain=explain) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(to_json(v, explain=explain) for v in value)
    if isinstance(value, list | tuple):
        return [to_json(v, explain=explain) for v in value]
    return value
