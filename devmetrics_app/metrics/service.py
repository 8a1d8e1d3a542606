"""The metrics engine's read side: one async function per figure, scoped, fast, explainable.

Every query is filtered by `installation_id` first (tenancy) and then by the scope's
repositories (connected and not removed) and team. Where the data comes from:

- period figures over PRs, releases, commits and sprints read the compact fact tables of
  `sql/003_metrics.sql` through covering indexes (`pull_request_cycle`, `releases`,
  `release_commits`, `sprint_facts`); medians are PostgreSQL `percentile_cont`, the same
  interpolation as `stats.percentile`;
- counts over whole UTC days (the API's `from`/`to` dates) read the daily rollups
  (`installation_stats` for all repositories, `repository_stats` for a selection,
  `developer_metrics` / `team_metrics` for people); other bounds count from raw rows by index;
- snapshots (review load, work in progress) and one milestone's burndown load their few raw
  rows and run the pure calculators.

`explain=True` adds the items behind a figure, bounded to `EXPLAIN_LIMIT` per list (largest
first) with the total count and a `next_cursor` to page on, so two years stay fast.
"""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a $n parameter.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import asyncpg

from . import facts
from .builds import FAILURE_CONCLUSIONS, SUCCESS_CONCLUSIONS
from .burndown import burndown as burndown_figure
from .cycle_time import STAGES, UNIT_HOURS
from .dora import (
    BENCHMARK_SOURCE,
    change_failure_bucket,
    frequency_bucket,
    lead_time_bucket,
    restore_bucket,
)
from .explain import Exclusion, Figure, Item, Period
from .settings import MetricsSettings
from .throughput import review_load as review_load_figure
from .throughput import work_in_progress as wip_figure
from .velocity import confidence, trend, weighted_velocity

EXPLAIN_LIMIT = 50
VELOCITY_SPRINTS_SHOWN = 50
TREND_INTERVALS = ("day", "week", "month")
TREND_METRICS = (
    "prs_opened",
    "prs_merged",
    "commits",
    "reviews",
    "issues_opened",
    "issues_closed",
    "deployments",
    "failed_deployments",
    "workflow_runs",
    "build_success_rate",
    "cycle_time",
)
TEAM_TREND_METRICS = ("prs_opened", "prs_merged", "commits", "reviews", "cycle_time")
STAGE_COLUMNS = {
    "coding": "coding",
    "pickup": "pickup",
    "review": "review",
    "merge": "merge",
    "deploy": "deploy",
    "time_to_first_review": "pickup",
    "time_to_approval": "time_to_approval",
}
_EPSILON = timedelta(microseconds=1)
COACHING_NOTE = (
    "A coaching view of each person's flow, alphabetical: not a ranking. Numbers depend on "
    "the kind of work; talk about them, do not compare people by them."
)


@dataclass(frozen=True)
class Scope:
    installation_id: int
    period: Period
    repository_ids: tuple[int, ...] | None = None  # None: all connected, not removed repos
    team_id: int | None = None  # restrict people to a team's members


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
TEAM_SQL = """
SELECT u.id, u.login FROM team_members tm
JOIN teams t ON t.id = tm.team_id AND t.installation_id = $1 AND t.deleted_at IS NULL
JOIN users u ON u.id = tm.user_id
WHERE tm.team_id = $2 AND tm.installation_id = $1
"""


async def metrics_settings(conn: asyncpg.Connection, installation_id: int) -> MetricsSettings:
    return await facts.load_settings(conn, installation_id)


async def resolve(conn: asyncpg.Connection, scope: Scope) -> Resolved:
    wanted = list(scope.repository_ids) if scope.repository_ids is not None else None
    ids = [r["id"] for r in await conn.fetch(REPOSITORIES_SQL, scope.installation_id, wanted)]
    member_ids = member_logins = None
    if scope.team_id is not None:
        rows = await conn.fetch(TEAM_SQL, scope.installation_id, scope.team_id)
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


def _pct(values: Sequence[float] | None, index: int) -> float | None:
    return values[index] if values else None


def _figure(
    value: float | None,
    unit: str,
    count: int,
    excluded: list[tuple[str, int]],
    items: list[Item] | None = None,
    details: dict[str, Any] | None = None,
    excluded_items: dict[str, list[Item]] | None = None,
) -> Figure:
    kept = [Exclusion(reason, n, (excluded_items or {}).get(reason, [])) for reason, n in excluded if n]
    return Figure(value, unit, count, kept, items, details or {})


def _page(cursor: str | None) -> int:
    try:
        return max(0, int(cursor)) if cursor else 0
    except ValueError:
        raise ValueError("cursor must be a value returned as next_cursor") from None


def _next_cursor(offset: int, total: int) -> str | None:
    return str(offset + EXPLAIN_LIMIT) if offset + EXPLAIN_LIMIT < total else None


# ------------------------------------------------------------------ cycle time

CYCLE_BOT = facts.bot_sql("f.author_login", "f.author_is_bot", 6, 7)
CYCLE_WHERE = """
f.installation_id = $1 AND f.merged_at >= $2 AND f.merged_at < $3
AND f.repository_id = ANY($4::bigint[]) AND ($5::bigint[] IS NULL OR f.author_id = ANY($5::bigint[]))
"""
_STAGE_AGGREGATES = ",\n".join(
    f"count({c}) FILTER (WHERE NOT bot) AS {c}_n, avg({c}) FILTER (WHERE NOT bot) AS {c}_avg, "
    f"percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY {c}) FILTER (WHERE NOT bot) AS {c}_pct"
    for c in ("cycle_time", "coding", "pickup", "review", "merge", "deploy", "time_to_approval")
)
CYCLE_SQL = f"""
SELECT count(*) FILTER (WHERE NOT bot) AS merged, count(*) FILTER (WHERE bot) AS bots,
       count(*) FILTER (WHERE NOT bot AND unreviewed) AS unreviewed,
       count(*) FILTER (WHERE NOT bot AND NOT unreviewed AND time_to_approval IS NULL) AS unapproved,
       {_STAGE_AGGREGATES}
FROM (SELECT f.*, {CYCLE_BOT} AS bot FROM pull_request_cycle f WHERE {CYCLE_WHERE}
      OFFSET 0) x  -- OFFSET 0 keeps the subquery: the bot test runs once per row, not per FILTER
"""
CYCLE_ITEMS_SQL = f"""
SELECT f.pull_request_id, f.number, f.repository_id, f.title, f.cycle_time, f.coding, f.pickup,
       f.review, f.merge, f.deploy, f.time_to_approval, f.unreviewed, f.merged_at
FROM pull_request_cycle f WHERE {CYCLE_WHERE} AND NOT {CYCLE_BOT}
ORDER BY f.cycle_time DESC, f.pull_request_id LIMIT $8 OFFSET $9
"""
CYCLE_BOT_ITEMS_SQL = f"""
SELECT f.pull_request_id, f.number, f.title FROM pull_request_cycle f
WHERE {CYCLE_WHERE} AND {CYCLE_BOT} ORDER BY f.merged_at DESC, f.pull_request_id LIMIT $8
"""


