"""burndown: remaining points per day against the ideal line."""

from datetime import UTC, datetime

from devmetrics_app.metrics.calc.burndown import burndown
from devmetrics_app.metrics.calc.velocity import IssueFact, Sprint
from devmetrics_app.metrics.settings import MetricsSettings

S = MetricsSettings()


def t(day, hour=0):
    return datetime(2024, 3, day, hour, tzinfo=UTC)


def issue(id_, labels, created, closed=None, reason="completed"):
    return IssueFact(id=id_, number=id_, repository_id=1, title=f"i{id_}",
                     state="CLOSED" if closed else "OPEN", created_at=created, closed_at=closed,
                     state_reason=reason if closed else None, labels=tuple(labels))


SPRINT = Sprint(id=1, title="Sprint 10", state="OPEN", starts_at=t(4, 9), ends_at=t(8, 17), issues=(
    issue(1, ["points: 3"], t(1), closed=t(5, 10)),
    issue(2, ["size: M"], t(1), closed=t(7, 12)),               # 3 points
    issue(3, ["points: 2"], t(6, 8)),                           # added mid-sprint, open
    issue(4, [], t(1)),                                         # default 1 point, open
    issue(5, ["points: 5"], t(1), closed=t(5), reason="not_planned"),
))


def test_hand_computed_burndown():
    fig = burndown(SPRINT, settings=S, now=t(7, 15))
    days = fig.details["days"]
    assert fig.details["initial_scope"] == 7        # 3 + 3 + 1 committed at the start
    # ideal over 5 days (Mar 4..8): 7 * (1 - i/4)
    assert [d.ideal for d in days] == [7.0, 5.25, 3.5, 1.75, 0.0]
    assert [d.scope for d in days[:4]] == [7, 7, 9, 9]           # +2 on Mar 6
    assert [d.completed for d in days[:4]] == [0, 3, 3, 6]       # Mar 5 and Mar 7 (by 15:00)
    assert [d.remaining for d in days] == [7, 4, 6, 3, None]     # Mar 8 has not happened
    assert fig.value == 3 and fig.unit == "points"
    assert [(e.reason, e.count) for e in fig.excluded] == [("closed as not planned", 1)]


def test_after_the_sprint_and_one_day_sprint():
    done = burndown(SPRINT, settings=S, now=t(20))
    assert done.details["days"][-1].remaining == 3               # 9 scope - 6 done
    one_day = Sprint(id=2, title="hotfix", state="OPEN", starts_at=t(4, 9), ends_at=t(4, 17),
                     issues=(issue(1, ["points: 2"], t(1)),))
    fig = burndown(one_day, settings=S, now=t(4, 12))
    assert [(d.scope, d.remaining, d.ideal) for d in fig.details["days"]] == [(2, 2, 0.0)]
    empty = Sprint(id=3, title="empty", state="OPEN", starts_at=t(4), ends_at=t(5), issues=())
    assert burndown(empty, settings=S, now=t(1)).value is None  # not started yet


def test_a_milestone_created_empty_is_planned_on_the_day_of_its_first_issue():
    # Created empty on Mar 3 09:00 (GitHub's only start date); planned on Mar 4; #3 added Mar 6.
    sprint = Sprint(id=4, title="Sprint 11", state="CLOSED", starts_at=t(3, 9), ends_at=t(8, 17), issues=(
        issue(1, ["points: 3"], t(4, 9), closed=t(5, 10)),
        issue(2, ["points: 2"], datetime(2024, 3, 4, 10, 30, tzinfo=UTC)),
        issue(3, ["points: 5"], t(6, 8)),
        issue(4, ["points: 1"], t(4, 11), closed=t(7, 12)),
    ))
    fig = burndown(sprint, settings=S, now=t(9))
    days = fig.details["days"]
    # Planned on Mar 4 (its first issue's day): 3 + 2 + 1 = 6 points; Mar 4..8 is 5 days.
    assert fig.details["initial_scope"] == 6 and [d.day.day for d in days] == [4, 5, 6, 7, 8]
    assert [d.ideal for d in days] == [6.0, 4.5, 3.0, 1.5, 0.0]        # 6 * (1 - i/4)
    assert [d.scope for d in days] == [6, 6, 11, 11, 11]               # +5 on Mar 6
    assert [d.scope_change for d in days] == [0, 0, 5, 5, 5]
    assert fig.details["scope_change"] == 5
    assert [d.completed for d in days] == [0, 3, 3, 4, 4]              # #1 Mar 5, #4 Mar 7
    assert [d.remaining for d in days] == [6, 3, 8, 7, 7]
    assert fig.value == 7
