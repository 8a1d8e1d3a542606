"""deployment and deployment_status handlers, against the real database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import payloads as p
from conftest import deliver
from payloads import sample

from devmetrics_app.events import deployments

MERGED_SHA = p.sha("acme/api#7:merge")
PROD = p.deployment(sha_=MERGED_SHA, environment="production", created_at=p.at(210))
STAGING = p.deployment(sha_=MERGED_SHA, environment="staging", created_at=p.at(205),
                       creator=p.DEPENDABOT)




def ts(minutes: float) -> datetime:
    return datetime.fromisoformat(p.at(minutes).replace("Z", "+00:00"))


async def send(pool: asyncpg.Pool, event: str, payload: dict[str, Any], **kw: Any) -> str | None:
    return await deliver(pool, event, payload, router=deployments.router, **kw)


async def deployment_row(pool: asyncpg.Pool, deployment_id: int = PROD["id"]) -> dict[str, Any]:
    row = await pool.fetchrow("SELECT * FROM deployments WHERE id = $1", deployment_id)
    assert row is not None
    return dict(row)


async def latest(pool: asyncpg.Pool, deployment_id: int = PROD["id"]) -> tuple[str | None, Any]:
    row = await deployment_row(pool, deployment_id)
    return row["latest_state"], row["latest_status_at"]


async def test_deployment_created(pool: asyncpg.Pool) -> None:
    assert await send(pool, "deployment", sample("deployment", "created-production")) == "processed"
    row = await deployment_row(pool)
    assert row["installation_id"] == p.ORG_INSTALLATION_ID and row["repository_id"] == p.REPO_API_ID
    assert (row["sha"], row["ref"], row["task"]) == (MERGED_SHA, "main", "deploy")
    assert (row["environment"], row["production_environment"], row["transient_environment"]) == (
        "production", True, False)
    assert row["creator_id"] == p.CAROL["id"] and row["description"] is None
    assert row["github_created_at"] == ts(210)
    assert (row["latest_state"], row["latest_status_at"]) == (None, None)


async def test_staging_deployment_by_bot(pool: asyncpg.Pool) -> None:
    assert await send(pool, "deployment", sample("deployment", "created-staging-by-bot")) == "processed"
    row = await deployment_row(pool, STAGING["id"])
    assert row["environment"] == "staging" and row["production_environment"] is False
    assert row["creator_id"] == p.DEPENDABOT_ID
    assert await pool.fetchval("SELECT is_bot FROM users WHERE id = $1", p.DEPENDABOT_ID) is True


async def test_user_account_repository(pool: asyncpg.Pool) -> None:
    dep_payload = sample("deployment", "created-user-account-repo")
    assert await send(pool, "deployment", dep_payload) == "processed"
    status_payload = sample("deployment_status", "success-user-account-repo")
    assert await send(pool, "deployment_status", status_payload) == "processed"
    dep_id = dep_payload["deployment"]["id"]
    row = await deployment_row(pool, dep_id)
    assert (row["installation_id"], row["repository_id"]) == (p.SOLO_INSTALLATION_ID, p.REPO_TOOL_ID)
    assert await latest(pool, dep_id) == ("success", ts(575))
    status = await pool.fetchrow("SELECT * FROM deployment_statuses WHERE deployment_id = $1", dep_id)
    assert status["installation_id"] == p.SOLO_INSTALLATION_ID and status["creator_id"] == p.SOLO_ID


async def test_statuses_in_order(pool: asyncpg.Pool) -> None:
    assert await send(pool, "deployment", sample("deployment", "created-production")) == "processed"
    assert await send(pool, "deployment_status", sample("deployment_status", "in_progress")) \
        == "processed"
    assert await latest(pool) == ("in_progress", ts(211))
    assert await send(pool, "deployment_status", sample("deployment_status", "success")) == "processed"
    assert await latest(pool) == ("success", ts(220))
    states = await pool.fetch(
        "SELECT state, environment, github_created_at FROM deployment_statuses "
        "WHERE deployment_id = $1 ORDER BY github_created_at", PROD["id"])
    assert [(r["state"], r["environment"], r["github_created_at"]) for r in states] == [
        ("in_progress", "production", ts(211)), ("success", "production", ts(220))]


async def test_late_in_progress_does_not_override_success(pool: asyncpg.Pool) -> None:
    assert await send(pool, "deployment_status", sample("deployment_status", "success")) == "processed"
    assert await send(pool, "deployment_status", sample("deployment_status", "in_progress")) \
        == "processed"
    assert await latest(pool) == ("success", ts(220))
    assert await pool.fetchval(
        "SELECT count(*) FROM deployment_statuses WHERE deployment_id = $1", PROD["id"]) == 2


async def test_status_before_deployment_event(pool: asyncpg.Pool) -> None:
    """A status can beat its deployment.created delivery: the deployment comes from the status
    payload, and the late deployment event does not wipe the latest state."""
    assert await send(pool, "deployment_status", sample("deployment_status", "success")) == "processed"
    assert await send(pool, "deployment", sample("deployment", "created-production")) == "processed"
    row = await deployment_row(pool)
    assert (row["latest_state"], row["latest_status_at"]) == ("success", ts(220))
    assert row["environment"] == "production"


async def test_failure_then_error_on_staging(pool: asyncpg.Pool) -> None:
    assert await send(pool, "deployment_status", sample("deployment_status", "error")) == "processed"
    assert await send(pool, "deployment_status", sample("deployment_status", "failure")) == "processed"
    assert await latest(pool, STAGING["id"]) == ("error", ts(207))


async def test_same_second_statuses_pick_the_higher_id_whatever_the_order(pool: asyncpg.Pool) -> None:
    older = p.deployment_status_event("pending", PROD, status=p.deployment_status(
        PROD, state="pending", created_at=p.at(230), id=5_000_000_001))
    newer = p.deployment_status_event("failure", PROD, status=p.deployment_status(
        PROD, state="failure", created_at=p.at(230), id=5_000_000_002))
    assert await send(pool, "deployment_status", newer) == "processed"
    assert await send(pool, "deployment_status", older) == "processed"
    assert await latest(pool) == ("failure", ts(230))


async def test_status_replay(pool: asyncpg.Pool) -> None:
    payload = sample("deployment_status", "success")
    assert await send(pool, "deployment_status", payload, delivery_id="ds-1") == "processed"
    assert await send(pool, "deployment_status", payload, delivery_id="ds-1") is None
    before_dep = await deployment_row(pool)
    before_statuses = [dict(r) for r in await pool.fetch("SELECT * FROM deployment_statuses")]
    assert await send(pool, "deployment_status", payload, delivery_id="ds-2") == "processed"
    after_dep = await deployment_row(pool)
    assert {k: v for k, v in after_dep.items() if k != "updated_at"} == \
        {k: v for k, v in before_dep.items() if k != "updated_at"}
    assert [dict(r) for r in await pool.fetch("SELECT * FROM deployment_statuses")] == before_statuses


async def test_deployment_replay(pool: asyncpg.Pool) -> None:
    payload = sample("deployment", "created-production")
    assert await send(pool, "deployment", payload, delivery_id="d-1") == "processed"
    assert await send(pool, "deployment", payload, delivery_id="d-1") is None
    assert await send(pool, "deployment", payload, delivery_id="d-2") == "processed"
    assert await pool.fetchval("SELECT count(*) FROM deployments") == 1


async def test_null_and_ghost_creators(pool: asyncpg.Pool) -> None:
    dep = p.deployment(sha_=MERGED_SHA, environment="qa", created_at=p.at(300), creator=p.GHOST)
    status = p.deployment_status(dep, state="success", created_at=p.at(301))
    status["creator"] = None
    payload = p.deployment_status_event("success", dep, status=status, sender=p.GHOST)
    assert await send(pool, "deployment_status", payload) == "processed"
    row = await deployment_row(pool, dep["id"])
    assert row["creator_id"] == p.GHOST_ID and row["latest_state"] == "success"
    stored = await pool.fetchrow("SELECT * FROM deployment_statuses WHERE id = $1", status["id"])
    assert stored["creator_id"] is None


async def test_missing_deployment_object_fails_for_good(pool: asyncpg.Pool) -> None:
    payload = sample("deployment_status", "success")
    payload["deployment"] = None
    assert await send(pool, "deployment_status", payload) == "failed"
    assert await pool.fetchval("SELECT count(*) FROM deployment_statuses") == 0