async def cycle_time(
    conn: asyncpg.Connection, scope: Scope, *, explain: bool = False, cursor: str | None = None
) -> dict:
    """PR cycle time and stages over PRs merged in the period (value = median, hours)."""
    r = await resolve(conn, scope)
    args = [
        scope.installation_id,
        scope.period.start,
        scope.period.end,
        r.repository_ids,
        r.member_ids,
        *r.bots,
    ]
    row = await conn.fetchrow(CYCLE_SQL, *args)
    bot_reason = [("authored by a bot", row["bots"])]
    items_by_stage: dict[str, list[Item]] = {}
    bot_items: dict[str, list[Item]] = {}
    offset = _page(cursor)
    if explain:
        rows = await conn.fetch(CYCLE_ITEMS_SQL, *args, EXPLAIN_LIMIT, offset)
        for stage, column in (("cycle_time", "cycle_time"), *STAGE_COLUMNS.items()):
            items_by_stage[stage] = [
                Item(
                    "pull_request",
                    p["pull_request_id"],
                    f"#{p['number']}",
                    p[column],
                    {"repository_id": p["repository_id"], "title": p["title"], "merged_at": p["merged_at"]},
                )
                for p in rows
            ]
        bot_items["authored by a bot"] = [
            Item("pull_request", p["pull_request_id"], f"#{p['number']} {p['title']}")
            for p in await conn.fetch(CYCLE_BOT_ITEMS_SQL, *args, EXPLAIN_LIMIT)
        ]

    def figure(column: str, stage: str | None) -> Figure:
        pct = row[f"{column}_pct"]
        n = row[f"{column}_n"]
        missing: list[tuple[str, int]] = []
        if stage == "coding":
            missing = [("first commit unknown", row["merged"] - n)]
        elif stage == "deploy":
            missing = [("no production deployment contains the merge commit", row["merged"] - n)]
        elif stage in {"pickup", "time_to_first_review"}:
            missing = [("unreviewed", row["unreviewed"])]
        elif stage is not None:
            missing = [
                ("unreviewed", row["unreviewed"]),
                ("merged without approval", row["merged"] - n - row["unreviewed"]),
            ]
        median = _pct(pct, 0)
        return _figure(
            median,
            UNIT_HOURS,
            n,
            bot_reason + missing,
            items_by_stage.get(stage or "cycle_time"),
            {"average": row[f"{column}_avg"], "median": median, "p95": _pct(pct, 1)},
            bot_items,
        )

    merged = row["merged"]
    out: dict[str, Any] = {
        "cycle_time": figure("cycle_time", None).to_dict(explain=explain),
        "stages": {
            stage: figure(column, stage).to_dict(explain=explain)
            for stage, column in STAGE_COLUMNS.items()
            if stage in STAGES
        },
        "unreviewed": _figure(
            float(row["unreviewed"]),
            "pull requests",
            merged,
            bot_reason,
            [],
            {"percent": row["unreviewed"] / merged * 100.0 if merged else None},
            bot_items,
        ).to_dict(explain=False),
    }
    if explain:
        out["items_total"] = merged
        out["next_cursor"] = _next_cursor(offset, merged)
    return out


# ------------------------------------------------------------------ velocity and burndown

SPRINT_WHERE = "s.installation_id = $1 AND s.repository_id = ANY($4::bigint[])"
VELOCITY_SQL = f"""
SELECT count(*) AS n, coalesce(sum(points), 0) AS total,
       (SELECT count(*) FROM sprint_facts s WHERE {SPRINT_WHERE} AND s.state <> 'CLOSED'
          AND s.starts_at < $3 AND s.ends_at >= $2) AS open_sprints
FROM sprint_facts s WHERE {SPRINT_WHERE} AND s.state = 'CLOSED' AND s.ends_at >= $2 AND s.ends_at < $3
"""
SPRINTS_SQL = f"""
SELECT milestone_id, title, points, ends_at, completed_issues FROM sprint_facts s
WHERE {SPRINT_WHERE} AND s.state = 'CLOSED' AND s.ends_at >= $2 AND s.ends_at < $3
ORDER BY s.ends_at DESC, s.milestone_id DESC LIMIT $5
"""


async def velocity(conn: asyncpg.Connection, scope: Scope, *, explain: bool = False) -> dict:
    """Weighted velocity over the closed sprints (milestones) that ended in the period."""
    r = await resolve(conn, scope)
    args = [scope.installation_id, scope.period.start, scope.period.end, r.repository_ids]
    agg = await conn.fetchrow(VELOCITY_SQL, *args)
    shown = await conn.fetch(SPRINTS_SQL, *args, VELOCITY_SPRINTS_SHOWN)
    n = agg["n"]
    velocities = [s["points"] for s in shown]
    current = weighted_velocity(velocities)
    older = (agg["total"] - velocities[0]) / (n - 1) if n > 1 else None
    direction, change = trend(current, older)
    items = [
        Item(
            "sprint",
            s["milestone_id"],
            s["title"],
            s["points"],
            {"ends_at": s["ends_at"], "completed_issues": s["completed_issues"]},
        )
        for s in shown
    ]
    figure = _figure(
        current,
        "points",
        n,
        [("sprint still open", agg["open_sprints"])],
        items,
        {
            "average": agg["total"] / n if n else None,
            "older_average": older,
            "trend": direction,
            "change": change,
            "confidence": confidence(velocities),
            "sprints": [{"id": s["milestone_id"], "title": s["title"], "points": s["points"]} for s in shown],
            "sprints_total": n,
        },
    )
    return figure.to_dict(explain=explain)


