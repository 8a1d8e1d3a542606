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
