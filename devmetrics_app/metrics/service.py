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

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import asyncpg

from . import facts, open_work, rollups
from .builds import FAILURE_CONCLUSIONS, SUCCESS_CONCLUSIONS
from .burndown import burndown as burndown_figure
from .cycle_time import STAGES, UNIT_HOURS
from .dora import (
    BENCHMARK_SOURCE,
    DORA_THRESHOLDS,
    change_failure_bucket,
    frequency_bucket,
    lead_time_bucket,
    restore_bucket,
)
from .explain import Exclusion, Figure, Item, Period
from .settings import MetricsSettings
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
    # A count derived by subtraction can dip below 0 while rollups catch up (the figure then says
    # `pending`): it is never served negative.
    kept = [Exclusion(reason, n, (excluded_items or {}).get(reason, [])) for reason, n in excluded if n > 0]
    return Figure(value, unit, count, kept, items, details or {})


def _page(cursor: str | None) -> int:
    try:
        return max(0, int(cursor)) if cursor else 0
    except ValueError:
        raise ValueError("cursor must be a value returned as next_cursor") from None


def _next_cursor(offset: int, total: int) -> str | None:
    return str(offset + EXPLAIN_LIMIT) if offset + EXPLAIN_LIMIT < total else None


# ------------------------------------------------------------------ exact percentiles from histograms

HISTOGRAM_READ_SQL = """
SELECT s.series, coalesce(e.n, 0) AS e_n, coalesce(e.total, 0) AS e_total, coalesce(e.buckets, '{}') AS e_b,
       coalesce(b.n, 0) AS b_n, coalesce(b.total, 0) AS b_total, coalesce(b.buckets, '{}') AS b_b,
       (SELECT settings_key FROM metric_histogram_builds WHERE installation_id = $1) AS built,
       (SELECT coalesce(array_agg(id), '{}') FROM repositories
        WHERE installation_id = $1 AND NOT (connected AND removed_at IS NULL)) AS excluded
FROM unnest($2::text[]) AS s (series)
LEFT JOIN LATERAL (SELECT n, total, buckets FROM metric_histograms h
                   WHERE h.installation_id = $1 AND h.series = s.series AND h.day < $4
                   ORDER BY h.day DESC LIMIT 1) e ON true
LEFT JOIN LATERAL (SELECT n, total, buckets FROM metric_histograms h
                   WHERE h.installation_id = $1 AND h.series = s.series AND h.day < $3
                   ORDER BY h.day DESC LIMIT 1) b ON true
"""
# Where each histogram's values live: (table alias and FROM, value column, time column, bot test).
_RANK_SOURCES = {
    **{
        stage: ("pull_request_cycle f", f"f.{stage}", "f.merged_at", "f.author_login", "f.author_is_bot", "")
        for stage in rollups.CYCLE_STAGE_SERIES
    },
    rollups.LEAD_SERIES: (
        "release_commits f", "f.lead_hours", "f.released_at", "f.author_login", "f.author_is_bot",
        " AND f.lead_hours >= 0",
    ),
}


class _Stale(Exception):
    """The histograms disagree with the facts (not built, other settings): sort the facts."""


@dataclass
class _Histogram:
    n: int
    total: float
    buckets: list[int]


async def _histograms(
    conn: asyncpg.Connection, r: Resolved, series: Sequence[str]
) -> tuple[dict[str, _Histogram], list[int]]:
    """The period's histogram of each series for every repository of the scope (default scope,
    whole days); raises _Stale when no build with the current settings exists."""
    period = r.scope.period
    rows = await conn.fetch(
        HISTOGRAM_READ_SQL, r.scope.installation_id, list(series), period.start.date(), period.end.date()
    )
    if not rows or rows[0]["built"] != facts.settings_key(r.settings):
        raise _Stale
    excluded = list(rows[0]["excluded"])
    out = {}
    for row in rows:
        e, b = list(row["e_b"]), list(row["b_b"])
        b += [0] * (len(e) - len(b))
        out[row["series"]] = _Histogram(
            row["e_n"] - row["b_n"],
            row["e_total"] - row["b_total"],
            [x - y for x, y in zip(e, b, strict=False)],
        )
    if excluded:  # disconnected or removed repositories' facts are in the build: take them out
        exclude, patterns = r.bots
        for d in await conn.fetch(
            rollups.HISTOGRAM_DELTAS_SQL,
            r.scope.installation_id,
            period.start,
            period.end,
            excluded,
            exclude,
            patterns,
        ):
            h = out.get(d["series"])
            if h is None:
                continue
            h.n -= d["n"]
            h.total -= d["total"] or 0.0
            if d["bucket"] is not None:
                h.buckets[d["bucket"]] -= d["n"]
    return out, excluded


def _locate(buckets: Sequence[int], rank: int) -> tuple[int, int]:
    """(bucket, rank within it) of the rank-th smallest value (0-based)."""
    seen = 0
    for bucket, count in enumerate(buckets):
        if rank < seen + count:
            return bucket, rank - seen
        seen += count
    raise _Stale