MILESTONE_SCOPE_SQL = """
SELECT m.id FROM milestones m JOIN repositories r ON r.id = m.repository_id
WHERE m.id = $1 AND m.installation_id = $2 AND r.installation_id = $2 AND m.repository_id = ANY($3::bigint[])
  AND m.deleted_at IS NULL
"""


async def burndown(
    conn: asyncpg.Connection, scope: Scope, milestone_id: int, *, now: datetime | None = None
) -> dict | None:
    """Burndown of one milestone (its few issues, raw); None when not in the scope."""
    r = await resolve(conn, scope)
    if (
        await conn.fetchval(MILESTONE_SCOPE_SQL, milestone_id, scope.installation_id, r.repository_ids)
        is None
    ):
        return None
    loaded = await facts.load_sprints(conn, [milestone_id])
    if not loaded:
        return None
    sprint, _ = loaded[0]
    figure = burndown_figure(sprint, settings=r.settings, now=now or datetime.now(UTC))
    out = figure.to_dict(explain=True)
    out["milestone"] = {
        "id": sprint.id,
        "title": sprint.title,
        "state": sprint.state,
        "starts_at": sprint.starts_at.isoformat(),
        "ends_at": sprint.ends_at.isoformat(),
    }
    return out


# ------------------------------------------------------------------ DORA

RELEASE_WHERE = "r.installation_id = $1 AND r.repository_id = ANY($4::bigint[])"
FREQUENCY_SQL = f"""
SELECT count(*) AS releases,
       count(DISTINCT (r.succeeded_at AT TIME ZONE 'UTC')::date) AS days,
       count(*) FILTER (WHERE r.source = 'deployment') AS from_deployments,
       count(*) FILTER (WHERE r.source = 'workflow_run') AS from_runs,
       EXISTS (SELECT 1 FROM releases r WHERE {RELEASE_WHERE}) AS any_release
FROM releases r WHERE {RELEASE_WHERE} AND r.succeeded_at >= $2 AND r.succeeded_at < $3
"""
UNFINISHED_DEPLOYMENTS_SQL = """
SELECT count(*) FROM deployments d
WHERE d.installation_id = $1 AND d.github_created_at >= $2 AND d.github_created_at < $3
  AND d.repository_id = ANY($4::bigint[]) AND lower(d.environment) = ANY($5::text[])
  AND (d.latest_state IS NULL OR d.latest_state IN ('pending', 'queued', 'in_progress'))
"""
RELEASE_ITEMS_SQL = f"""
SELECT r.source, r.id, r.sha, r.repository_id, r.succeeded_at, r.failed_at, r.commits FROM releases r
WHERE {RELEASE_WHERE} AND r.succeeded_at >= $2 AND r.succeeded_at < $3
ORDER BY r.succeeded_at DESC, r.id DESC LIMIT $5 OFFSET $6
"""
LEAD_BOT = facts.bot_sql("c.author_login", "c.author_is_bot", 6, 7)
LEAD_TIME_SQL = f"""
SELECT count(*) FILTER (WHERE ok) AS n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY lead_hours) FILTER (WHERE ok) AS median,
       count(*) FILTER (WHERE bot) AS bots,
       count(*) FILTER (WHERE NOT bot AND committed_at IS NULL) AS unknown,
       count(*) FILTER (WHERE NOT bot AND lead_hours < 0) AS skew
FROM (SELECT lead_hours, committed_at, bot, NOT bot AND lead_hours >= 0 AS ok
      FROM (SELECT c.lead_hours, c.committed_at, {LEAD_BOT} AS bot
            FROM release_commits c
            WHERE c.installation_id = $1 AND c.released_at >= $2 AND c.released_at < $3
              AND c.repository_id = ANY($4::bigint[]) AND ($5::text[] IS NULL
                  OR lower(c.author_login) = ANY($5::text[]))
            OFFSET 0) y) x
"""
# Commits of the period never released (yet): all commits committed in it minus released ones.
COMMITS_IN_PERIOD_SQL = """
SELECT count(*) FROM commits k
WHERE k.installation_id = $1 AND k.committed_at >= $2 AND k.committed_at < $3
  AND k.repository_id = ANY($4::bigint[])
  AND ($5::text[] IS NULL OR lower(k.author_login) = ANY($5::text[]))
"""
RELEASED_COMMITTED_IN_PERIOD_SQL = """
SELECT count(*) FROM release_commits c
WHERE c.installation_id = $1 AND c.committed_at >= $2 AND c.committed_at < $3
  AND c.repository_id = ANY($4::bigint[])
  AND ($5::text[] IS NULL OR lower(c.author_login) = ANY($5::text[]))
"""
INCIDENT_MATCH = "EXISTS (SELECT 1 FROM unnest(i.labels) l WHERE lower(trim(l)) = ANY($5::text[]))"
# Failure signals at or after the period start (an earlier one cannot hit an attempt in it),
# each attributed to the latest success at or before it: same repository if that repository
# ever released, else across the scope (dora._attribute).
CHANGE_FAILURE_SQL = f"""
WITH scoped AS (SELECT r.* FROM releases r WHERE {RELEASE_WHERE}),
released_repos AS (SELECT DISTINCT repository_id FROM scoped),
signals AS (
    SELECT 'revert' AS kind, 'pull_request' AS item_kind, f.pull_request_id AS id, f.repository_id,
           f.merged_at AS at
    FROM pull_request_cycle f
    WHERE f.installation_id = $1 AND f.is_revert AND f.merged_at >= $2 AND f.repository_id = ANY($4::bigint[])
    UNION ALL
    SELECT 'incident', 'incident', i.id, i.repository_id, i.github_created_at
    FROM issues i
    WHERE i.installation_id = $1 AND i.github_created_at >= $2 AND i.repository_id = ANY($4::bigint[])
      AND i.deleted_at IS NULL AND {INCIDENT_MATCH} AND coalesce(i.state_reason, '') <> 'not_planned'
),
attributed AS (
    SELECT s.*, t.source AS t_source, t.id AS t_id, t.outcome_at AS t_outcome
    FROM signals s
    LEFT JOIN LATERAL (
        SELECT r.source, r.id, r.outcome_at FROM scoped r
        WHERE r.succeeded_at <= s.at
          AND (r.repository_id = s.repository_id
               OR NOT EXISTS (SELECT 1 FROM released_repos x WHERE x.repository_id = s.repository_id))
        ORDER BY r.succeeded_at DESC, r.id DESC LIMIT 1) t ON true
),
attempts AS (
    SELECT r.source, r.id, r.failed_at IS NOT NULL AS status_failed FROM scoped r
    WHERE r.outcome_at >= $2 AND r.outcome_at < $3
)
SELECT (SELECT count(*) FROM attempts) AS attempts,
       (SELECT count(*) FROM attempts a WHERE a.status_failed OR EXISTS (
            SELECT 1 FROM attributed x WHERE x.t_source = a.source AND x.t_id = a.id)) AS failed,
       (SELECT count(*) FROM attributed x WHERE x.t_id IS NULL AND x.kind = 'revert' AND x.at < $3)
           AS revert_unattributed,
       (SELECT count(*) FROM attributed x WHERE x.t_id IS NULL AND x.kind = 'incident' AND x.at < $3)
           AS incident_unattributed,
       (SELECT count(*) FROM issues i WHERE i.installation_id = $1 AND i.github_created_at >= $2
            AND i.repository_id = ANY($4::bigint[]) AND i.deleted_at IS NULL AND {INCIDENT_MATCH}
            AND coalesce(i.state_reason, '') = 'not_planned') AS incident_not_planned
"""
RESTORE_SQL = f"""
SELECT count(*) FILTER (WHERE coalesce(i.state_reason, '') <> 'not_planned') AS n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM i.closed_at - i.github_created_at)
           / 3600.0)
           FILTER (WHERE coalesce(i.state_reason, '') <> 'not_planned') AS median,
       count(*) FILTER (WHERE coalesce(i.state_reason, '') = 'not_planned') AS not_planned,
       (SELECT count(*) FROM issues i WHERE i.installation_id = $1 AND i.state = 'OPEN'
            AND i.deleted_at IS NULL AND i.closed_at IS NULL AND i.github_created_at < $3
            AND i.repository_id = ANY($4::bigint[]) AND {INCIDENT_MATCH}) AS still_open
FROM issues i
WHERE i.installation_id = $1 AND i.closed_at >= $2 AND i.closed_at < $3 AND i.deleted_at IS NULL
  AND i.repository_id = ANY($4::bigint[]) AND {INCIDENT_MATCH}
"""


