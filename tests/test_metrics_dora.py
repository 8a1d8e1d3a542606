"""dora: the four keys hand-computed, workflow-run fallback, no incidents, 2023 buckets."""

from datetime import UTC, datetime

import pytest

from devmetrics_app.metrics.calc import dora as d
from devmetrics_app.metrics.calc.builds import WorkflowRunFact
from devmetrics_app.metrics.calc.throughput import PullRequestSnapshot
from devmetrics_app.metrics.calc.velocity import IssueFact
from devmetrics_app.metrics.explain import Period
from devmetrics_app.metrics.settings import MetricsSettings
from devmetrics_app.web.api.serialize import to_json

S = MetricsSettings()
PERIOD = Period(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 15, tzinfo=UTC))  # 14 days


def t(day, hour=0, minute=0, month=3):
    return datetime(2024, month, day, hour, minute, tzinfo=UTC)


def dep(id_, at, shas, env="production", state="success", repo=1):
    statuses = (d.DeploymentStatusFact("in_progress", at),) + (
        (d.DeploymentStatusFact(state, at),) if state else ())
    return d.DeploymentFact(id=id_, repository_id=repo, environment=env, sha=f"h{id_}", created_at=at,
                            statuses=statuses, shas=frozenset(shas))


def run(id_, name, branch, conclusion, at, repo=2, sha="w1"):
    return WorkflowRunFact(id=id_, repository_id=repo, name=name, head_branch=branch, head_sha=sha,
                           status="completed", conclusion=conclusion, created_at=at, completed_at=at)


def incident(id_, opened, closed=None, repo=1, reason="completed", labels=("incident",)):
    return IssueFact(id=id_, number=id_, repository_id=repo, title=f"incident {id_}",
                     state="CLOSED" if closed else "OPEN", created_at=opened, closed_at=closed,
                     state_reason=reason if closed else None, labels=labels)


DEPLOYMENTS = [
    dep(0, t(20, 10, month=2), {"c0"}),                    # before the period
    dep(1, t(4, 10), {"c1", "c2"}),
    dep(2, t(4, 16), {"c1", "c2", "c3"}),                  # same day as 1
    dep(3, t(6, 10), {"c4"}, state="failure"),             # a failed deployment
    dep(4, t(7, 10), {"c1", "c2", "c3", "c4", "c5"}),
    dep(5, t(5, 10), {"c6"}, env="staging"),               # not production
    dep(6, t(8, 10), {"c6"}, state=None),                  # still in progress
]
RUNS = [
    run(101, "Deploy", "main", "success", t(11, 12)),      # repo 2 has no deployments: a release
    run(102, "Deploy", "feature", "success", t(11, 13)),   # not the default branch
    run(103, "CI", "main", "success", t(11, 14)),          # not a deploy workflow
    run(104, "Deploy", "main", "success", t(12, 9), repo=1, sha="x"),  # repo 1 has deployments
]
BRANCHES = {1: "main", 2: "main"}
COMMITS = [
    d.CommitFact("c0", 1, t(19, 10, month=2)),
    d.CommitFact("c1", 1, t(4, 8)),                         # D1 at 10:00 -> 2 h
    d.CommitFact("c2", 1, t(3, 10)),                        # D1 -> 24 h
    d.CommitFact("c3", 1, t(4, 12)),                        # D2 at 16:00 -> 4 h
    d.CommitFact("c4", 1, t(5, 10)),                        # D3 failed; D4 on the 7th -> 48 h
    d.CommitFact("c5", 1, t(6, 10), author_login="dependabot[bot]"),
    d.CommitFact("c7", 1, t(10, 10)),                       # never deployed
    d.CommitFact("w1", 2, None, authored_at=t(11, 6)),     # run 101 at 12:00 -> 6 h
]
PULL_REQUESTS = [
    PullRequestSnapshot(id=50, number=50, repository_id=1, title='Revert "Add cache"', state="MERGED",
                        author_login="ann", author_is_bot=False, created_at=t(5, 8), merged_at=t(5, 9)),
    PullRequestSnapshot(id=51, number=51, repository_id=1, title="Add cache", state="MERGED",
                        author_login="ann", author_is_bot=False, created_at=t(3, 8), merged_at=t(3, 9)),
]
INCIDENTS = [
    incident(60, t(8, 10), t(8, 10, 30)),                  # after D4 -> D4 failed; 0.5 h
    incident(61, t(11, 13), t(12, 13), repo=3),            # ops repo: latest release anywhere (run 101); 24 h
    incident(62, t(9), None),                              # still open
    incident(63, t(9), t(9, 1), reason="not_planned"),     # false alarm
    incident(64, t(9), t(9, 2), labels=("bug",)),          # not an incident
]


