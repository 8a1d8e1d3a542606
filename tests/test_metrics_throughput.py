"""throughput, review load and work in progress."""

from datetime import UTC, datetime

from devmetrics_app.metrics.calc.throughput import (
    PullRequestSnapshot,
    review_load,
    throughput,
    work_in_progress,
)
from devmetrics_app.metrics.calc.velocity import IssueFact
from devmetrics_app.metrics.explain import Period
from devmetrics_app.metrics.settings import MetricsSettings

S = MetricsSettings()
PERIOD = Period(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 8, tzinfo=UTC))
IN = datetime(2024, 3, 4, tzinfo=UTC)
OUT = datetime(2024, 3, 8, tzinfo=UTC)  # the period's end belongs to the next period


def pr(id_, state="OPEN", author="ann", bot=False, merged=None, draft=False, reviewers=(), teams=()):
    return PullRequestSnapshot(id=id_, number=id_, repository_id=1, title=f"pr {id_}", state=state,
                               author_login=author, author_is_bot=bot, created_at=IN, draft=draft,
                               merged_at=merged, requested_reviewers=tuple(reviewers),
                               requested_teams=tuple(teams))


def issue(id_, state="CLOSED", closed=IN, reason="completed", author="ann", assignees=(), bots=()):
    return IssueFact(id=id_, number=id_, repository_id=1, title=f"i{id_}", state=state, created_at=IN,
                     closed_at=closed if state == "CLOSED" else None, state_reason=reason,
                     author_login=author, assignee_logins=tuple(assignees), assignees_are_bots=tuple(bots))


def test_throughput():
    prs = [pr(1, "MERGED", merged=IN), pr(2, "MERGED", merged=IN), pr(3, "MERGED", merged=OUT),
           pr(4, "MERGED", author="dependabot[bot]", merged=IN), pr(5, "CLOSED")]
    issues = [issue(1), issue(2, reason="not_planned"), issue(3, author="github-actions[bot]"),
              issue(4, closed=OUT), issue(5, state="OPEN")]
    r = throughput(prs, issues, period=PERIOD, settings=S)
    assert r.pull_requests_merged.value == 2.0
    assert [(e.reason, e.count) for e in r.pull_requests_merged.excluded] == [("authored by a bot", 1)]
    assert r.issues_closed.value == 1.0
    assert {e.reason: e.count for e in r.issues_closed.excluded} == {
        "closed as not planned": 1, "opened by a bot": 1}


def test_review_load():
    prs = [
        pr(1, reviewers=[("bob", False), ("carol", False)], teams=["backend"]),
        pr(2, reviewers=[("bob", False), ("copilot", True)]),
        pr(3, reviewers=[("bob", False)], draft=True),                     # draft: not waiting
        pr(4, reviewers=[("carol", False)], author="renovate[bot]", bot=True),
        pr(5, "MERGED", reviewers=[("bob", False)], merged=IN),            # closed: no load
    ]
    fig = review_load(prs, settings=S)
    assert fig.value == 3.0                                                # bob 2 + carol 1
    assert fig.details["per_reviewer"] == {"bob": 2, "carol": 1}
    assert fig.details["team_requests"] == {"backend": 1}
    assert {e.reason: e.count for e in fig.excluded} == {
        "team request (not a person)": 1, "reviewer is a bot": 1, "draft": 1, "authored by a bot": 1}


def test_work_in_progress():
    prs = [pr(1), pr(2, draft=True), pr(3, author="bob"), pr(4, "MERGED", merged=IN),
           pr(5, author="dependabot[bot]")]
    issues = [issue(1, state="OPEN", assignees=["ann", "bob"]),
              issue(2, state="OPEN", assignees=["carol", "copilot"], bots=[False, True]),
              issue(3, assignees=["ann"])]                                 # closed: not WIP
    fig = work_in_progress(prs, issues, settings=S)
    assert fig.details["per_person"] == {
        "ann": {"pull_requests": 2, "issues": 1, "total": 3},
        "bob": {"pull_requests": 1, "issues": 1, "total": 2},
        "carol": {"pull_requests": 0, "issues": 1, "total": 1},
    }
    assert fig.details["total"] == 6 and fig.value == 2.0                  # 6 items / 3 people
    assert {e.reason: e.count for e in fig.excluded} == {"authored by a bot": 1, "assignee is a bot": 1}
    assert work_in_progress([], [], settings=S).value is None