async def _frequency(
    conn: asyncpg.Connection, r: Resolved, *, explain: bool, cursor: str | None = None
) -> Figure:
    period = r.scope.period
    args = [r.scope.installation_id, period.start, period.end, r.repository_ids]
    row = await conn.fetchrow(FREQUENCY_SQL, *args)
    unfinished = await conn.fetchval(
        UNFINISHED_DEPLOYMENTS_SQL, *args, [e.lower() for e in r.settings.production_environments]
    )
    per_week = row["days"] * 7.0 / period.days
    items = None
    if explain:
        items = [
            Item(
                x["source"],
                x["id"],
                x["sha"][:12],
                None,
                {
                    "repository_id": x["repository_id"],
                    "succeeded_at": x["succeeded_at"],
                    "commits": x["commits"],
                },
            )
            for x in await conn.fetch(RELEASE_ITEMS_SQL, *args, EXPLAIN_LIMIT, _page(cursor))
        ]
    return _figure(
        float(row["days"]),
        "deployment days",
        row["releases"],
        [("deployment without a final status", unfinished)],
        items,
        {
            "deployments": row["releases"],
            "deployment_days_per_week": per_week,
            "sources": {"deployment": row["from_deployments"], "workflow_run": row["from_runs"]},
            "benchmark": frequency_bucket(per_week) if row["any_release"] else None,
        },
    )


async def _lead_time(conn: asyncpg.Connection, r: Resolved) -> Figure:
    period = r.scope.period
    args = [r.scope.installation_id, period.start, period.end, r.repository_ids, r.member_logins]
    row = await conn.fetchrow(LEAD_TIME_SQL, *args, *r.bots)
    committed = await conn.fetchval(COMMITS_IN_PERIOD_SQL, *args)
    released = await conn.fetchval(RELEASED_COMMITTED_IN_PERIOD_SQL, *args)
    return _figure(
        row["median"],
        "hours",
        row["n"],
        [
            ("not deployed yet", committed - released),
            ("authored by a bot", row["bots"]),
            ("commit time unknown", row["unknown"]),
            ("committed after its deployment (clock skew)", row["skew"]),
        ],
        None,
        {"benchmark": lead_time_bucket(row["median"])},
    )


async def _change_failure(conn: asyncpg.Connection, r: Resolved) -> Figure:
    period = r.scope.period
    row = await conn.fetchrow(
        CHANGE_FAILURE_SQL,
        r.scope.installation_id,
        period.start,
        period.end,
        r.repository_ids,
        [x.lower() for x in r.settings.incident_labels],
    )
    attempts = row["attempts"]
    value = row["failed"] / attempts * 100.0 if attempts else None
    return _figure(
        value,
        "%",
        attempts,
        [
            ("incident closed as not planned", row["incident_not_planned"]),
            ("revert with no deployment before it", row["revert_unattributed"]),
            ("incident with no deployment before it", row["incident_unattributed"]),
        ],
        None,
        {"failed": row["failed"], "benchmark": change_failure_bucket(value)},
    )


