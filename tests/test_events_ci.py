"""workflow_run, check_suite and check_run handlers, against the real database."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import asyncpg
import payloads as p
import pytest
from conftest import deliver
from payloads import sample

from devmetrics_app.events import ci

PR7 = p.pull_request(7, repo=p.REPO_API, user=p.ALICE, head_ref="feature/login",
                     head_sha=p.sha("acme/api#7:v2"), created_at=p.at(0), updated_at=p.at(150))
BOOKKEEPING = ("created_at", "updated_at")




def ts(minutes: float) -> datetime:
    return datetime.fromisoformat(p.at(minutes).replace("Z", "+00:00"))


async def send(pool: asyncpg.Pool, event: str, payload: dict[str, Any], **kw: Any) -> str | None:
    return await deliver(pool, event, payload, router=ci.router, **kw)


async def fetch(pool: asyncpg.Pool, table: str, row_id: int) -> dict[str, Any]:
    row = await pool.fetchrow(f"SELECT * FROM {table} WHERE id = $1", row_id)  # noqa: S608
    assert row is not None, f"no {table} row {row_id}"
    return dict(row)


def content(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in BOOKKEEPING}


def run_id(payload: dict[str, Any]) -> int:
    return int(payload["workflow_run"]["id"])


# --------------------------------------------------------------------------- workflow runs


async def test_workflow_run_requested_in_progress_completed(pool: asyncpg.Pool) -> None:
    requested = sample("workflow_run", "requested")
    assert await send(pool, "workflow_run", requested) == "processed"
    row = await fetch(pool, "workflow_runs", run_id(requested))
    assert (row["status"], row["conclusion"], row["completed_at"]) == ("queued", None, None)
    assert row["installation_id"] == p.ORG_INSTALLATION_ID and row["repository_id"] == p.REPO_API_ID
    assert row["pull_request_numbers"] == [7]
    assert row["name"] == "CI" and row["event"] == "pull_request" and row["run_attempt"] == 1
    assert row["actor_id"] == p.ALICE["id"] and row["head_branch"] == "feature/login"

    assert await send(pool, "workflow_run", sample("workflow_run", "in_progress")) == "processed"
    row = await fetch(pool, "workflow_runs", run_id(requested))
    assert (row["status"], row["completed_at"]) == ("in_progress", None)

    assert await send(pool, "workflow_run", sample("workflow_run", "completed-success")) == "processed"
    row = await fetch(pool, "workflow_runs", run_id(requested))
    assert (row["status"], row["conclusion"]) == ("completed", "success")
    assert row["completed_at"] == ts(165) and row["github_updated_at"] == ts(165)
    # The full repository object came from the top level, not the url-only nested one.
    repo = await pool.fetchrow("SELECT * FROM repositories WHERE id = $1", p.REPO_API_ID)
    assert repo["default_branch"] == "main" and repo["github_created_at"] is not None


async def test_workflow_run_late_in_progress_does_not_undo_completion(pool: asyncpg.Pool) -> None:
    completed = sample("workflow_run", "completed-success")
    assert await send(pool, "workflow_run", completed) == "processed"
    assert await send(pool, "workflow_run", sample("workflow_run", "in_progress")) == "processed"
    assert await send(pool, "workflow_run", sample("workflow_run", "requested")) == "processed"
    row = await fetch(pool, "workflow_runs", run_id(completed))
    assert (row["status"], row["conclusion"], row["completed_at"]) == ("completed", "success", ts(165))


@pytest.mark.parametrize("order", ["in_order", "rerun_first"])
async def test_rerun_ends_with_newest_attempt(pool: asyncpg.Pool, order: str) -> None:
    first = sample("workflow_run", "completed-success")
    rerun = sample("workflow_run", "completed-failure-rerun")
    assert run_id(first) == run_id(rerun)
    sequence = [first, rerun] if order == "in_order" else [rerun, first]
    for payload in sequence:
        assert await send(pool, "workflow_run", payload) == "processed"
    row = await fetch(pool, "workflow_runs", run_id(first))
    assert (row["run_attempt"], row["conclusion"]) == (2, "failure")
    assert row["completed_at"] == ts(170)
    assert row["actor_id"] == p.BOB["id"]


async def test_rerun_requested_clears_previous_attempts_completion(pool: asyncpg.Pool) -> None:
    assert await send(pool, "workflow_run", sample("workflow_run", "completed-success")) == "processed"
    queued = p.workflow_run_event("requested", p.workflow_run(
        pr=PR7, status="queued", conclusion=None, run_attempt=2, updated_at=p.at(168)))
    assert await send(pool, "workflow_run", queued) == "processed"
    row = await fetch(pool, "workflow_runs", run_id(queued))
    assert (row["run_attempt"], row["status"], row["completed_at"]) == (2, "queued", None)


async def test_completed_at_keeps_first_completion_of_an_attempt(pool: asyncpg.Pool) -> None:
    first = sample("workflow_run", "completed-success")
    later = p.workflow_run_event("completed", p.workflow_run(pr=PR7, updated_at=p.at(180)))
    assert await send(pool, "workflow_run", first) == "processed"
    assert await send(pool, "workflow_run", later) == "processed"
    row = await fetch(pool, "workflow_runs", run_id(first))
    assert row["completed_at"] == ts(165) and row["github_updated_at"] == ts(180)


async def test_workflow_run_replay(pool: asyncpg.Pool) -> None:
    payload = sample("workflow_run", "completed-success")
    assert await send(pool, "workflow_run", payload, delivery_id="wr-1") == "processed"
    assert await send(pool, "workflow_run", payload, delivery_id="wr-1") is None
    before = content(await fetch(pool, "workflow_runs", run_id(payload)))
    assert await send(pool, "workflow_run", payload, delivery_id="wr-2") == "processed"
    assert content(await fetch(pool, "workflow_runs", run_id(payload))) == before
    assert await pool.fetchval("SELECT count(*) FROM workflow_runs") == 1


async def test_fork_workflow_run_has_no_pull_requests(pool: asyncpg.Pool) -> None:
    payload = sample("workflow_run", "completed-fork-no-pull_requests")
    assert payload["workflow_run"]["pull_requests"] == []
    assert await send(pool, "workflow_run", payload) == "processed"
    row = await fetch(pool, "workflow_runs", run_id(payload))
    assert row["pull_request_numbers"] == [] and row["conclusion"] == "failure"
    assert row["actor_id"] == p.OUTSIDER["id"] and row["head_branch"] == "patch-1"


async def test_pull_requests_of_other_repositories_are_ignored(pool: asyncpg.Pool) -> None:
    payload = sample("workflow_run", "completed-success")
    foreign = copy.deepcopy(payload["workflow_run"]["pull_requests"][0])
    foreign["number"] = 99
    foreign["base"]["repo"]["id"] = p.REPO_FORK_ID
    payload["workflow_run"]["pull_requests"].append(foreign)
    assert await send(pool, "workflow_run", payload) == "processed"
    assert (await fetch(pool, "workflow_runs", run_id(payload)))["pull_request_numbers"] == [7]


async def test_push_run_by_bot(pool: asyncpg.Pool) -> None:
    payload = sample("workflow_run", "completed-push-main-by-bot")
    assert await send(pool, "workflow_run", payload) == "processed"
    row = await fetch(pool, "workflow_runs", run_id(payload))
    assert (row["event"], row["head_branch"], row["actor_id"]) == ("push", "main", p.DEPENDABOT_ID)
    assert await pool.fetchval("SELECT is_bot FROM users WHERE id = $1", p.DEPENDABOT_ID) is True


async def test_workflow_run_null_actor(pool: asyncpg.Pool) -> None:
    run = p.workflow_run(event="schedule", head_branch="main", created_at=p.at(300))
    run["actor"] = None
    run["triggering_actor"] = None
    payload = p.workflow_run_event("completed", run, sender=p.GHOST)
    assert await send(pool, "workflow_run", payload) == "processed"
    assert (await fetch(pool, "workflow_runs", run["id"]))["actor_id"] is None


async def test_workflow_run_in_user_account_repository(pool: asyncpg.Pool) -> None:
    run = p.workflow_run(repo=p.REPO_TOOL, event="push", head_branch="main", actor=p.SOLO)
    payload = p.workflow_run_event("completed", run, repo=p.REPO_TOOL)
    assert await send(pool, "workflow_run", payload) == "processed"
    row = await fetch(pool, "workflow_runs", run["id"])
    assert (row["installation_id"], row["repository_id"]) == (p.SOLO_INSTALLATION_ID, p.REPO_TOOL_ID)
    repo = await fetch(pool, "repositories", p.REPO_TOOL_ID)
    assert repo["owner_login"] == "solo"


# --------------------------------------------------------------------------- check suites


async def test_check_suite_actions(pool: asyncpg.Pool) -> None:
    requested = sample("check_suite", "requested")
    suite_id = requested["check_suite"]["id"]
    assert await send(pool, "check_suite", requested) == "processed"
    row = await fetch(pool, "check_suites", suite_id)
    assert (row["status"], row["conclusion"], row["app_slug"]) == ("queued", None, p.APP_SLUG)
    assert row["pull_request_numbers"] == [7] and row["head_sha"] == PR7["head"]["sha"]
    assert await send(pool, "check_suite", sample("check_suite", "rerequested")) == "processed"
    assert (await fetch(pool, "check_suites", suite_id))["status"] == "queued"

    completed = sample("check_suite", "completed")
    assert await send(pool, "check_suite", completed) == "processed"
    row = await fetch(pool, "check_suites", completed["check_suite"]["id"])
    assert (row["status"], row["conclusion"]) == ("completed", "success")
    assert (row["app_id"], row["app_slug"]) == (p.GITHUB_ACTIONS_APP_ID, "github-actions")
    assert await pool.fetchval("SELECT count(*) FROM check_suites") == 2


async def test_check_suite_out_of_order_and_replay(pool: asyncpg.Pool) -> None:
    done = p.check_suite(pr=PR7, status="completed", conclusion="failure", updated_at=p.at(170))
    queued = p.check_suite(pr=PR7, status="queued", conclusion=None)
    assert await send(pool, "check_suite", p.check_suite_event("completed", done), delivery_id="cs") \
        == "processed"
    assert await send(pool, "check_suite", p.check_suite_event("completed", done), delivery_id="cs") \
        is None
    assert await send(pool, "check_suite", p.check_suite_event("requested", queued)) == "processed"
    row = await fetch(pool, "check_suites", done["id"])
    assert (row["status"], row["conclusion"]) == ("completed", "failure")


async def test_fork_check_suite_has_no_pull_requests(pool: asyncpg.Pool) -> None:
    fork_pr = p.pull_request(9, repo=p.REPO_API, user=p.OUTSIDER, head_ref="patch-1",
                             head_repo=p.REPO_FORK, created_at=p.at(400))
    suite = p.check_suite(pr=fork_pr, suite_app=p.GITHUB_ACTIONS_APP)
    assert await send(pool, "check_suite", p.check_suite_event("completed", suite)) == "processed"
    assert (await fetch(pool, "check_suites", suite["id"]))["pull_request_numbers"] == []


# --------------------------------------------------------------------------- check runs


async def test_check_run_created_then_completed(pool: asyncpg.Pool) -> None:
    created = sample("check_run", "created")
    check_id = created["check_run"]["id"]
    assert await send(pool, "check_run", created) == "processed"
    row = await fetch(pool, "check_runs", check_id)
    assert (row["status"], row["conclusion"], row["completed_at"]) == ("queued", None, None)
    assert row["version_at"] == ts(151) and row["name"] == "DevMetrics PR analysis"
    assert row["check_suite_id"] == created["check_run"]["check_suite"]["id"]
    assert row["pull_request_numbers"] == [7] and row["external_id"] is None
    # The nested suite summary is stored too.
    await fetch(pool, "check_suites", row["check_suite_id"])

    assert await send(pool, "check_run", sample("check_run", "completed")) == "processed"
    row = await fetch(pool, "check_runs", check_id)
    assert (row["status"], row["conclusion"]) == ("completed", "success")
    assert row["completed_at"] == ts(160) and row["version_at"] == ts(160)


async def test_check_run_late_created_does_not_undo_completion(pool: asyncpg.Pool) -> None:
    completed = sample("check_run", "completed")
    assert await send(pool, "check_run", completed) == "processed"
    assert await send(pool, "check_run", sample("check_run", "created")) == "processed"
    row = await fetch(pool, "check_runs", completed["check_run"]["id"])
    assert (row["status"], row["conclusion"], row["version_at"]) == ("completed", "success", ts(160))


@pytest.mark.parametrize("name", ["rerequested", "requested_action"])
async def test_check_run_rerequested_and_requested_action_upsert(pool: asyncpg.Pool, name: str) -> None:
    payload = sample("check_run", name)
    assert await send(pool, "check_run", payload) == "processed"
    row = await fetch(pool, "check_runs", payload["check_run"]["id"])
    assert (row["status"], row["conclusion"]) == ("completed", "success")


async def test_check_run_replay(pool: asyncpg.Pool) -> None:
    payload = sample("check_run", "completed-actions-failure")
    check_id = payload["check_run"]["id"]
    assert await send(pool, "check_run", payload, delivery_id="cr-1") == "processed"
    assert await send(pool, "check_run", payload, delivery_id="cr-1") is None
    before = await fetch(pool, "check_runs", check_id)
    assert await send(pool, "check_run", payload, delivery_id="cr-2") == "processed"
    assert await fetch(pool, "check_runs", check_id) == before
    assert before["conclusion"] == "failure" and before["app_slug"] == "github-actions"


async def test_fork_check_run_has_no_pull_requests(pool: asyncpg.Pool) -> None:
    payload = sample("check_run", "completed-fork-no-pull_requests")
    assert payload["check_run"]["pull_requests"] == []
    assert await send(pool, "check_run", payload) == "processed"
    row = await fetch(pool, "check_runs", payload["check_run"]["id"])
    assert row["pull_request_numbers"] == [] and row["conclusion"] == "success"


@pytest.mark.parametrize(("event", "name"),
                         [(e, n) for e, n, _ in p.ALL_SAMPLES
                          if e in {"workflow_run", "check_suite", "check_run"}])
async def test_every_ci_sample_is_processed(pool: asyncpg.Pool, event: str, name: str) -> None:
    payload = sample(event, name)
    assert await send(pool, event, payload) == "processed"
    table = {"workflow_run": "workflow_runs", "check_suite": "check_suites",
             "check_run": "check_runs"}[event]
    await fetch(pool, table, payload[event]["id"])
