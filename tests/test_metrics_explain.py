"""explain: the Figure shape serialises with and without items."""

from datetime import UTC, datetime

import orjson
import pytest

from devmetrics_app.metrics.explain import Exclusion, ExclusionLog, Figure, Item, Period
from devmetrics_app.web.api.serialize import to_json


def test_figure_json_with_and_without_explain():
    log = ExclusionLog()
    log.add("authored by a bot", Item("pull_request", 4, "#4", details={"rule": "login ends with [bot]"}))
    at = datetime(2024, 3, 4, tzinfo=UTC)
    fig = Figure(2.5, "hours", 2, log.exclusions(), [Item("pull_request", 1, "#1", 2.0, {"at": at})],
                 {"p95": 3.0, "ids": frozenset({3, 1})})
    plain = to_json(fig)
    assert plain == {"value": 2.5, "unit": "hours", "count": 2, "p95": 3.0, "ids": [1, 3],
                     "excluded": [{"reason": "authored by a bot", "count": 1}]}
    full = to_json(fig, explain=True)
    assert full["items"][0]["details"]["at"] == "2024-03-04T00:00:00+00:00"
    assert full["excluded"][0]["items"][0]["details"]["rule"] == "login ends with [bot]"
    orjson.dumps(full)  # JSON-ready
    assert fig.excluded_count == 1


def test_period_is_half_open_and_aware():
    p = Period(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 8, tzinfo=UTC))
    assert p.start in p and p.end not in p and p.days == 7.0
    with pytest.raises(ValueError):
        Period(datetime(2024, 3, 1), datetime(2024, 3, 8))
    with pytest.raises(ValueError):
        Period(p.end, p.start)


def test_exclusion_log_merges_reasons_in_order():
    log = ExclusionLog()
    log.extend([Exclusion("a", 1, [Item("x", 1)])])
    log.add("b", Item("x", 2))
    log.add("a", Item("x", 3))
    assert [(e.reason, e.count) for e in log.exclusions()] == [("a", 2), ("b", 1)]
    assert log.count() == 3 and log.count("a") == 2