async def _restore(conn: asyncpg.Connection, r: Resolved) -> Figure:
    period = r.scope.period
    row = await conn.fetchrow(
        RESTORE_SQL,
        r.scope.installation_id,
        period.start,
        period.end,
        r.repository_ids,
        [x.lower() for x in r.settings.incident_labels],
    )
    return _figure(
        row["median"],
        "hours",
        row["n"],
        [("still open", row["still_open"]), ("closed as not planned", row["not_planned"])],
        None,
        {"benchmark": restore_bucket(row["median"])},
    )


async def dora(conn: asyncpg.Connection, scope: Scope, *, explain: bool = False) -> dict:
    """The four keys with their 2023 benchmark buckets."""
    r = await resolve(conn, scope)
    return {
        "deployment_frequency": (await _frequency(conn, r, explain=explain)).to_dict(explain=explain),
        "lead_time": (await _lead_time(conn, r)).to_dict(explain=explain),
        "change_failure_rate": (await _change_failure(conn, r)).to_dict(explain=explain),
        "time_to_restore": (await _restore(conn, r)).to_dict(explain=explain),
        "benchmark_source": BENCHMARK_SOURCE,
    }


PER_REPOSITORY_RELEASES_SQL = f"""
SELECT r.repository_id, count(*) FILTER (WHERE r.succeeded_at >= $2 AND r.succeeded_at < $3) AS succeeded,
       count(*) FILTER (WHERE r.failed_at >= $2 AND r.failed_at < $3) AS failed
FROM releases r WHERE {RELEASE_WHERE} AND r.outcome_at >= $2 AND r.outcome_at < $3
GROUP BY r.repository_id ORDER BY succeeded DESC, r.repository_id LIMIT $5
"""


async def deployments(
    conn: asyncpg.Connection, scope: Scope, *, explain: bool = False, cursor: str | None = None
) -> dict:
    """Deployment frequency plus a per-repository summary (busiest first, bounded)."""
    r = await resolve(conn, scope)
    figure = await _frequency(conn, r, explain=explain, cursor=cursor)
    out = figure.to_dict(explain=explain)
    out["repositories"] = [
        dict(x)
        for x in await conn.fetch(
            PER_REPOSITORY_RELEASES_SQL,
            scope.installation_id,
            scope.period.start,
            scope.period.end,
            r.repository_ids,
            EXPLAIN_LIMIT,
        )
    ]
    if explain:
        out["next_cursor"] = _next_cursor(_page(cursor), figure.count)
    return out


# ------------------------------------------------------------------ counts: rollups or raw


def _stats_source(r: Resolved) -> tuple[str, str]:
    """(table, repository filter) of the daily rollup answering this scope."""
    if r.all_repositories:
        return "installation_stats", ""
    return "repository_stats", " AND s.repository_id = ANY($4::bigint[])"


async def _rollup_sums(conn: asyncpg.Connection, r: Resolved, columns: Sequence[str]) -> asyncpg.Record:
    table, repo_filter = _stats_source(r)
    sums = ", ".join(f"coalesce(sum(s.{c}), 0)::bigint AS {c}" for c in columns)
    args: list[Any] = [r.scope.installation_id, r.scope.period.start.date(), r.scope.period.end.date()]
    if repo_filter:
        args.append(r.repository_ids)
    return await conn.fetchrow(
        f"SELECT {sums} FROM {table} s WHERE s.installation_id = $1 AND s.day >= $2 AND s.day < $3"
        f"{repo_filter}",
        *args,
    )


BUILD_COLUMNS = ("workflow_successes", "workflow_failures", "workflow_bot", "workflow_no_verdict")
RUN_BOT = facts.bot_sql("u.login", "coalesce(u.is_bot, false)", 5, 6)
BUILD_RAW_SQL = f"""
SELECT count(*) FILTER (WHERE NOT bot AND c = ANY($7::text[])) AS workflow_successes,
       count(*) FILTER (WHERE NOT bot AND c = ANY($8::text[])) AS workflow_failures,
       count(*) FILTER (WHERE bot) AS workflow_bot,
       count(*) FILTER (WHERE NOT bot AND NOT c = ANY($7::text[] || $8::text[])) AS workflow_no_verdict
FROM (SELECT lower(coalesce(w.conclusion, '')) AS c, {RUN_BOT} AS bot
      FROM workflow_runs w LEFT JOIN users u ON u.id = w.actor_id
      WHERE w.installation_id = $1 AND w.status = 'completed'
        AND coalesce(w.completed_at, w.github_updated_at) >= $2
        AND coalesce(w.completed_at, w.github_updated_at) < $3 AND w.repository_id = ANY($4::bigint[])) x
"""
UNFINISHED_RUNS_SQL = """
SELECT count(*) FROM workflow_runs w
WHERE w.installation_id = $1 AND w.github_created_at >= $2 AND w.github_created_at < $3
  AND w.status IS DISTINCT FROM 'completed' AND w.repository_id = ANY($4::bigint[])
"""
BUILD_ITEMS_SQL = f"""
SELECT w.id, w.name, w.conclusion, w.head_branch, w.repository_id FROM workflow_runs w
LEFT JOIN users u ON u.id = w.actor_id
WHERE NOT {facts.bot_sql("u.login", "coalesce(u.is_bot, false)", 7, 8)}
  AND w.installation_id = $1 AND w.status = 'completed'
  AND coalesce(w.completed_at, w.github_updated_at) >= $2
  AND coalesce(w.completed_at, w.github_updated_at) < $3 AND w.repository_id = ANY($4::bigint[])
  AND lower(w.conclusion) = ANY($5::text[])
ORDER BY coalesce(w.completed_at, w.github_updated_at) DESC, w.id DESC LIMIT $6
"""