async def _exact_percentiles(
    conn: asyncpg.Connection,
    r: Resolved,
    hists: dict[str, _Histogram],
    excluded: list[int],
    wanted: Sequence[tuple[str, Sequence[float]]],
) -> dict[str, list[float] | None]:
    """percentile_cont(fractions) of each series, exactly: the histogram locates the two ranks
    around p·(n-1), one index probe per bucket reads the order statistics from the facts."""
    period = r.scope.period
    args: list[Any] = [r.scope.installation_id, period.start, period.end, excluded, *r.bots]
    probes: list[str] = []
    # (series, position, first rank, second rank, [(probe column, limit)])
    plan: list[tuple[str, float, int, int, list[tuple[int, int]]]] = []
    for series, fractions in wanted:
        h = hists[series]
        if h.n <= 0:
            continue
        table, value, at, login, flag, extra = _RANK_SOURCES[series]
        bot = facts.bot_sql(login, flag, 5, 6)
        for fraction in fractions:
            position = fraction * (h.n - 1)
            first, second = math.floor(position), math.ceil(position)
            b1, k1 = _locate(h.buckets, first)
            b2, k2 = _locate(h.buckets, second)
            refs = []
            reads = [(b1, k1, second - first + 1)] if b1 == b2 else [(b1, k1, 1), (b2, k2, 1)]
            for bucket, offset, limit in reads:
                args += [bucket, offset, limit]
                n = len(args)
                probes.append(
                    f"ARRAY(SELECT {value} FROM {table} WHERE f.installation_id = $1"
                    f" AND metrics_bucket({value}) = ${n - 2}::smallint AND {value} IS NOT NULL{extra}"
                    f" AND {at} >= $2 AND {at} < $3 AND f.repository_id <> ALL($4::bigint[]) AND NOT {bot}"
                    f" ORDER BY {value} OFFSET ${n - 1}::bigint LIMIT ${n}::bigint)"
                )
                refs.append((len(probes) - 1, limit))
            plan.append((series, position, first, second, refs))
    out: dict[str, list[float] | None] = {series: None for series, _ in wanted}
    if not probes:
        return out
    row = await conn.fetchrow("SELECT " + ", ".join(probes), *args)
    for series, position, first, second, refs in plan:
        values = [v for probe, limit in refs for v in row[probe]]
        if len(values) != (second - first + 1 if len(refs) == 1 else 2):
            raise _Stale
        lo, hi = values[0], values[-1]
        result = lo if first == second else lo + (hi - lo) * (position - first)
        out[series] = [*(out[series] or []), result]
    return out


def _fast_path(r: Resolved) -> bool:
    """Histograms answer the default scope (every connected repository, no team) over whole days."""
    return r.aligned and r.all_repositories and r.member_ids is None


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
ORDER BY f.installation_id, f.cycle_time DESC, f.pull_request_id LIMIT $8 OFFSET $9
"""
CYCLE_BOT_ITEMS_SQL = f"""
SELECT f.pull_request_id, f.number, f.title FROM pull_request_cycle f
WHERE {CYCLE_WHERE} AND {CYCLE_BOT} ORDER BY f.merged_at DESC, f.pull_request_id LIMIT $8
"""
UNREVIEWED_ITEMS_SQL = f"""
SELECT f.pull_request_id, f.number, f.title, f.repository_id, f.merged_at FROM pull_request_cycle f
WHERE {CYCLE_WHERE} AND f.unreviewed AND NOT {CYCLE_BOT}
ORDER BY f.merged_at DESC, f.pull_request_id LIMIT $8
"""


async def _cycle_row(conn: asyncpg.Connection, r: Resolved) -> dict | None:
    """CYCLE_SQL's row from the histograms (exact medians); None when they cannot answer."""
    series = (*rollups.CYCLE_STAGE_SERIES, *rollups.CYCLE_SCALAR_SERIES)
    try:
        hists, excluded = await _histograms(conn, r, series)
        pct = await _exact_percentiles(
            conn, r, hists, excluded, [(c, (0.5, 0.95)) for c in rollups.CYCLE_STAGE_SERIES]
        )
    except _Stale:
        return None
    row: dict[str, Any] = {
        "merged": hists["cycle_time"].n,
        "bots": hists["cycle:bots"].n,
        "unreviewed": hists["cycle:unreviewed"].n,
        "unapproved": hists["cycle:unapproved"].n,
    }
    for c in rollups.CYCLE_STAGE_SERIES:
        h = hists[c]
        row[f"{c}_n"] = h.n
        row[f"{c}_avg"] = h.total / h.n if h.n else None
        row[f"{c}_pct"] = pct[c]
    return row


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
    row = await _cycle_row(conn, r) if _fast_path(r) else None
    if row is None:
        row = await conn.fetchrow(CYCLE_SQL, *args)
    bot_reason = [("authored by a bot", row["bots"])]
    items_by_stage: dict[str, list[Item]] = {}
    bot_items: dict[str, list[Item]] = {}
    unreviewed_items: list[Item] = []
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
        unreviewed_items = [
            Item("pull_request", p["pull_request_id"], f"#{p['number']} {p['title']}", None,
                 {"repository_id": p["repository_id"], "merged_at": p["merged_at"]})
            for p in await conn.fetch(UNREVIEWED_ITEMS_SQL, *args, EXPLAIN_LIMIT)
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
            unreviewed_items,
            {"percent": row["unreviewed"] / merged * 100.0 if merged else None},
            bot_items,
        ).to_dict(explain=explain),
    }
    if explain:
        out["items_total"] = merged
        out["next_cursor"] = _next_cursor(offset, merged)
    return out


# ------------------------------------------------------------------ velocity and burndown

