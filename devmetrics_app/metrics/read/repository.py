"""One repository's analytics page: its cycle time, releases and build figures."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a $n parameter.
# ruff: noqa: S608

from __future__ import annotations

import asyncpg

from .builds import build_success
from .cycle_time import cycle_time
from .dora import frequency_figure
from .scope import Resolved, Scope, resolve

REPOSITORY_SQL = """
SELECT id, full_name, default_branch, private, archived FROM repositories
WHERE id = $1 AND installation_id = $2 AND removed_at IS NULL
"""
REPOSITORY_TOTALS = (
    "prs_opened",
    "prs_merged",
    "prs_closed",
    "commits",
    "reviews",
    "issues_opened",
    "issues_closed",
    "deployments",
    "failed_deployments",
    "workflow_runs",
    "workflow_successes",
)


async def repository_analytics(conn: asyncpg.Connection, scope: Scope, repository_id: int) -> dict | None:
    """One repository's figures for the period; None when it is not the installation's."""
    repo = await conn.fetchrow(REPOSITORY_SQL, repository_id, scope.installation_id)
    if repo is None or (scope.repository_ids is not None and repository_id not in scope.repository_ids):
        return None
    sub = Scope(scope.installation_id, scope.period, (repository_id,), scope.team_id)
    r = await resolve(conn, sub)
    r = Resolved(sub, [repository_id], False, r.member_ids, r.member_logins, r.settings)
    totals = await conn.fetchrow(
        f"""SELECT {", ".join(f"coalesce(sum({c}), 0)::bigint AS {c}" for c in REPOSITORY_TOTALS)}
            FROM repository_stats WHERE repository_id = $1 AND installation_id = $2
              AND day >= $3 AND day < $4""",
        repository_id,
        scope.installation_id,
        scope.period.start.date(),
        scope.period.end.date(),
    )
    return {
        "repository": dict(repo),
        "totals": dict(totals),
        "cycle_time": await cycle_time(conn, sub),
        "build_success": await build_success(conn, sub),
        "deployment_frequency": (await frequency_figure(conn, r, explain=False)).to_dict(),
        "totals_source": "rollup (whole UTC days overlapping the period)",
    }