async def build_success(conn: asyncpg.Connection, scope: Scope, *, explain: bool = False) -> dict:
    """Workflow-run success rate; whole days from the rollups, other bounds from raw runs."""
    r = await resolve(conn, scope)
    period = scope.period
    base = [scope.installation_id, period.start, period.end, r.repository_ids]
    if r.aligned:
        row = await _rollup_sums(conn, r, BUILD_COLUMNS)
    else:
        row = await conn.fetchrow(
            BUILD_RAW_SQL, *base, *r.bots, sorted(SUCCESS_CONCLUSIONS), sorted(FAILURE_CONCLUSIONS)
        )
    unfinished = await conn.fetchval(UNFINISHED_RUNS_SQL, *base)
    successes, failures = row["workflow_successes"], row["workflow_failures"]
    total = successes + failures
    items = None
    if explain:
        items = [
            Item(
                "workflow_run",
                w["id"],
                w["name"] or "",
                details={
                    "conclusion": w["conclusion"],
                    "head_branch": w["head_branch"],
                    "repository_id": w["repository_id"],
                },
            )
            for w in await conn.fetch(
                BUILD_ITEMS_SQL,
                *base,
                sorted(SUCCESS_CONCLUSIONS | FAILURE_CONCLUSIONS),
                EXPLAIN_LIMIT,
                *r.bots,
            )
        ]
    return _figure(
        successes / total * 100.0 if total else None,
        "%",
        total,
        [
            ("not completed yet", unfinished),
            ("triggered by a bot", row["workflow_bot"]),
            ("concluded without a verdict (cancelled, skipped, neutral, ...)", row["workflow_no_verdict"]),
        ],
        items,
        {"successes": successes, "failures": failures, "source": "rollup" if r.aligned else "raw"},
    ).to_dict(explain=explain)


THROUGHPUT_COLUMNS = (
    "prs_merged",
    "prs_merged_bot",
    "issues_closed",
    "issues_closed_bot",
    "issues_not_planned",
)
ISSUE_BOT = facts.bot_sql("i.author_login", "coalesce(u.is_bot, false)", 5, 6)
PR_BOT_5 = facts.bot_sql("f.author_login", "f.author_is_bot", 5, 6)
THROUGHPUT_RAW_SQL = f"""
SELECT (SELECT count(*) FILTER (WHERE NOT {PR_BOT_5})
        FROM pull_request_cycle f WHERE f.installation_id = $1 AND f.merged_at >= $2 AND f.merged_at < $3
          AND f.repository_id = ANY($4::bigint[])
          AND ($7::bigint[] IS NULL OR f.author_id = ANY($7::bigint[]))) AS prs_merged,
       (SELECT count(*) FILTER (WHERE {PR_BOT_5})
        FROM pull_request_cycle f WHERE f.installation_id = $1 AND f.merged_at >= $2 AND f.merged_at < $3
          AND f.repository_id = ANY($4::bigint[])
          AND ($7::bigint[] IS NULL OR f.author_id = ANY($7::bigint[]))) AS prs_merged_bot,
       count(*) FILTER (WHERE NOT {ISSUE_BOT} AND coalesce(i.state_reason, '') <> 'not_planned') AS
           issues_closed,
       count(*) FILTER (WHERE {ISSUE_BOT}) AS issues_closed_bot,
       count(*) FILTER (WHERE NOT {ISSUE_BOT} AND coalesce(i.state_reason, '') = 'not_planned')
           AS issues_not_planned
FROM issues i LEFT JOIN users u ON u.id = i.author_id
WHERE i.installation_id = $1 AND i.closed_at >= $2 AND i.closed_at < $3 AND i.state = 'CLOSED'
  AND i.deleted_at IS NULL AND i.repository_id = ANY($4::bigint[])
  AND ($7::bigint[] IS NULL OR i.assignee_ids && $7::bigint[])
"""
MERGED_ITEMS_SQL = f"""
SELECT f.pull_request_id, f.number, f.title, f.repository_id FROM pull_request_cycle f
WHERE f.installation_id = $1 AND f.merged_at >= $2 AND f.merged_at < $3 AND f.repository_id =
    ANY($4::bigint[])
  AND NOT {CYCLE_BOT}
ORDER BY f.merged_at DESC, f.pull_request_id DESC LIMIT $5
"""
CLOSED_ITEMS_SQL = f"""
SELECT i.id, i.number, i.title, i.repository_id FROM issues i LEFT JOIN users u ON u.id = i.author_id
WHERE i.installation_id = $1 AND i.closed_at >= $2 AND i.closed_at < $3 AND i.state = 'CLOSED'
  AND i.deleted_at IS NULL AND i.repository_id = ANY($4::bigint[])
  AND coalesce(i.state_reason, '') <> 'not_planned'
  AND NOT {facts.bot_sql("i.author_login", "coalesce(u.is_bot, false)", 6, 7)}
ORDER BY i.closed_at DESC, i.id DESC LIMIT $5
"""


async def throughput(conn: asyncpg.Connection, scope: Scope, *, explain: bool = False) -> dict:
    """PRs merged and issues closed as completed (bots and not-planned counted as excluded)."""
    r = await resolve(conn, scope)
    base = [scope.installation_id, scope.period.start, scope.period.end, r.repository_ids]
    if r.aligned and r.member_ids is None:
        row = await _rollup_sums(conn, r, THROUGHPUT_COLUMNS)
    else:
        row = await conn.fetchrow(THROUGHPUT_RAW_SQL, *base, *r.bots, r.member_ids)
    pr_items = issue_items = None
    if explain:
        pr_items = [
            Item(
                "pull_request",
                p["pull_request_id"],
                f"#{p['number']} {p['title']}",
                details={"repository_id": p["repository_id"]},
            )
            for p in await conn.fetch(MERGED_ITEMS_SQL, *base, EXPLAIN_LIMIT, *r.bots)
        ]
        issue_items = [
            Item(
                "issue",
                i["id"],
                f"#{i['number']} {i['title']}",
                details={"repository_id": i["repository_id"]},
            )
            for i in await conn.fetch(CLOSED_ITEMS_SQL, *base, EXPLAIN_LIMIT, *r.bots)
        ]
    return {
        "pull_requests_merged": _figure(
            float(row["prs_merged"]),
            "pull requests",
            row["prs_merged"],
            [("authored by a bot", row["prs_merged_bot"])],
            pr_items,
        ).to_dict(explain=explain),
        "issues_closed": _figure(
            float(row["issues_closed"]),
            "issues",
            row["issues_closed"],
            [
                ("opened by a bot", row["issues_closed_bot"]),
                ("closed as not planned", row["issues_not_planned"]),
            ],
            issue_items,
        ).to_dict(explain=explain),
        "source": "rollup" if r.aligned and r.member_ids is None else "raw",
    }