def report():
    return d.dora(period=PERIOD, settings=S, deployments=DEPLOYMENTS, workflow_runs=RUNS,
                  default_branches=BRANCHES, commits=COMMITS, pull_requests=PULL_REQUESTS,
                  incidents=INCIDENTS)


def test_deployment_frequency_with_workflow_run_fallback():
    f = report().deployment_frequency
    # releases in period: D1, D2 (Mar 4), D4 (Mar 7), run 101 (Mar 11) -> 3 deployment days
    assert f.value == 3.0 and f.unit == "deployment days"
    assert f.details["deployments"] == 4
    assert f.details["sources"] == {"deployment": 3, "workflow_run": 1}
    assert f.details["deployment_days_per_week"] == 1.5     # 3 * 7 / 14
    assert f.details["benchmark"] == "high"
    assert [(e.reason, e.count) for e in f.excluded] == [("deployment without a final status", 1)]


def test_lead_time_for_changes():
    lt = report().lead_time
    # [2, 24, 4, 48, 6] -> median 6 h
    assert sorted(i.value for i in lt.items) == [2.0, 4.0, 6.0, 24.0, 48.0]
    assert lt.value == 6.0 and lt.details["benchmark"] == "elite"
    assert {e.reason: e.count for e in lt.excluded} == {"authored by a bot": 1, "not deployed yet": 1}


def test_change_failure_rate_attribution():
    cfr = report().change_failure_rate
    # attempts in period: D1, D2, D3 (failed), D4, run 101 = 5
    # revert merged Mar 5 09:00 -> latest success in repo 1 = D2; incident 60 -> D4;
    # incident 61 in repo 3 (no releases) -> latest release anywhere = run 101
    failures = {i.id: i.details["failures"] for i in cfr.items if i.value}
    assert set(failures) == {2, 3, 4, 101}
    assert failures[3] == ["failed deployment status"]
    assert failures[2] == ["revert pull_request 50"]
    assert cfr.count == 5 and cfr.details["failed"] == 4
    assert cfr.value == 80.0 and cfr.details["benchmark"] == "low"
    assert [(e.reason, e.count) for e in cfr.excluded] == [("incident closed as not planned", 1)]


def test_time_to_restore():
    ttr = report().time_to_restore
    assert sorted(i.value for i in ttr.items) == [0.5, 24.0]
    assert ttr.value == 12.25 and ttr.details["benchmark"] == "high"   # (0.5 + 24) / 2
    assert {e.reason: e.count for e in ttr.excluded} == {"still open": 1, "closed as not planned": 1}


def test_no_data_at_all():
    r = d.dora(period=PERIOD, settings=S)
    assert r.deployment_frequency.value == 0.0 and r.deployment_frequency.details["benchmark"] is None
    assert r.lead_time.value is None and r.lead_time.details["benchmark"] is None
    assert r.change_failure_rate.value is None and r.change_failure_rate.count == 0
    assert r.time_to_restore.value is None and r.time_to_restore.count == 0


def test_no_incidents_and_no_failures_is_zero_rate():
    releases = d.production_releases([dep(1, t(4, 10), set()), dep(2, t(5, 10), set())], settings=S)
    cfr = d.change_failure_rate(releases, period=PERIOD, settings=S)
    assert cfr.value == 0.0 and cfr.details["benchmark"] == "elite"
    assert d.time_to_restore([], period=PERIOD, settings=S).value is None
    quiet = d.deployment_frequency(releases, period=Period(t(10), t(20)))
    assert quiet.value == 0.0 and quiet.details["benchmark"] == "low"  # releases exist, none here


