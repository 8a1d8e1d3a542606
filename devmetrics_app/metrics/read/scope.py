"""What a request reads: its scope resolved to repositories, team members and bot settings, and
counts summed from the daily rollups (`installation_stats` / `repository_stats`)."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a parameter ($n, or :name through store/sql.named).
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, time
from typing import Any

import asyncpg

from devmetrics_app.store.sql import named

from .. import facts
from ..explain import Period
from ..settings import MetricsSettings


@dataclass(frozen=True)
class Scope:
    installation_id: int
    period: Period
    repository_ids: tuple[int, ...] | None = None  # None: all connected, not removed repos
    team_id: int | None = None  # restrict people to a team's members
    person_id: int | None = None  # restrict people to this one (with a team: if a member)

    @property
    def narrowed_to_people(self) -> bool:
        return self.team_id is not None or self.person_id is not None


@dataclass(frozen=True)
class Resolved:
    """A scope turned into ids: the repositories it may read and the team's people."""

    scope: Scope
    repository_ids: list[int]
    all_repositories: bool
    member_ids: list[int] | None
    member_logins: list[str] | None
    settings: MetricsSettings

    @property
    def bots(self) -> tuple[bool, list[str]]:
        return facts.bot_params(self.settings)

    def params(self, **extra: Any) -> dict[str, Any]:
        """The named SQL values every figure query may use (store/sql.named takes the ones a
        query names): tenancy, period, repositories, team, bot rule; `extra` adds or overrides."""
        exclude_bots, bot_patterns = self.bots
        return {"installation": self.scope.installation_id, "start": self.scope.period.start,
                "end": self.scope.period.end, "repositories": self.repository_ids,
                "members": self.member_ids, "logins": self.member_logins,
                "exclude_bots": exclude_bots, "bot_patterns": bot_patterns, **extra}

    @property
    def aligned(self) -> bool:
        """Whole UTC days: the daily rollups answer exactly."""
        return all(
            t.astimezone(UTC).time() == time.min for t in (self.scope.period.start, self.scope.period.end)
        )


REPOSITORIES_SQL = """
SELECT id FROM repositories
WHERE installation_id = $1 AND connected AND removed_at IS NULL
  AND ($2::bigint[] IS NULL OR id = ANY($2::bigint[]))
ORDER BY id
"""
PERSON_SQL = "SELECT u.id, u.login FROM users u WHERE u.id = $1"
TEAM_SQL = """
SELECT u.id, u.login FROM team_members tm
JOIN teams t ON t.id = tm.team_id AND t.installation_id = $1 AND t.deleted_at IS NULL
JOIN users u ON u.id = tm.user_id
WHERE tm.team_id = $2 AND tm.installation_id = $1
"""


async def metrics_settings(conn: asyncpg.Connection, installation_id: int) -> MetricsSettings:
    return await facts.load_settings(conn, installation_id)


# The best plan of these queries depends on the values (how many repositories in `= ANY($4)`,
# how long the period is): after five executions PostgreSQL may switch a prepared statement to
# a generic plan that, e.g., walks 200 repository ranges and sorts 190,000 rows to return 50
# (measured: 2 ms custom, 200-290 ms generic). Planning each execution costs well under 1 ms.
CUSTOM_PLANS_SQL = "SET plan_cache_mode = force_custom_plan"


async def resolve(conn: asyncpg.Connection, scope: Scope) -> Resolved:
    await conn.execute(CUSTOM_PLANS_SQL)
    wanted = list(scope.repository_ids) if scope.repository_ids is not None else None
    ids = [r["id"] for r in await conn.fetch(REPOSITORIES_SQL, scope.installation_id, wanted)]
    member_ids = member_logins = None
    if scope.narrowed_to_people:
        rows = await conn.fetch(TEAM_SQL, scope.installation_id, scope.team_id) if scope.team_id else [
            await conn.fetchrow(PERSON_SQL, scope.person_id)]
        rows = [r for r in rows if r is not None and scope.person_id in (None, r["id"])]
        member_ids = [r["id"] for r in rows]
        member_logins = [r["login"].lower() for r in rows]
    return Resolved(
        scope,
        ids,
        wanted is None,
        member_ids,
        member_logins,
        await metrics_settings(conn, scope.installation_id),
    )


# Said by figures a team filter cannot narrow (they belong to repositories, not to people).
TEAM_NOT_APPLIED = (
    "not applied: deployments, incidents and sprints belong to repositories; filter by repository"
)



def stats_source(r: Resolved) -> tuple[str, str]:
    """(table, repository filter on the named parameter `:repositories`) of the daily rollup
    answering this scope (see store/sql.named)."""
    if r.all_repositories:
        return "installation_stats", ""
    return "repository_stats", " AND s.repository_id = ANY(:repositories::bigint[])"


async def rollup_sums(conn: asyncpg.Connection, r: Resolved, columns: Sequence[str]) -> asyncpg.Record:
    table, repo_filter = stats_source(r)
    sums = ", ".join(f"coalesce(sum(s.{c}), 0)::bigint AS {c}" for c in columns)
    sql, args = named(
        f"SELECT {sums} FROM {table} s WHERE s.installation_id = :installation"
        f" AND s.day >= :start AND s.day < :end{repo_filter}",
        installation=r.scope.installation_id, start=r.scope.period.start.date(),
        end=r.scope.period.end.date(), repositories=r.repository_ids,
    )
    return await conn.fetchrow(sql, *args)