SPRINT_WHERE = "s.installation_id = $1 AND s.repository_id = ANY($4::bigint[])"
VELOCITY_SQL = f"""
SELECT count(*) AS n, coalesce(sum(points), 0) AS total,
       coalesce(sum(bot_issues), 0) AS bot_issues, coalesce(sum(not_planned_issues), 0) AS not_planned,
       coalesce(sum(open_issues), 0) AS open_issues,
       (SELECT count(*) FROM sprint_facts s WHERE {SPRINT_WHERE} AND s.state <> 'CLOSED'
          AND s.starts_at < $3 AND s.ends_at >= $2) AS open_sprints
FROM sprint_facts s WHERE {SPRINT_WHERE} AND s.state = 'CLOSED' AND s.ends_at >= $2 AND s.ends_at < $3
"""
# Up to $5 most recent closed sprints of each repository, with the repository's totals: sprints
# of different repositories (teams) are never pooled into one series.
SPRINTS_SQL = f"""
SELECT x.milestone_id, x.title, x.points, x.ends_at, x.completed_issues, x.repository_id, x.full_name,
       x.repo_n, x.repo_total
FROM (SELECT s.milestone_id, s.title, s.points, s.ends_at, s.completed_issues, s.repository_id, r.full_name,
             row_number() OVER w AS k, count(*) OVER p AS repo_n, sum(s.points) OVER p AS repo_total
      FROM sprint_facts s JOIN repositories r ON r.id = s.repository_id
      WHERE {SPRINT_WHERE} AND s.state = 'CLOSED' AND s.ends_at >= $2 AND s.ends_at < $3
      WINDOW w AS (PARTITION BY s.repository_id ORDER BY s.ends_at DESC, s.milestone_id DESC),
             p AS (PARTITION BY s.repository_id)) x
WHERE x.k <= $5
ORDER BY x.ends_at DESC, x.milestone_id DESC
"""


# Said by figures a team filter cannot narrow (they belong to repositories, not to people).
TEAM_NOT_APPLIED = (
    "not applied: deployments, incidents and sprints belong to repositories; filter by repository"
)


@dataclass(frozen=True)
class _RepositoryVelocity:
    repository_id: int
    repository: str
    current: float | None
    older: float | None
    average: float
    confidence: float
    sprints: int

    def to_dict(self) -> dict:
        direction, change = trend(self.current, self.older)
        return {"repository_id": self.repository_id, "repository": self.repository, "value": self.current,
                "average": self.average, "older_average": self.older, "trend": direction, "change": change,
                "confidence": self.confidence, "sprints": self.sprints}


def _repository_velocities(rows: Sequence[asyncpg.Record]) -> list[_RepositoryVelocity]:
    """Each repository's velocity over its own sprints (rows newest first, as SPRINTS_SQL)."""
    by_repo: dict[int, list[asyncpg.Record]] = {}
    for row in rows:
        by_repo.setdefault(row["repository_id"], []).append(row)
    out = []
    for repository_id, sprints in by_repo.items():
        velocities = [s["points"] for s in sprints]
        n, total = sprints[0]["repo_n"], sprints[0]["repo_total"]
        out.append(_RepositoryVelocity(
            repository_id, sprints[0]["full_name"], weighted_velocity(velocities),
            (total - velocities[0]) / (n - 1) if n > 1 else None, total / n, confidence(velocities), n))
    return sorted(out, key=lambda v: (v.repository.lower(), v.repository_id))


