"""Event-driven rules over real rows: each type firing, and not firing, at its boundary; digests;
dedupe across redelivered events."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import payloads
import pytest
from conftest import deliver
from test_notify_review_clock import install, make_rule, opened

from devmetrics_app.crypto import SecretBox
from devmetrics_app.jobs import notify_actors  # noqa: F401 - declares the actors (broker.configure will)
from devmetrics_app.notify import evaluate, scheduler
from devmetrics_app.notify.evaluate import handle_event

INST = payloads.ORG_INSTALLATION_ID
SOON = payloads.EPOCH + timedelta(hours=1)


def sample(event: str, label: str) -> dict:
    return copy.deepcopy(next(p for e, c, p in payloads.ALL_SAMPLES if (e, c) == (event, label)))


@pytest.fixture
async def box(pool, settings) -> SecretBox:
    await install(pool)
    return SecretBox(settings.secret_key.get())


async def fired(pool, event: str, subject_id: int, now=SOON) -> list[str]:
    return [k.subject_key for k in await handle_event(pool, INST, event, subject_id, now=now)]


async def test_pr_opened_once_across_redeliveries(pool, box) -> None:
    await make_rule(pool, box, "pr_opened", {}, channels=["in_app", "slack"], slack_channel="#eng")
    await deliver(pool, "pull_request", opened())
    pr_id = payloads.pr_id(payloads.REPO_API_ID, 7)
    assert await fired(pool, "pull_request.opened", pr_id) == ["pr:2005010007"] * 2
    # The same event again (a redelivery, a retried job, ready_for_review after opened): nothing.
    assert await fired(pool, "pull_request.opened", pr_id) == []
    assert await fired(pool, "pull_request.ready_for_review", pr_id) == []
    logs = await pool.fetch("SELECT channel, status FROM notification_logs ORDER BY id")
    assert {(r["channel"], r["status"]) for r in logs} == {("in_app", "suppressed"), ("slack", "suppressed")}
    assert await pool.fetchval("SELECT count(*) FROM notification_sends") == 2


async def test_pr_opened_skips_drafts_bots_stale_and_out_of_scope(pool, box) -> None:
    await make_rule(pool, box, "pr_opened", {})
    await deliver(pool, "pull_request", opened(1, draft=True))
    await deliver(pool, "pull_request", sample("pull_request", "opened-by-bot"))
    await deliver(pool, "pull_request", opened(2))
    pr = payloads.pr_id(payloads.REPO_API_ID, 1)
    assert await fired(pool, "pull_request.opened", pr) == []
    bot_pr = payloads.pr_id(payloads.REPO_API_ID, 11)
    assert await fired(pool, "pull_request.opened", bot_pr, now=payloads.EPOCH + timedelta(hours=8)) == []
    fresh = payloads.pr_id(payloads.REPO_API_ID, 2)
    # 24 hours is the freshness boundary: replayed history does not announce old PRs.
    too_late = payloads.EPOCH + timedelta(hours=24, minutes=1)
    assert await fired(pool, "pull_request.opened", fresh, now=too_late) == []
    just_in_time = too_late - timedelta(minutes=2)
    assert await fired(pool, "pull_request.opened", fresh, now=just_in_time) == ["pr:2005010002"]


async def test_pr_opened_scopes_by_label_author_and_repository(pool, box) -> None:
    await make_rule(pool, box, "pr_opened", {"include_drafts": True}, labels=["Security"],
                    authors=["ALICE"], repository_ids=[payloads.REPO_API_ID])
    security = payloads.label("security")
    await deliver(pool, "pull_request", opened(1, labels=[security]))
    await deliver(pool, "pull_request", opened(2))
    await deliver(pool, "pull_request", opened(3, labels=[security], user=payloads.BOB))
    await deliver(pool, "pull_request", opened(4, labels=[security], draft=True))
    ids = {n: payloads.pr_id(payloads.REPO_API_ID, n) for n in (1, 2, 3, 4)}
    assert await fired(pool, "pull_request.opened", ids[1]) == [f"pr:{ids[1]}"]
    assert await fired(pool, "pull_request.opened", ids[2]) == []
    assert await fired(pool, "pull_request.opened", ids[3]) == []
    assert await fired(pool, "pull_request.opened", ids[4]) == [f"pr:{ids[4]}"]


async def test_merged_without_review_needs_no_standing_approval(pool, box) -> None:
    await make_rule(pool, box, "pr_merged_without_review", {})
    merged = sample("pull_request", "closed-merged")
    await deliver(pool, "pull_request", merged)
    pr_id = merged["pull_request"]["id"]
    after_merge = payloads.EPOCH + timedelta(minutes=260)
    assert await fired(pool, "pull_request.closed", pr_id, now=after_merge) == [f"pr:{pr_id}"]
    # The same PR with an approval before the merge is not news.
    await pool.execute("TRUNCATE notification_sends, notification_logs")
    await deliver(pool, "pull_request_review", sample("pull_request_review", "submitted-approved"))
    assert await fired(pool, "pull_request.closed", pr_id, now=after_merge) == []


async def test_build_failed_only_on_the_default_branch(pool, box) -> None:
    await make_rule(pool, box, "build_failed", {})

    def run_event(branch: str, event: str, conclusion: str, attempt: int = 1) -> dict:
        run = payloads.workflow_run(event=event, head_branch=branch, conclusion=conclusion,
                                    run_attempt=attempt, created_at=payloads.at(30), id=900 + attempt)
        return payloads.workflow_run_event("completed", run)

    await deliver(pool, "workflow_run", run_event("feature/login", "pull_request", "failure"))
    assert await fired(pool, "workflow_run.completed", 901) == []
    await deliver(pool, "workflow_run", run_event("main", "push", "success"))
    assert await fired(pool, "workflow_run.completed", 901) == []
    await deliver(pool, "workflow_run", run_event("main", "push", "failure", attempt=2))
    assert await fired(pool, "workflow_run.completed", 902) == ["run:902"]
    message = await pool.fetchval("SELECT payload FROM notification_sends")
    assert message["title"].startswith("Build failed on acme/api@main")
    assert message["url"].endswith("/actions/runs/902")


async def test_build_failed_reruns_are_new_windows(pool, box) -> None:
    await make_rule(pool, box, "build_failed", {"workflows": ["CI"]})
    for attempt in (1, 2):
        run = payloads.workflow_run(event="push", head_branch="main", conclusion="failure",
                                    run_attempt=attempt, created_at=payloads.at(30 * attempt), id=777)
        await deliver(pool, "workflow_run", payloads.workflow_run_event("completed", run))
        assert await fired(pool, "workflow_run.completed", 777) == ["run:777"]
    windows = [r["window_key"] for r in await pool.fetch(
        "SELECT window_key FROM notification_sends ORDER BY window_key")]
    assert windows == ["attempt:1", "attempt:2"]


async def test_deployment_failed_by_state_and_environment(pool, box) -> None:
    await make_rule(pool, box, "deployment_failed", {"environments": ["production"]})
    await make_rule(pool, box, "deployment_failed", {})
    failed = sample("deployment_status", "failure")  # staging
    await deliver(pool, "deployment_status", failed)
    keys = await handle_event(pool, INST, "deployment_status.created", failed["deployment_status"]["id"],
                              now=SOON + timedelta(hours=3))
    assert len(keys) == 1  # only the rule without an environment filter
    ok = sample("deployment_status", "success")
    await deliver(pool, "deployment_status", ok)
    assert await fired(pool, "deployment_status.created", ok["deployment_status"]["id"],
                       now=SOON + timedelta(hours=3)) == []


async def test_high_risk_at_the_threshold(pool, box) -> None:
    await make_rule(pool, box, "pr_high_risk", {"min_risk": 80}, channels=["in_app"])
    await make_rule(pool, box, "pr_high_risk", {"min_risk": 81}, channels=["in_app"])
    await deliver(pool, "pull_request", opened())
    pr_id = payloads.pr_id(payloads.REPO_API_ID, 7)
    analysis_id = await pool.fetchval(
        """INSERT INTO ai_reviews (installation_id, repository_id, pull_request_id, head_sha,
               diff_hash, prompt_version, status, risk_score, summary, completed_at)
           VALUES ($1, $2, $3, 'abc', 'd', 'v1', 'completed', 80, 'Touches auth.', $4)
           RETURNING id""", INST, payloads.REPO_API_ID, pr_id, SOON)
    keys = await handle_event(pool, INST, "ai_review.completed", analysis_id, now=SOON)
    assert len(keys) == 1
    message = await pool.fetchval("SELECT payload FROM notification_sends")
    assert "80/100" in message["body"] and ["Risk", "80/100"] in message["fields"]
    # Another installation cannot make this installation's analysis fire.
    assert await handle_event(pool, payloads.SOLO_INSTALLATION_ID, "ai_review.completed",
                              analysis_id, now=SOON) == []


async def test_on_analysis_completed_claims_and_enqueues(pool, box, broker) -> None:
    await make_rule(pool, box, "pr_high_risk", {"min_risk": 50})
    await deliver(pool, "pull_request", opened(1))
    pr_id = payloads.pr_id(payloads.REPO_API_ID, 1)
    analysis_id = await pool.fetchval(
        """INSERT INTO ai_reviews (installation_id, repository_id, pull_request_id, head_sha,
               diff_hash, prompt_version, status, risk_score, completed_at)
           VALUES ($1, $2, $3, 'abc', 'd', 'v1', 'completed', 90, now()) RETURNING id""",
        INST, payloads.REPO_API_ID, pr_id)
    keys = await evaluate.on_analysis_completed(pool, analysis_id)
    assert [k.channel for k in keys] == ["in_app"]
    assert broker.client.keys(f"{broker.namespace}:notifications*")  # the send job is queued


@pytest.mark.parametrize(("hour_utc", "expected"), [(7, 1), (6, 0), (8, 0)])
async def test_daily_digest_goes_out_in_its_local_hour(pool, box, settings, hour_utc, expected) -> None:
    await make_rule(pool, box, "digest", {"frequency": "daily", "hour": 9, "timezone": "Europe/Berlin"})
    await deliver(pool, "pull_request", opened())
    await deliver(pool, "pull_request", sample("pull_request", "closed-merged"))
    now = datetime(2024, 5, 2, hour_utc, 30, tzinfo=UTC)  # 09:30 in Berlin (CEST) for hour 7
    result = await scheduler.tick(pool, settings, now=now)
    assert len(result.claimed) == expected
    if expected:
        again = await scheduler.tick(pool, settings, now=now + timedelta(minutes=20))
        assert again.claimed == []
        message = await pool.fetchval("SELECT payload FROM notification_sends")
        fields = dict(message["fields"])
        assert message["title"] == "Daily digest for acme: 24 hours to 2024-05-02 09:00 CEST"
        assert fields["PRs opened"] == "1" and fields["PRs merged"] == "1"
        assert message["url"] == "http://localhost:8000/dashboard"


async def test_weekly_digest_only_on_its_weekday(pool, box, settings) -> None:
    await make_rule(pool, box, "digest", {"frequency": "weekly", "hour": 8, "weekday": 4})
    wednesday = datetime(2024, 5, 1, 8, 5, tzinfo=UTC)
    assert (await scheduler.tick(pool, settings, now=wednesday)).claimed == []
    thursday = wednesday + timedelta(days=1)
    claimed = (await scheduler.tick(pool, settings, now=thursday)).claimed
    assert [k.window_key for k in claimed] == ["weekly:2024-W18"]