# ------------------------------------------------------------------ snapshots


def _bounded(figure: Figure) -> dict:
    out = figure.to_dict(explain=True)
    out["items_total"] = len(out["items"])
    out["items"] = out["items"][:EXPLAIN_LIMIT]
    for exclusion in out["excluded"]:
        exclusion["items"] = exclusion["items"][:EXPLAIN_LIMIT]
    return out


async def review_load(conn: asyncpg.Connection, scope: Scope) -> dict:
    """Open review requests per requested person now (the period does not apply: a snapshot)."""
    r = await resolve(conn, scope)
    prs = [p for p, _ in await facts.open_pull_requests(conn, scope.installation_id, r.repository_ids)]
    figure = review_load_figure(prs, settings=r.settings)
    out = _bounded(figure)
    if r.member_logins is not None:
        members = set(r.member_logins)
        out["per_reviewer"] = {k: v for k, v in out["per_reviewer"].items() if k.lower() in members}
        out["value"] = float(sum(out["per_reviewer"].values()))
        out["count"] = int(out["value"])
    return out


async def work_in_progress(conn: asyncpg.Connection, scope: Scope) -> dict:
    """Open PRs authored plus open issues assigned, per person now (a snapshot)."""
    r = await resolve(conn, scope)
    prs = [p for p, _ in await facts.open_pull_requests(conn, scope.installation_id, r.repository_ids)]
    issues = await facts.open_assigned_issues(conn, scope.installation_id, r.repository_ids)
    out = _bounded(wip_figure(prs, issues, settings=r.settings))
    if r.member_logins is not None:
        members = set(r.member_logins)
        people = {k: v for k, v in out["per_person"].items() if k.lower() in members}
        total = sum(v["total"] for v in people.values())
        out.update(
            per_person=people, total=total, count=len(people), value=total / len(people) if people else None
        )
    return out


# ------------------------------------------------------------------ analytics

PEOPLE_COLUMNS = (
    "prs_opened",
    "prs_merged",
    "reviews_given",
    "review_comments",
    "commits",
    "additions",
    "deletions",
    "cycle_time_hours_sum",
    "cycle_time_count",
)
PEOPLE_ROLLUP_SQL = f"""
SELECT d.user_id, u.login, {", ".join(f"sum(d.{c})::float8 AS {c}" for c in PEOPLE_COLUMNS)}
FROM developer_metrics d JOIN users u ON u.id = d.user_id
WHERE d.installation_id = $1 AND d.day >= $2 AND d.day < $3
  AND ($4::bigint[] IS NULL OR d.user_id = ANY($4::bigint[]))
GROUP BY d.user_id, u.login ORDER BY lower(u.login), d.user_id
"""
PEOPLE_RAW_SQL = f"""
WITH activity AS (
    SELECT p.author_id AS user_id, 1 AS prs_opened, 0 AS prs_merged, 0 AS reviews_given,
           0 AS review_comments, 0 AS commits, 0 AS additions, 0 AS deletions, 0.0::float8 AS cycle_sum,
           0 AS cycle_n
    FROM pull_requests p WHERE p.installation_id = $1 AND p.github_created_at >= $2
      AND p.github_created_at < $3 AND p.repository_id = ANY($5::bigint[])
    UNION ALL
    SELECT f.author_id, 0, 1, 0, 0, 0, coalesce(f.additions, 0), coalesce(f.deletions, 0), f.cycle_time, 1
    FROM pull_request_cycle f WHERE f.installation_id = $1 AND f.merged_at >= $2 AND f.merged_at < $3
      AND f.repository_id = ANY($5::bigint[])
    UNION ALL
    SELECT r.reviewer_id, 0, 0, 1, 0, 0, 0, 0, 0, 0 FROM pull_request_reviews r
    WHERE r.installation_id = $1 AND r.submitted_at >= $2 AND r.submitted_at < $3 AND r.state <> 'PENDING'
      AND r.repository_id = ANY($5::bigint[])
    UNION ALL
    SELECT (SELECT min(u.id) FROM users u WHERE lower(u.login) = lower(k.author_login)), 0, 0, 0, 0, 1,
           0, 0, 0, 0
    FROM commits k WHERE k.installation_id = $1 AND k.committed_at >= $2 AND k.committed_at < $3
      AND k.repository_id = ANY($5::bigint[])
)
SELECT a.user_id, u.login, sum(prs_opened)::float8 AS prs_opened, sum(prs_merged)::float8 AS prs_merged,
       sum(reviews_given)::float8 AS reviews_given, sum(review_comments)::float8 AS review_comments,
       sum(commits)::float8 AS commits, sum(additions)::float8 AS additions,
       sum(deletions)::float8 AS deletions, sum(cycle_sum) AS cycle_time_hours_sum,
       sum(cycle_n)::float8 AS cycle_time_count
FROM activity a JOIN users u ON u.id = a.user_id
WHERE ($4::bigint[] IS NULL OR a.user_id = ANY($4::bigint[]))
  AND NOT {facts.bot_sql("u.login", "u.is_bot", 6, 7)}
GROUP BY a.user_id, u.login ORDER BY lower(u.login), a.user_id
"""


