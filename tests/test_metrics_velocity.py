"""velocity: story points from labels, weighted velocity, trend, confidence, edge cases."""

import math
from datetime import UTC, datetime, timedelta

import pytest

from devmetrics_app.metrics.calc.velocity import (
    IssueFact,
    Sprint,
    confidence,
    story_points,
    trend,
    velocity,
    weighted_velocity,
)
from devmetrics_app.metrics.settings import MetricsSettings

S = MetricsSettings()
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("labels", "points", "source"), [
    (["points: 3"], 3, "points label"),
    (["sp/5"], 5, "points label"),
    (["SP-5"], 5, "points label"),
    (["point 1"], 1, "points label"),
    (["Story Points: 8"], 8, "points label"),
    (["points: 0.5"], 0.5, "points label"),
    (["size: L"], 5, "size label"),
    (["size/xl"], 8, "size label"),
    (["bug", "size: XS"], 1, "size label"),
    (["size: XXL"], 1, "default"),          # unknown size -> default
    ([], 1, "default"),
    (["points: 2", "points: 5"], 5, "points label"),  # re-estimated: the largest
    (["size: L", "points: 2"], 2, "points label"),    # explicit points beat a size
])
def test_story_points(labels, points, source):
    estimate = story_points(labels, S)
    assert (estimate.points, estimate.source) == (points, source)


def test_configured_rules_and_default():
    s = MetricsSettings.from_json({"story_point_labels": [r"^est:(\d+)$"], "size_points": {"big": 13},
                                   "default_points": 0})
    assert story_points(["est:4"], s).points == 4
    assert story_points(["points: 3"], s).points == 0  # not a configured rule -> default 0
    assert story_points(["size: BIG"], s).points == 13


def issue(id_, labels=(), state="CLOSED", reason="completed", author="ann", author_is_bot=False):
    return IssueFact(id=id_, number=id_, repository_id=1, title=f"issue {id_}", state=state,
                     created_at=T0, closed_at=T0 if state == "CLOSED" else None, state_reason=reason,
                     labels=tuple(labels), author_login=author, author_is_bot=author_is_bot)


def sprint(id_, week, issues, state="CLOSED"):
    return Sprint(id=id_, title=f"Sprint {id_}", state=state, starts_at=T0 + timedelta(weeks=week),
                  ends_at=T0 + timedelta(weeks=week + 1), issues=tuple(issues))


def simple(id_, week, points):
    return sprint(id_, week, [issue(id_ * 100, [f"points: {points}"])] if points else [])


def test_hand_computed_five_sprints():
    newest = sprint(5, 4, [
        issue(1, ["points: 3"]), issue(2, ["sp/5"]), issue(3, ["size: S"]),      # 3 + 5 + 2 = 10
        issue(4, ["points: 8"], reason="not_planned"),                           # won't do
        issue(5, ["points: 8"], state="OPEN", reason=None),                      # not done
        issue(6, ["points: 8"], author="renovate[bot]"),                         # a bot's issue
    ])
    sprints = [simple(1, 0, 2), simple(3, 2, 6), newest, simple(2, 1, 4), simple(4, 3, 8),
               sprint(6, 5, [issue(7, ["points: 9"])], state="OPEN")]
    fig = velocity(sprints, settings=S)
    # newest first: 10, 8, 6, 4, 2
    assert [s["points"] for s in fig.details["sprints"]] == [10, 8, 6, 4, 2]
    assert fig.value == pytest.approx(8.0)                # .4*10 + .3*8 + .2*6 + .1*4
    assert fig.details["average"] == 6.0                  # 30 / 5
    assert fig.details["older_average"] == 5.0            # (8 + 6 + 4 + 2) / 4
    assert fig.details["change"] == pytest.approx(0.6)    # (8 - 5) / 5
    assert fig.details["trend"] == "up"
    # last four 10, 8, 6, 4: mean 7, population variance (9+1+1+9)/4 = 5, CV = sqrt(5)/7
    assert fig.details["confidence"] == pytest.approx(1 - math.sqrt(5) / 7)
    assert fig.count == 5
    assert [(e.reason, e.count) for e in fig.excluded] == [("sprint still open", 1)]


def test_fewer_than_four_sprints_renormalise_weights():
    assert weighted_velocity([6, 3]) == pytest.approx(3.3 / 0.7)   # (.4*6 + .3*3) / .7
    assert weighted_velocity([5]) == 5.0
    assert weighted_velocity([]) is None
    assert confidence([6, 3]) == pytest.approx(0.5 * (1 - 1.5 / 4.5))  # 2/4 * (1 - sd/mean)
    fig = velocity([simple(1, 0, 5)], settings=S)
    assert fig.value == 5.0 and fig.details["trend"] is None and fig.details["confidence"] == 0.25
    empty = velocity([], settings=S)
    assert empty.value is None and empty.details["average"] is None and empty.details["confidence"] == 0.0


def test_zero_points_and_zero_older_average_do_not_divide_by_zero():
    zeros = velocity([simple(i, i, 0) for i in range(1, 5)], settings=S)
    assert zeros.value == 0.0 and zeros.details["trend"] == "stable"
    assert zeros.details["change"] is None and zeros.details["confidence"] == 0.0
    rising = velocity([simple(1, 0, 0), simple(2, 1, 0), simple(3, 2, 4)], settings=S)
    assert rising.details["older_average"] == 0.0
    assert rising.details["trend"] == "up" and rising.details["change"] is None
    assert rising.value == pytest.approx(1.6 / 0.9)


def test_trend_thresholds():
    assert trend(10.5, 10) == ("stable", 0.05)    # exactly +5 % is still stable
    assert trend(10.6, 10)[0] == "up"
    assert trend(9.5, 10)[0] == "stable"
    assert trend(9.4, 10)[0] == "down"
    assert trend(None, 3) == (None, None)


def test_confidence_is_bounded_on_generated_histories():
    import random

    rng = random.Random(5)
    for _ in range(500):
        history = [rng.choice([0, 0, 1, 2, 3, 5, 8, 13, 40]) for _ in range(rng.randint(0, 8))]
        c = confidence(history)
        assert 0.0 <= c <= 1.0
        w = weighted_velocity(history)
        if history:
            assert min(history[:4]) - 1e-9 <= w <= max(history[:4]) + 1e-9
