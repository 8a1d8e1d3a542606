"""builds: success rate over completed runs, with exclusions by conclusion and bots."""

from datetime import UTC, datetime

from devmetrics_app.metrics.calc.builds import WorkflowRunFact, build_success_rate
from devmetrics_app.metrics.explain import Period
from devmetrics_app.metrics.settings import MetricsSettings

S = MetricsSettings()
PERIOD = Period(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 8, tzinfo=UTC))
AT = datetime(2024, 3, 4, tzinfo=UTC)


def run(id_, conclusion, status="completed", at=AT, actor="ann", actor_is_bot=False):
    return WorkflowRunFact(id=id_, repository_id=1, name="CI", head_branch="main", head_sha="s",
                           status=status, conclusion=conclusion, created_at=at,
                           completed_at=at if status == "completed" else None,
                           actor_login=actor, actor_is_bot=actor_is_bot)


def test_hand_computed_rate():
    runs = [run(1, "success"), run(2, "success"), run(3, "success"), run(4, "failure"),
            run(5, "timed_out"), run(6, "cancelled"), run(7, "skipped"),
            run(8, None, status="in_progress"), run(9, "success", actor="dependabot[bot]"),
            run(10, "success", at=datetime(2024, 2, 1, tzinfo=UTC))]
    fig = build_success_rate(runs, period=PERIOD, settings=S)
    assert fig.value == 60.0          # 3 / (3 + 2) * 100
    assert fig.count == 5 and fig.details == {"successes": 3, "failures": 2}
    assert {e.reason: e.count for e in fig.excluded} == {
        "concluded cancelled": 1, "concluded skipped": 1, "not completed yet": 1, "triggered by a bot": 1}


def test_no_runs_is_none_and_bots_can_be_counted():
    assert build_success_rate([], period=PERIOD, settings=S).value is None
    fig = build_success_rate([run(1, "failure", actor="dependabot[bot]")], period=PERIOD,
                             settings=MetricsSettings(exclude_bots=False))
    assert fig.value == 0.0
