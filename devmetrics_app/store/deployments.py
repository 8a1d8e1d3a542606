"""Deployments and their statuses (DORA: deployment frequency, lead time, failure rate)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from devmetrics_app.store.upsert import upsert
from devmetrics_app.store.users import upsert_user
from devmetrics_app.timeutil import parse_ts

# The newest stored status of the deployment, ties on created_at broken by id (GitHub's ids
# grow), so the outcome does not depend on the order deliveries were processed in. A status is
# only adopted when it is not older than what the row already says, so a value written by
# another path (say, a history import) is never rolled back.
REFRESH_LATEST_STATUS = """
UPDATE deployments AS d
SET latest_state = s.state, latest_status_at = s.github_created_at, updated_at = now()
FROM (SELECT state, github_created_at
      FROM deployment_statuses
      WHERE deployment_id = $1
      ORDER BY github_created_at DESC, id DESC
      LIMIT 1) AS s
WHERE d.id = $1
  AND (d.latest_status_at IS NULL OR d.latest_status_at <= s.github_created_at)
  AND (d.latest_state, d.latest_status_at) IS DISTINCT FROM (s.state, s.github_created_at)
"""


async def upsert_deployment(
    conn: asyncpg.Connection, installation_id: int, repository_id: int, deployment: Mapping[str, Any]
) -> str:
    """Store a deployment; newest `updated_at` wins. latest_state is not part of the row: only
    statuses move it (see refresh_latest_status)."""
    creator_id = await upsert_user(conn, deployment.get("creator"))
    created_at = parse_ts(deployment["created_at"])
    return await upsert(
        conn,
        "deployments",
        {
            "id": deployment["id"],
            "installation_id": installation_id,
            "repository_id": repository_id,
            "sha": deployment["sha"],
            "ref": deployment.get("ref"),
            "task": deployment.get("task"),
            "environment": deployment.get("environment") or deployment.get("original_environment")
            or "",
            "production_environment": deployment.get("production_environment"),
            "transient_environment": deployment.get("transient_environment"),
            "creator_id": creator_id,
            "description": deployment.get("description"),
            "github_created_at": created_at,
            "github_updated_at": parse_ts(deployment.get("updated_at")) or created_at,
        },
        version="github_updated_at",
    )


async def upsert_status(
    conn: asyncpg.Connection,
    installation_id: int,
    repository_id: int,
    deployment_id: int,
    status: Mapping[str, Any],
) -> str:
    """Store one deployment status (statuses are immutable on GitHub; a replay is a no-op)."""
    creator_id = await upsert_user(conn, status.get("creator"))
    created_at = parse_ts(status["created_at"])
    return await upsert(
        conn,
        "deployment_statuses",
        {
            "id": status["id"],
            "installation_id": installation_id,
            "repository_id": repository_id,
            "deployment_id": deployment_id,
            "state": status["state"],
            "environment": status.get("environment"),
            "creator_id": creator_id,
            "description": status.get("description") or None,
            "log_url": status.get("log_url") or status.get("target_url") or None,
            "github_created_at": created_at,
            "github_updated_at": parse_ts(status.get("updated_at")) or created_at,
        },
        version="github_updated_at",
        touch=False,
    )


async def refresh_latest_status(conn: asyncpg.Connection, deployment_id: int) -> None:
    """Point the deployment at its newest status by created_at, whatever order they came in."""
    await conn.execute(REFRESH_LATEST_STATUS, deployment_id)


# --------------------------------------------------------------------------- reads for the deployment page

# A release is a GitHub deployment or, for a repository that never deploys, a deploy workflow run:
# both read as the same columns.
DEPLOYMENT_SQL = """
SELECT d.id, d.repository_id, r.full_name AS repository, d.sha, d.ref, d.environment, d.description,
       d.latest_state AS state, d.github_created_at AS created_at, NULL::text AS html_url, NULL::text AS name
FROM deployments d JOIN repositories r ON r.id = d.repository_id
WHERE d.installation_id = $1 AND d.id = $2"""
RUN_SQL = """
SELECT w.id, w.repository_id, r.full_name AS repository, w.head_sha AS sha, w.head_branch AS ref,
       NULL::text AS environment, NULL::text AS description, w.conclusion AS state,
       w.github_created_at AS created_at, w.html_url, w.name
FROM workflow_runs w JOIN repositories r ON r.id = w.repository_id
WHERE w.installation_id = $1 AND w.id = $2"""
STATUSES_SQL = """
SELECT state, description, log_url, github_created_at AS at FROM deployment_statuses
WHERE deployment_id = $1 AND installation_id = $2 ORDER BY github_created_at, id"""
RELEASE_SQL = """
SELECT succeeded_at, failed_at, outcome_at, commits FROM releases
WHERE source = $1 AND id = $2 AND installation_id = $3"""


async def release_subject(db: asyncpg.Connection | asyncpg.Pool, installation_id: int, source: str,
                          release_id: int) -> asyncpg.Record | None:
    """The deployment (source "deployment") or deploy workflow run (any other source)."""
    return await db.fetchrow(DEPLOYMENT_SQL if source == "deployment" else RUN_SQL,
                             installation_id, release_id)


async def statuses(db: asyncpg.Connection | asyncpg.Pool, deployment_id: int,
                   installation_id: int) -> list[asyncpg.Record]:
    return await db.fetch(STATUSES_SQL, deployment_id, installation_id)


async def release(db: asyncpg.Connection | asyncpg.Pool, source: str, release_id: int,
                  installation_id: int) -> asyncpg.Record | None:
    """The `releases` row (outcome, commits) metrics derived for it, if any."""
    return await db.fetchrow(RELEASE_SQL, source, release_id, installation_id)
