"""One repository's analytics page: its cycle time, releases and build figures."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a named parameter (store/sql.bind).
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from devmetrics_app.store.sql import bind

from ..explain import Figure
from .builds import build_success
from .cycle_time import CycleTimeReport, cycle_time
from .dora import frequency_figure
from .scope import Resolved, Scope, resolve

REPOSITORY_SQL = """
SELECT id, full_name, default_branch, private, archived FROM repositories
WHERE id = :repository AND installation_id = :installation AND removed_at IS NULL
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


REPOSITORY_TOTALS_SQL = f"""
SELECT {", ".join(f"coalesce(sum({c}), 0)::bigint AS {c}" for c in REPOSITORY_TOTALS)}
FROM repository_stats WHERE repository_id = :repository AND installation_id = :installation
  AND day >= :start AND day < :end
"""


@dataclass(frozen=True)
class RepositoryInfo:
    id: int
    full_name: str
    default_branch: str | None
    private: bool
    archived: bool | None


@dataclass(frozen=True)
class RepositoryTotals:
    """Sums of the repository's daily rollup over the whole UTC days overlapping the period."""

    prs_opened: int
    prs_merged: int
    prs_closed: int
    commits: int
    reviews: int
    issues_opened: int
    issues_closed: int
    deployments: int
    failed_deployments: int
    workflow_runs: int
    workflow_successes: int


@dataclass(frozen=True)
class RepositoryReport:
    """One repository's details, rollup totals and figures for the period."""

    repository: RepositoryInfo
    totals: RepositoryTotals
    cycle_time: CycleTimeReport
    build_success: Figure
    deployment_frequency: Figure
    totals_source: str


async def repository_analytics(
    conn: asyncpg.Connection, scope: Scope, repository_id: int
) -> RepositoryReport | None:
    """One repository's figures for the period; None when it is not the installation's."""
    params = {"repository": repository_id, "installation": scope.installation_id,
              "start": scope.period.start.date(), "end": scope.period.end.date()}
    repo = await conn.fetchrow(*bind(REPOSITORY_SQL, params))
    if repo is None or (scope.repository_ids is not None and repository_id not in scope.repository_ids):
        return None
    sub = Scope(scope.installation_id, scope.period, (repository_id,), scope.team_id)
    r = await resolve(conn, sub)
    r = Resolved(sub, [repository_id], False, r.member_ids, r.member_logins, r.settings)
    totals = await conn.fetchrow(*bind(REPOSITORY_TOTALS_SQL, params))
    return RepositoryReport(
        repository=RepositoryInfo(**dict(repo)),
        totals=RepositoryTotals(**dict(totals)),
        cycle_time=await cycle_time(conn, sub),
        build_success=await build_success(conn, sub),
        deployment_frequency=await frequency_figure(conn, r, explain=False),
        totals_source="rollup (whole UTC days overlapping the period)",
    )