async def _people(conn: asyncpg.Connection, r: Resolved, user_ids: list[int] | None) -> list[dict]:
    """Per-person sums over the period: developer_metrics for whole days and every repository."""
    period = r.scope.period
    if r.aligned and r.all_repositories:
        rows = await conn.fetch(
            PEOPLE_ROLLUP_SQL, r.scope.installation_id, period.start.date(), period.end.date(), user_ids
        )
    else:
        rows = await conn.fetch(
            PEOPLE_RAW_SQL,
            r.scope.installation_id,
            period.start,
            period.end,
            user_ids,
            r.repository_ids,
            *r.bots,
        )
    out = []
    for row in rows:
        person = {"user_id": row["user_id"], "login": row["login"]}
        for column in PEOPLE_COLUMNS[:7]:
            person[column] = int(row[column])
        n = row["cycle_time_count"]
        person["average_cycle_time_hours"] = row["cycle_time_hours_sum"] / n if n else None
        out.append(person)
    return out


async def team_analytics(conn: asyncpg.Connection, scope: Scope) -> dict:
    """Per-person table for the period plus today's open work (a coaching view, not a ranking)."""
    r = await resolve(conn, scope)
    people = await _people(conn, r, r.member_ids)
    wip = await work_in_progress(conn, scope)
    load = await review_load(conn, scope)
    for person in people:
        login = person["login"]
        person["work_in_progress"] = wip["per_person"].get(login, {}).get("total", 0)
        person["open_review_requests"] = load["per_reviewer"].get(login, 0)
    return {
        "people": people,
        "count": len(people),
        "note": COACHING_NOTE,
        "source": "rollup" if r.aligned and r.all_repositories else "raw",
    }


USER_SQL = """
SELECT u.id, u.login, u.name, u.avatar_url FROM users u WHERE u.id = $1
  AND (EXISTS (SELECT 1 FROM memberships m WHERE m.installation_id = $2 AND m.user_id = u.id)
       OR EXISTS (SELECT 1 FROM developer_metrics d WHERE d.installation_id = $2 AND d.user_id = u.id))
"""
PERSON_CYCLE_SQL = """
SELECT count(*) AS n, percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY cycle_time) AS pct,
       avg(cycle_time) AS average
FROM pull_request_cycle f
WHERE f.author_id = $1 AND f.installation_id = $2 AND f.merged_at >= $3 AND f.merged_at < $4
  AND f.repository_id = ANY($5::bigint[])
"""


async def individual_analytics(conn: asyncpg.Connection, scope: Scope, user_id: int) -> dict | None:
    """One person's figures for the period; None when not a member or contributor of the scope."""
    user = await conn.fetchrow(USER_SQL, user_id, scope.installation_id)
    if user is None:
        return None
    r = await resolve(conn, scope)
    if r.member_ids is not None and user_id not in r.member_ids:
        return None
    people = await _people(conn, r, [user_id])
    totals = (
        people[0]
        if people
        else {
            "user_id": user_id,
            "login": user["login"],
            **{c: 0 for c in PEOPLE_COLUMNS[:7]},
            "average_cycle_time_hours": None,
        }
    )
    cyc = await conn.fetchrow(
        PERSON_CYCLE_SQL,
        user_id,
        scope.installation_id,
        scope.period.start,
        scope.period.end,
        r.repository_ids,
    )
    wip = await work_in_progress(conn, scope)
    load = await review_load(conn, scope)
    return {
        "user": {
            "id": user["id"],
            "login": user["login"],
            "name": user["name"],
            "avatar_url": user["avatar_url"],
        },
        "totals": totals,
        "cycle_time": {
            "count": cyc["n"],
            "median": _pct(cyc["pct"], 0),
            "p95": _pct(cyc["pct"], 1),
            "average": cyc["average"],
        },
        "work_in_progress": wip["per_person"].get(
            user["login"], {"pull_requests": 0, "issues": 0, "total": 0}
        ),
        "open_review_requests": load["per_reviewer"].get(user["login"], 0),
        "note": COACHING_NOTE,
    }


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
        "deployment_frequency": (await _frequency(conn, r, explain=False)).to_dict(),
        "totals_source": "rollup (whole UTC days overlapping the period)",
    }


def _trend_expression(metric: str, team: bool) -> str:
    if metric == "cycle_time":
        return "sum(s.cycle_time_hours_sum) / nullif(sum(s.cycle_time_count), 0)"
    if metric == "build_success_rate":
        return (
            "100.0 * sum(s.workflow_successes) / "
            "nullif(sum(s.workflow_successes) + sum(s.workflow_failures), 0)"
        )
    if team and metric == "reviews":
        return "sum(s.reviews_given)::float8"
    return f"sum(s.{metric})::float8"


async def trends(conn: asyncpg.Connection, scope: Scope, *, metric: str, interval: str) -> dict:
    """A series per day/week/month from the daily rollups (days overlapping the period)."""
    if interval not in TREND_INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(TREND_INTERVALS)}")
    team = scope.team_id is not None
    allowed = TEAM_TREND_METRICS if team else TREND_METRICS
    if metric not in allowed:
        raise ValueError(f"metric must be one of {', '.join(allowed)}")
    r = await resolve(conn, scope)
    args: list[Any] = [
        scope.installation_id,
        scope.period.start.date(),
        (scope.period.end - _EPSILON).date(),
        interval,
    ]
    if team:
        table, extra = "team_metrics", " AND s.team_id = $5"
        args.append(scope.team_id)
    else:
        table, extra = _stats_source(r)
        if extra:
            args.append(r.repository_ids)
    expression = _trend_expression(metric, team)
    rows = await conn.fetch(
        f"""SELECT date_trunc($4, s.day::timestamp)::date AS bucket, {expression} AS value
            FROM {table} s WHERE s.installation_id = $1 AND s.day >= $2 AND s.day <= $3{extra}
            GROUP BY 1 ORDER BY 1""",
        *args,
    )
    return {
        "metric": metric,
        "interval": interval,
        "series": [{"start": row["bucket"].isoformat(), "value": row["value"]} for row in rows],
    }