def test_failure_with_no_release_before_it_is_reported():
    releases = d.production_releases([dep(1, t(10), set())], settings=S)
    cfr = d.change_failure_rate(releases, period=PERIOD, settings=S, incidents=[incident(9, t(2))])
    assert [(e.reason, e.count) for e in cfr.excluded] == [("incident with no deployment before it", 1)]
    assert cfr.value == 0.0


def test_revert_detection_can_be_turned_off():
    releases = d.production_releases([dep(1, t(4), set())], settings=S)
    off = MetricsSettings(revert_detection=False)
    assert d.change_failure_rate(releases, period=PERIOD, settings=off,
                                 pull_requests=PULL_REQUESTS).value == 0.0
    assert d.change_failure_rate(releases, period=PERIOD, settings=S,
                                 pull_requests=PULL_REQUESTS).value == 100.0


@pytest.mark.parametrize(("fn", "value", "bucket"), [
    (d.frequency_bucket, 7.0, "elite"), (d.frequency_bucket, 5.0, "elite"),
    (d.frequency_bucket, 4.99, "high"), (d.frequency_bucket, 1.0, "high"),
    (d.frequency_bucket, 0.99, "medium"), (d.frequency_bucket, 7 / 30, "medium"),
    (d.frequency_bucket, 0.2, "low"), (d.frequency_bucket, 0.0, "low"),
    (d.lead_time_bucket, 23.9, "elite"), (d.lead_time_bucket, 24.0, "high"),
    (d.lead_time_bucket, 167.9, "high"), (d.lead_time_bucket, 168.0, "medium"),
    (d.lead_time_bucket, 720.0, "low"),
    (d.change_failure_bucket, 0.0, "elite"), (d.change_failure_bucket, 5.0, "elite"),
    (d.change_failure_bucket, 7.5, "high"), (d.change_failure_bucket, 10.0, "high"),
    (d.change_failure_bucket, 12.5, "medium"), (d.change_failure_bucket, 15.0, "medium"),
    # 2023 gives medium 15 % and low 64 %: above 15 % is low (no boundary of our own between them).
    (d.change_failure_bucket, 15.1, "low"), (d.change_failure_bucket, 20.0, "low"),
    (d.change_failure_bucket, 39.5, "low"), (d.change_failure_bucket, 64.0, "low"),
    (d.restore_bucket, 0.99, "elite"), (d.restore_bucket, 1.0, "high"),
    (d.restore_bucket, 24.0, "medium"), (d.restore_bucket, 168.0, "low"),
    (d.lead_time_bucket, None, None),
])
def test_2023_benchmark_boundaries(fn, value, bucket):
    assert fn(value) == bucket


def test_cluster_values_fall_in_their_own_bucket():
    assert d.change_failure_bucket(d.ELITE_CHANGE_FAILURE_RATE) == d.ELITE
    assert d.change_failure_bucket(d.HIGH_CHANGE_FAILURE_RATE) == d.HIGH
    assert d.change_failure_bucket(d.MEDIUM_CHANGE_FAILURE_RATE) == d.MEDIUM
    assert d.change_failure_bucket(d.LOW_CHANGE_FAILURE_RATE) == d.LOW


def test_thresholds_are_documented_in_one_place_and_in_the_openapi_description():
    from devmetrics_app.web.api.openapi import document

    # The 2023 report's cluster values (dora.dev/research/2023/dora-report), written out here.
    levels = ("elite", "high", "medium", "low")
    cfr = to_json(d.DORA_THRESHOLDS["change_failure_rate"])
    assert [cfr[level]["rule"] for level in levels] == ["<= 5", "<= 10", "<= 15", "> 15"]
    assert [cfr[level]["report"] for level in levels] == ["5%", "10%", "15%", "64%"]
    lead = to_json(d.DORA_THRESHOLDS["lead_time"])
    assert [lead[level]["rule"] for level in levels] == [
        "< 24", "< 168", "< 720", ">= 720"]
    assert lead["unit"] == "hours" and "2023" in lead["source"]
    description = document()["paths"]["/api/metrics/dora"]["get"]["description"]
    for key, thresholds in d.DORA_THRESHOLDS.items():
        assert f"{key}: {thresholds.describe()}" in description
    assert "change_failure_rate: elite <= 5, high <= 10, medium <= 15, low > 15 (%)" in description