async def velocity(conn: asyncpg.Connection, scope: Scope, *, explain: bool = False) -> dict:
    """Weighted velocity over the closed sprints (milestones) that ended in the period.

    Sprints belong to a repository (its team's cadence): each repository's velocity is computed
    over its own sprints (`by_repository`), and the scope's is their sum -- the points the
    organisation completes per sprint. Its older average is the sum of the repositories' older
    averages, a repository with a single sprint counting its current velocity on both sides (no
    history, no trend of its own); its confidence is the mean of theirs."""
    r = await resolve(conn, scope)
    args = [scope.installation_id, scope.period.start, scope.period.end, r.repository_ids]
    agg = await conn.fetchrow(VELOCITY_SQL, *args)
    rows = await conn.fetch(SPRINTS_SQL, *args, VELOCITY_SPRINTS_SHOWN)
    shown = rows[:VELOCITY_SPRINTS_SHOWN]
    n = agg["n"]
    repos = _repository_velocities(rows)
    current = math.fsum(v.current for v in repos if v.current is not None) if repos else None
    with_history = [v for v in repos if v.older is not None]
    older = (math.fsum(v.older if v.older is not None else v.current or 0.0 for v in repos)
             if with_history else None)
    direction, change = trend(current, older)
    items = [
        Item(
            "sprint",
            s["milestone_id"],
            f"{s['title']} ({s['full_name']})",
            s["points"],
            {"ends_at": s["ends_at"], "completed_issues": s["completed_issues"],
             "repository_id": s["repository_id"], "repository": s["full_name"]},
        )
        for s in shown
    ]
    figure = _figure(
        current,
        "points",
        n,
        [
            ("sprint still open", agg["open_sprints"]),
            # Issues of the counted sprints whose points did not count:
            ("issues opened by a bot", agg["bot_issues"]),
            ("issues closed as not planned", agg["not_planned"]),
            ("issues still open when the sprint closed", agg["open_issues"]),
        ],
        items,
        {
            "average": math.fsum(v.average for v in repos) if repos else None,
            "older_average": older,
            "trend": direction,
            "change": change,
            "confidence": math.fsum(v.confidence for v in repos) / len(repos) if repos else 0.0,
            "by_repository": [v.to_dict() for v in repos],
            "sprints": [{"id": s["milestone_id"], "title": s["title"], "points": s["points"],
                         "repository_id": s["repository_id"], "repository": s["full_name"]} for s in shown],
            "sprints_total": n,
            **({"team_filter": TEAM_NOT_APPLIED} if scope.narrowed_to_people else {}),
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
# explain: the period's released commits with the longest lead times (the rank index, backwards).
LEAD_ITEMS_SQL = f"""
SELECT c.sha, c.repository_id, c.lead_hours, c.released_at, c.release_source, c.release_id
FROM release_commits c
WHERE c.installation_id = $1 AND c.released_at >= $2 AND c.released_at < $3
  AND c.repository_id = ANY($4::bigint[]) AND ($5::text[] IS NULL OR lower(c.author_login) = ANY($5::text[]))
  AND c.lead_hours >= 0 AND NOT {LEAD_BOT}
ORDER BY c.installation_id, metrics_bucket(c.lead_hours) DESC, c.lead_hours DESC, c.sha LIMIT $8
"""
# Commits of the period never released (yet): all commits committed in it minus released ones.
COMMITS_IN_PERIOD_SQL = """
SELECT count(*) FROM commits k
WHERE k.installation_id = $1 AND k.committed_at >= $2 AND k.committed_at < $3
  AND k.repository_id = ANY($4::bigint[])
  AND ($5::text[] IS NULL OR lower(k.author_login) = ANY($5::text[]))
"""
# Merge commits of the period: not changes, so never released commits (rollups.INSERT_RELEASE_COMMITS).
MERGE_COMMITS_IN_PERIOD_SQL = """
SELECT count(*) FROM commits k
WHERE k.installation_id = $1 AND k.committed_at >= $2 AND k.committed_at < $3 AND k.is_merge
  AND k.repository_id = ANY($4::bigint[])
  AND ($5::text[] IS NULL OR lower(k.author_login) = ANY($5::text[]))
"""
RELEASED_COMMITTED_IN_PERIOD_SQL = """
SELECT count(*) FROM release_commits c
WHERE c.installation_id = $1 AND c.committed_at >= $2 AND c.committed_at < $3
  AND c.repository_id = ANY($4::bigint[])
  AND ($5::text[] IS NULL OR lower(c.author_login) = ANY($5::text[]))
"""
# Same test as unnesting lower(trim(label)) = ANY($5), through the GIN index of sql/004.
INCIDENT_MATCH = "metrics_labels(i.labels) && $5::text[]"
# A revert PR names what it reverts: GitHub's Revert button writes "Reverts owner/repo#N" in the
# body, `git revert` writes "This reverts commit <sha>." in the message (a one-commit PR's body).
REVERTS_PR = r"Reverts ([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)#([0-9]+)"
REVERTS_COMMIT = r"This reverts commit ([0-9a-fA-F]{40})"
_REVERTED_REACHED = rollups.reached_at_sql("k")
# Failure signals at or after the period start (an earlier one cannot hit an attempt in it).
# A revert blames the deployment that first shipped the change it names: the first success of
# that change's repository whose cut reaches the moment the change reached the default branch
# (rollups.release_intervals), or that deployed it by sha; a revert naming nothing, or a change
# never shipped, blames nobody and is counted apart. An incident names no change: it is
# attributed to the latest success at or before it, in its repository if that repository ever
# released, else across the scope (dora._attribute).
CHANGE_FAILURE_SQL = f"""
WITH reverts AS (
    SELECT f.merged_at AS at, named.repository_id AS t_repo, named.sha AS t_sha,
           (m.pr_ref IS NOT NULL OR m.sha_ref IS NOT NULL) AS names
    FROM pull_request_cycle f JOIN pull_requests p ON p.id = f.pull_request_id
    CROSS JOIN LATERAL (SELECT regexp_match(coalesce(p.body, ''), '{REVERTS_PR}') AS pr_ref,
                               regexp_match(coalesce(p.body, ''), '{REVERTS_COMMIT}') AS sha_ref) m
    LEFT JOIN LATERAL (
        SELECT q.repository_id, q.merge_commit_sha AS sha
        FROM repositories rr JOIN pull_requests q ON q.repository_id = rr.id
        WHERE m.pr_ref IS NOT NULL AND rr.installation_id = $1 AND lower(rr.full_name) = lower(m.pr_ref[1])
          AND q.number = m.pr_ref[2]::int AND q.merged_at IS NOT NULL AND q.merge_commit_sha IS NOT NULL
        UNION ALL
        SELECT f.repository_id, lower(m.sha_ref[1]) WHERE m.pr_ref IS NULL AND m.sha_ref IS NOT NULL
        LIMIT 1) named ON true
    WHERE f.installation_id = $1 AND f.is_revert AND f.merged_at >= $2 AND f.repository_id = ANY($4::bigint[])
),
incidents AS (
    SELECT i.repository_id, i.github_created_at AS at
    FROM issues i
    WHERE i.installation_id = $1 AND i.github_created_at >= $2 AND i.repository_id = ANY($4::bigint[])
      AND i.deleted_at IS NULL AND {INCIDENT_MATCH} AND coalesce(i.state_reason, '') <> 'not_planned'
),
-- For incidents: the latest success at or before each, with that release's outcome: one
-- descending index-only probe in the incident's repository; only for a repository that never
-- released, the latest success anywhere in the scope (dora._attribute).
attributed AS (
    SELECT 'revert' AS kind, v.at, v.names, shipped.source AS t_source, shipped.id AS t_id,
           shipped.outcome_at AS t_outcome_at, shipped.failed_at AS t_failed_at
    FROM reverts v
    LEFT JOIN commits k ON k.repository_id = v.t_repo AND k.sha = v.t_sha
    LEFT JOIN LATERAL (
        SELECT r.source, r.id, r.outcome_at, r.failed_at FROM releases r
        WHERE r.repository_id = v.t_repo AND r.installation_id = $1 AND r.succeeded_at IS NOT NULL
          AND (r.sha = v.t_sha OR (r.succeeded_at >= {_REVERTED_REACHED} AND r.cut_at >= {_REVERTED_REACHED}))
        ORDER BY r.succeeded_at, r.id LIMIT 1) shipped ON true
    UNION ALL
    SELECT 'incident', s.at, true, coalesce(same.source, other.source),
           coalesce(same.id, other.id), coalesce(same.outcome_at, other.outcome_at),
           coalesce(same.failed_at, other.failed_at)
    FROM incidents s
    LEFT JOIN LATERAL (
        SELECT r.source, r.id, r.outcome_at, r.failed_at FROM releases r
        WHERE r.repository_id = s.repository_id AND r.installation_id = $1 AND r.succeeded_at <= s.at
        ORDER BY r.succeeded_at DESC NULLS LAST, r.id DESC LIMIT 1) same ON true
    LEFT JOIN LATERAL (
        SELECT r.source, r.id, r.outcome_at, r.failed_at FROM releases r
        WHERE same.id IS NULL
          AND NOT EXISTS (SELECT 1 FROM releases x
                          WHERE x.repository_id = s.repository_id AND x.installation_id = $1)
          AND r.installation_id = $1 AND r.succeeded_at IS NOT NULL
          AND r.succeeded_at <= s.at AND r.repository_id = ANY($4::bigint[])
        ORDER BY r.succeeded_at DESC, r.id DESC LIMIT 1) other ON true
),
hit AS (  -- each release a signal hit: its outcome, and the kinds of signal that hit it
    SELECT t_source, t_id, min(t_outcome_at) AS outcome_at, bool_or(t_failed_at IS NOT NULL) AS status_failed,
           array_agg(DISTINCT kind ORDER BY kind) AS kinds
    FROM attributed WHERE t_id IS NOT NULL GROUP BY t_source, t_id),
-- The period's releases counted in one pass of releases_period_idx; a release that failed by
-- its own status counts once, a signal adds only releases of the period that did not.
outcomes AS (
    SELECT count(*) AS attempts, count(*) FILTER (WHERE r.failed_at IS NOT NULL) AS status_failed
    FROM releases r WHERE {RELEASE_WHERE} AND r.outcome_at >= $2 AND r.outcome_at < $3
)
SELECT o.attempts,
       o.status_failed + (SELECT count(*) FROM hit h WHERE h.outcome_at >= $2 AND h.outcome_at < $3
                            AND NOT h.status_failed) AS failed,
       (SELECT count(*) FROM attributed x WHERE x.kind = 'revert' AND NOT x.names AND x.at < $3)
           AS revert_unnamed,
       (SELECT count(*) FROM attributed x WHERE x.t_id IS NULL AND x.kind = 'revert' AND x.names
            AND x.at < $3) AS revert_unattributed,
       (SELECT count(*) FROM attributed x WHERE x.t_id IS NULL AND x.kind = 'incident' AND x.at < $3)
           AS incident_unattributed,
       (SELECT count(*) FROM issues i WHERE i.installation_id = $1 AND i.github_created_at >= $2
            AND i.repository_id = ANY($4::bigint[]) AND i.deleted_at IS NULL AND {INCIDENT_MATCH}
            AND coalesce(i.state_reason, '') = 'not_planned') AS incident_not_planned,
       -- explain ($6 > 0): the first $6 failed releases, newest first, with what failed them.
       (SELECT coalesce(jsonb_agg(x ORDER BY x.outcome_at DESC, x.id DESC), '[]'::jsonb) FROM (
            SELECT f.*, coalesce(h.kinds, '{{}}') AS signals FROM (
                SELECT r.source, r.id, r.sha, r.repository_id, r.outcome_at,
                       r.failed_at IS NOT NULL AS status_failed
                FROM releases r
                WHERE {RELEASE_WHERE} AND r.outcome_at >= $2 AND r.outcome_at < $3
                  AND (r.failed_at IS NOT NULL OR (r.source, r.id) IN (SELECT t_source, t_id FROM hit))
                ORDER BY r.outcome_at DESC, r.id DESC LIMIT $6) f
            LEFT JOIN hit h ON h.t_source = f.source AND h.t_id = f.id) x) AS items
FROM outcomes o
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
# explain: the period's resolved incidents, longest outage first.
RESTORE_ITEMS_SQL = f"""
SELECT i.id, i.number, i.title, i.repository_id, i.github_created_at, i.closed_at,
       extract(epoch FROM i.closed_at - i.github_created_at) / 3600.0 AS hours
FROM issues i
WHERE i.installation_id = $1 AND i.closed_at >= $2 AND i.closed_at < $3 AND i.deleted_at IS NULL
  AND i.repository_id = ANY($4::bigint[]) AND {INCIDENT_MATCH}
  AND coalesce(i.state_reason, '') <> 'not_planned'
ORDER BY hours DESC, i.id LIMIT $6
"""


async def _frequency(
    conn: asyncpg.Connection, r: Resolved, *, explain: bool = False, cursor: str | None = None
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


async def _lead_time_fast(conn: asyncpg.Connection, r: Resolved) -> tuple[dict, int, int] | None:
    try:
        hists, excluded = await _histograms(conn, r, (rollups.LEAD_SERIES, *rollups.LEAD_SCALAR_SERIES))
        pct = await _exact_percentiles(conn, r, hists, excluded, [(rollups.LEAD_SERIES, (0.5,))])
    except _Stale:
        return None
    committed = (await _rollup_sums(conn, r, ("commits",)))["commits"]
    row = {
        "n": hists[rollups.LEAD_SERIES].n,
        "median": _pct(pct[rollups.LEAD_SERIES], 0),
        "bots": hists["lead:bots"].n,
        "unknown": hists["lead:unknown"].n,
        "skew": hists["lead:skew"].n,
    }
    return row, committed, hists["lead:released_committed"].n


async def _lead_time(conn: asyncpg.Connection, r: Resolved, *, explain: bool = False) -> Figure:
    period = r.scope.period
    args = [r.scope.installation_id, period.start, period.end, r.repository_ids, r.member_logins]
    fast = await _lead_time_fast(conn, r) if _fast_path(r) else None
    if fast is not None:
        row, committed, released = fast
    else:
        row = await conn.fetchrow(LEAD_TIME_SQL, *args, *r.bots)
        committed = await conn.fetchval(COMMITS_IN_PERIOD_SQL, *args)
        released = await conn.fetchval(RELEASED_COMMITTED_IN_PERIOD_SQL, *args)
    merges = await conn.fetchval(MERGE_COMMITS_IN_PERIOD_SQL, *args)
    items = None
    if explain:
        items = [
            Item("commit", c["sha"], c["sha"][:12], c["lead_hours"],
                 {"repository_id": c["repository_id"], "released_at": c["released_at"],
                  "release": f"{c['release_source']}:{c['release_id']}"})
            for c in await conn.fetch(LEAD_ITEMS_SQL, *args, *r.bots, EXPLAIN_LIMIT)
        ]
    return _figure(
        row["median"],
        "hours",
        row["n"],
        [
            # Counts read at different moments (rollups catching up) never make it negative.
            ("not deployed yet", max(0, committed - merges - released)),
            ("merge commits (not changes)", merges),
            ("authored by a bot", row["bots"]),
            ("commit time unknown", row["unknown"]),
            ("committed after its deployment (clock skew)", row["skew"]),
        ],
        items,
        {"benchmark": lead_time_bucket(row["median"])},
    )


async def _change_failure(conn: asyncpg.Connection, r: Resolved, *, explain: bool = False) -> Figure:
    period = r.scope.period
    args = [r.scope.installation_id, period.start, period.end, r.repository_ids,
            [x.lower() for x in r.settings.incident_labels]]
    # One query: its attribution of failure signals is the costly part, not worth running twice.
    row = await conn.fetchrow(CHANGE_FAILURE_SQL, *args, EXPLAIN_LIMIT if explain else 0)
    items = None
    if explain:
        items = [
            Item(x["source"], x["id"], x["sha"][:12], None,
                 {"repository_id": x["repository_id"], "outcome_at": x["outcome_at"],
                  "failed_by": (["deployment status"] if x["status_failed"] else []) + list(x["signals"])})
            for x in row["items"]
        ]
    attempts = row["attempts"]
    value = row["failed"] / attempts * 100.0 if attempts else None
    return _figure(
        value,
        "%",
        attempts,
        [
            ("incident closed as not planned", row["incident_not_planned"]),
            ("revert naming no pull request or commit (not attributed)", row["revert_unnamed"]),
            ("revert of a change no deployment shipped", row["revert_unattributed"]),
            ("incident with no deployment before it", row["incident_unattributed"]),
        ],
        items,
        {"failed": row["failed"], "benchmark": change_failure_bucket(value)},
    )


async def _restore(conn: asyncpg.Connection, r: Resolved, *, explain: bool = False) -> Figure:
    period = r.scope.period
    args = [r.scope.installation_id, period.start, period.end, r.repository_ids,
            [x.lower() for x in r.settings.incident_labels]]
    row = await conn.fetchrow(RESTORE_SQL, *args)
    items = None
    if explain:
        items = [
            Item("issue", i["id"], f"#{i['number']} {i['title']}", i["hours"],
                 {"repository_id": i["repository_id"], "opened_at": i["github_created_at"],
                  "closed_at": i["closed_at"]})
            for i in await conn.fetch(RESTORE_ITEMS_SQL, *args, EXPLAIN_LIMIT)
        ]
    return _figure(
        row["median"],
        "hours",
        row["n"],
        [("still open", row["still_open"]), ("closed as not planned", row["not_planned"])],
        items,
        {"benchmark": restore_bucket(row["median"])},
    )


async def lead_time(conn: asyncpg.Connection, scope: Scope) -> dict:
    """DORA lead time for changes alone (the overview's trend line)."""
    return (await _lead_time(conn, await resolve(conn, scope))).to_dict()


DORA_KEYS = {
    "deployment_frequency": _frequency,
    "lead_time": _lead_time,
    "change_failure_rate": _change_failure,
    "time_to_restore": _restore,
}


async def dora(conn: asyncpg.Connection, scope: Scope, *, explain: bool = False) -> dict:
    """The four keys with their 2023 benchmark buckets."""
    r = await resolve(conn, scope)
    keys = {key: (await compute(conn, r, explain=explain)).to_dict(explain=explain)
            for key, compute in DORA_KEYS.items()}
    return _dora_result(keys, scope)


async def dora_concurrently(pool: asyncpg.Pool, scope: Scope, *, explain: bool = False) -> dict:
    """`dora`, each key on its own pooled connection at the same time: the answer takes as long
    as the slowest key (change failure) rather than the four in a row."""

    async def key(compute: Callable[..., Awaitable[Figure]]) -> dict:
        async with pool.acquire() as conn:
            figure = await compute(conn, await resolve(conn, scope), explain=explain)
            return figure.to_dict(explain=explain)

    figures = await asyncio.gather(*(key(compute) for compute in DORA_KEYS.values()))
    return _dora_result(dict(zip(DORA_KEYS, figures, strict=True)), scope)


def _dora_result(keys: dict[str, dict], scope: Scope) -> dict:
    out = {**keys, "benchmark_source": BENCHMARK_SOURCE}
    for key, thresholds in DORA_THRESHOLDS.items():
        out[key]["benchmark_thresholds"] = thresholds.to_dict()
    if scope.narrowed_to_people:
        # Lead time follows the team's commits; the other keys have no author to filter on.
        for key in ("deployment_frequency", "change_failure_rate", "time_to_restore"):
            out[key]["team_filter"] = TEAM_NOT_APPLIED
    return out


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


def _stats_source(r: Resolved, parameter: int = 4) -> tuple[str, str]:
    """(table, repository filter on `$parameter`) of the daily rollup answering this scope."""
    if r.all_repositories:
        return "installation_stats", ""
    return "repository_stats", f" AND s.repository_id = ANY(${parameter}::bigint[])"


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
        AND coalesce(w.completed_at, w.github_updated_at) < $3 AND w.repository_id = ANY($4::bigint[])
        AND ($9::bigint[] IS NULL OR w.actor_id = ANY($9::bigint[]))) x
"""
UNFINISHED_RUNS_SQL = """
SELECT count(*) FROM workflow_runs w
WHERE w.installation_id = $1 AND w.github_created_at >= $2 AND w.github_created_at < $3
  AND w.status IS DISTINCT FROM 'completed' AND w.repository_id = ANY($4::bigint[])
  AND ($5::bigint[] IS NULL OR w.actor_id = ANY($5::bigint[]))
"""
BUILD_ITEMS_SQL = f"""
SELECT w.id, w.name, w.conclusion, w.head_branch, w.repository_id FROM workflow_runs w
LEFT JOIN users u ON u.id = w.actor_id
WHERE NOT {facts.bot_sql("u.login", "coalesce(u.is_bot, false)", 7, 8)}
  AND w.installation_id = $1 AND w.status = 'completed'
  AND coalesce(w.completed_at, w.github_updated_at) >= $2
  AND coalesce(w.completed_at, w.github_updated_at) < $3 AND w.repository_id = ANY($4::bigint[])
  AND lower(w.conclusion) = ANY($5::text[]) AND ($9::bigint[] IS NULL OR w.actor_id = ANY($9::bigint[]))
ORDER BY coalesce(w.completed_at, w.github_updated_at) DESC, w.id DESC LIMIT $6
"""


async def build_success(conn: asyncpg.Connection, scope: Scope, *, explain: bool = False) -> dict:
    """Workflow-run success rate; whole days from the rollups, other bounds from raw runs. With a
    team, the runs its members triggered (from raw runs: the rollups are per repository)."""
    r = await resolve(conn, scope)
    period = scope.period
    base = [scope.installation_id, period.start, period.end, r.repository_ids]
    from_rollup = r.aligned and r.member_ids is None
    if from_rollup:
        row = await _rollup_sums(conn, r, BUILD_COLUMNS)
    else:
        row = await conn.fetchrow(
            BUILD_RAW_SQL, *base, *r.bots, sorted(SUCCESS_CONCLUSIONS), sorted(FAILURE_CONCLUSIONS),
            r.member_ids,
        )
    unfinished = await conn.fetchval(UNFINISHED_RUNS_SQL, *base, r.member_ids)
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
                r.member_ids,
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
        {"successes": successes, "failures": failures, "source": "rollup" if from_rollup else "raw"},
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
  AND NOT {CYCLE_BOT} AND ($8::bigint[] IS NULL OR f.author_id = ANY($8::bigint[]))
ORDER BY f.merged_at DESC, f.pull_request_id DESC LIMIT $5
"""
CLOSED_ITEMS_SQL = f"""
SELECT i.id, i.number, i.title, i.repository_id FROM issues i LEFT JOIN users u ON u.id = i.author_id
WHERE i.installation_id = $1 AND i.closed_at >= $2 AND i.closed_at < $3 AND i.state = 'CLOSED'
  AND i.deleted_at IS NULL AND i.repository_id = ANY($4::bigint[])
  AND coalesce(i.state_reason, '') <> 'not_planned'
  AND NOT {facts.bot_sql("i.author_login", "coalesce(u.is_bot, false)", 6, 7)}
  AND ($8::bigint[] IS NULL OR i.assignee_ids && $8::bigint[])
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
            for p in await conn.fetch(MERGED_ITEMS_SQL, *base, EXPLAIN_LIMIT, *r.bots, r.member_ids)
        ]
        issue_items = [
            Item(
                "issue",
                i["id"],
                f"#{i['number']} {i['title']}",
                details={"repository_id": i["repository_id"]},
            )
            for i in await conn.fetch(CLOSED_ITEMS_SQL, *base, EXPLAIN_LIMIT, *r.bots, r.member_ids)
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


def _snapshot_repositories(r: Resolved) -> list[int] | None:
    """None for every connected repository (the snapshot queries join on that themselves)."""
    return None if r.all_repositories else r.repository_ids


async def review_load(conn: asyncpg.Connection, scope: Scope, *, explain: bool = False) -> dict:
    """Open review requests per requested person now (the period does not apply: a snapshot)."""
    r = await resolve(conn, scope)
    figure, items_total = await open_work.review_load(
        conn, scope.installation_id, _snapshot_repositories(r), r.settings,
        limit=EXPLAIN_LIMIT if explain else None)
    out = _snapshot_dict(figure, items_total, explain)
    if r.member_logins is not None:
        members = set(r.member_logins)
        out["per_reviewer"] = {k: v for k, v in out["per_reviewer"].items() if k.lower() in members}
        out["value"] = float(sum(out["per_reviewer"].values()))
        out["count"] = int(out["value"])
    return out


async def work_in_progress(conn: asyncpg.Connection, scope: Scope, *, explain: bool = False) -> dict:
    """Open PRs authored plus open issues assigned, per person now (a snapshot)."""
    r = await resolve(conn, scope)
    figure, items_total = await open_work.work_in_progress(
        conn, scope.installation_id, _snapshot_repositories(r), r.settings,
        limit=EXPLAIN_LIMIT if explain else None)
    out = _snapshot_dict(figure, items_total, explain)
    if r.member_logins is not None:
        members = set(r.member_logins)
        people = {k: v for k, v in out["per_person"].items() if k.lower() in members}
        total = sum(v["total"] for v in people.values())
        out.update(
            per_person=people, total=total, count=len(people), value=total / len(people) if people else None
        )
    return out


def _snapshot_dict(figure: Figure, items_total: int, explain: bool) -> dict:
    out = figure.to_dict(explain=explain)
    if explain:
        out["items_total"] = items_total
    return out


# ------------------------------------------------------------------ analytics


async def _open_work(conn: asyncpg.Connection, r: Resolved) -> open_work.OpenWork:
    """The open-work snapshot's per-person counts (same rules as the calculators)."""
    return await open_work.counts(conn, r.scope.installation_id, _snapshot_repositories(r), r.settings)


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
      AND r.repository_id = ANY($5::bigint[]) AND {facts.NOT_SELF_REVIEW_SQL}
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


_PEOPLE_DIFF = ", ".join(f"(e.{c} - coalesce(b.{c}, 0))::float8 AS {c}" for c in PEOPLE_COLUMNS)
_PEOPLE_TOTALS = f"""
SELECT i.user_id, u.login, {_PEOPLE_DIFF}
FROM ids i JOIN users u ON u.id = i.user_id
JOIN LATERAL (SELECT * FROM developer_totals t WHERE t.installation_id = $1 AND t.user_id = i.user_id
                AND t.day < $3 ORDER BY t.day DESC LIMIT 1) e ON e.day >= $2
LEFT JOIN LATERAL (SELECT * FROM developer_totals t WHERE t.installation_id = $1 AND t.user_id = i.user_id
                     AND t.day < $2 ORDER BY t.day DESC LIMIT 1) b ON true
ORDER BY lower(u.login), i.user_id
"""
# developer_totals (sql/004): two rows a person instead of one per person-day. Everyone with a
# row (a loose index scan of the primary key), or the given people.
PEOPLE_TOTALS_ALL_SQL = (
    """WITH RECURSIVE ids (user_id) AS (
    (SELECT user_id FROM developer_totals WHERE installation_id = $1 ORDER BY user_id LIMIT 1)
    UNION ALL
    SELECT (SELECT t.user_id FROM developer_totals t WHERE t.installation_id = $1 AND t.user_id > ids.user_id
            ORDER BY t.user_id LIMIT 1) FROM ids WHERE ids.user_id IS NOT NULL)"""
    + _PEOPLE_TOTALS
)
PEOPLE_TOTALS_SOME_SQL = "WITH ids AS (SELECT DISTINCT unnest($4::bigint[]) AS user_id)" + _PEOPLE_TOTALS
TOTALS_BUILT_SQL = "SELECT EXISTS (SELECT 1 FROM metric_histogram_builds WHERE installation_id = $1)"


async def _people(conn: asyncpg.Connection, r: Resolved, user_ids: list[int] | None) -> list[dict]:
    """Per-person sums over the period: developer_metrics for whole days and every repository."""
    period = r.scope.period
    if r.aligned and r.all_repositories and await conn.fetchval(TOTALS_BUILT_SQL, r.scope.installation_id):
        if user_ids is None:
            rows = await conn.fetch(
                PEOPLE_TOTALS_ALL_SQL, r.scope.installation_id, period.start.date(), period.end.date()
            )
        else:
            rows = await conn.fetch(
                PEOPLE_TOTALS_SOME_SQL,
                r.scope.installation_id,
                period.start.date(),
                period.end.date(),
                user_ids,
            )
    elif r.aligned and r.all_repositories:
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
    work = await _open_work(conn, r)
    for person in people:
        login = person["login"]
        person["work_in_progress"] = work.wip(login)["total"]
        person["open_review_requests"] = work.review_requests.get(login, 0)
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
# The person's stage medians (percentile_cont skips the PRs where a stage is unknown).
PERSON_STAGES = ("coding", "pickup", "review", "merge", "deploy")
PERSON_CYCLE_SQL = f"""
SELECT count(*) AS n, percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY cycle_time) AS pct,
       avg(cycle_time) AS average,
       {", ".join(f"percentile_cont(0.5) WITHIN GROUP (ORDER BY f.{s}) AS {s}_median, count(f.{s}) AS {s}_n"
                  for s in PERSON_STAGES)}
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
    work = await _open_work(conn, r)
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
            "stages": {
                stage: {"median": cyc[f"{stage}_median"], "count": cyc[f"{stage}_n"]}
                for stage in PERSON_STAGES
            },
        },
        "work_in_progress": work.wip(user["login"]),
        "open_review_requests": work.review_requests.get(user["login"], 0),
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
        table, extra = _stats_source(r, 5)
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
