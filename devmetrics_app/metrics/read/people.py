"""Team and individual analytics over `developer_metrics` (rollups) or raw rows."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a named parameter (store/sql.bind).
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import asyncpg

from devmetrics_app.store.sql import bind

from .. import facts
from .open_work import load_open_work
from .percentiles import percentile_or_none
from .scope import Resolved, Scope, resolve

COACHING_NOTE = (
    "A coaching view of each person's flow, alphabetical: not a ranking. Numbers depend on "
    "the kind of work; talk about them, do not compare people by them."
)


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
WHERE d.installation_id = :installation AND d.day >= :start AND d.day < :end
  AND (:members::bigint[] IS NULL OR d.user_id = ANY(:members::bigint[]))
GROUP BY d.user_id, u.login ORDER BY lower(u.login), d.user_id
"""
PEOPLE_RAW_SQL = f"""
WITH activity AS (
    SELECT p.author_id AS user_id, 1 AS prs_opened, 0 AS prs_merged, 0 AS reviews_given,
           0 AS review_comments, 0 AS commits, 0 AS additions, 0 AS deletions, 0.0::float8 AS cycle_sum,
           0 AS cycle_n
    FROM pull_requests p WHERE p.installation_id = :installation AND p.github_created_at >= :start
      AND p.github_created_at < :end AND p.repository_id = ANY(:repositories::bigint[])
    UNION ALL
    SELECT f.author_id, 0, 1, 0, 0, 0, coalesce(f.additions, 0), coalesce(f.deletions, 0), f.cycle_time, 1
    FROM pull_request_cycle f WHERE f.installation_id = :installation AND f.merged_at >= :start
      AND f.merged_at < :end AND f.repository_id = ANY(:repositories::bigint[])
    UNION ALL
    SELECT r.reviewer_id, 0, 0, 1, 0, 0, 0, 0, 0, 0 FROM pull_request_reviews r
    WHERE r.installation_id = :installation AND r.submitted_at >= :start AND r.submitted_at < :end
      AND r.state <> 'PENDING' AND r.repository_id = ANY(:repositories::bigint[])
      AND {facts.NOT_SELF_REVIEW_SQL}
    UNION ALL
    SELECT (SELECT min(u.id) FROM users u WHERE lower(u.login) = lower(k.author_login)), 0, 0, 0, 0, 1,
           0, 0, 0, 0
    FROM commits k WHERE k.installation_id = :installation AND k.committed_at >= :start
      AND k.committed_at < :end AND k.repository_id = ANY(:repositories::bigint[])
)
SELECT a.user_id, u.login, sum(prs_opened)::float8 AS prs_opened, sum(prs_merged)::float8 AS prs_merged,
       sum(reviews_given)::float8 AS reviews_given, sum(review_comments)::float8 AS review_comments,
       sum(commits)::float8 AS commits, sum(additions)::float8 AS additions,
       sum(deletions)::float8 AS deletions, sum(cycle_sum) AS cycle_time_hours_sum,
       sum(cycle_n)::float8 AS cycle_time_count
FROM activity a JOIN users u ON u.id = a.user_id
WHERE (:members::bigint[] IS NULL OR a.user_id = ANY(:members::bigint[]))
  AND NOT {facts.bot_sql("u.login", "u.is_bot", "exclude_bots", "bot_patterns")}
GROUP BY a.user_id, u.login ORDER BY lower(u.login), a.user_id
"""


_PEOPLE_DIFF = ", ".join(f"(e.{c} - coalesce(b.{c}, 0))::float8 AS {c}" for c in PEOPLE_COLUMNS)
_PEOPLE_TOTALS = f"""
SELECT i.user_id, u.login, {_PEOPLE_DIFF}
FROM ids i JOIN users u ON u.id = i.user_id
JOIN LATERAL (SELECT * FROM developer_totals t WHERE t.installation_id = :installation
                AND t.user_id = i.user_id AND t.day < :end ORDER BY t.day DESC LIMIT 1) e ON e.day >= :start
LEFT JOIN LATERAL (SELECT * FROM developer_totals t WHERE t.installation_id = :installation
                     AND t.user_id = i.user_id AND t.day < :start ORDER BY t.day DESC LIMIT 1) b ON true
ORDER BY lower(u.login), i.user_id
"""
# developer_totals (sql/004): two rows a person instead of one per person-day. Everyone with a
# row (a loose index scan of the primary key), or the given people.
PEOPLE_TOTALS_ALL_SQL = (
    """WITH RECURSIVE ids (user_id) AS (
    (SELECT user_id FROM developer_totals WHERE installation_id = :installation ORDER BY user_id LIMIT 1)
    UNION ALL
    SELECT (SELECT t.user_id FROM developer_totals t WHERE t.installation_id = :installation
            AND t.user_id > ids.user_id ORDER BY t.user_id LIMIT 1) FROM ids WHERE ids.user_id IS NOT NULL)"""
    + _PEOPLE_TOTALS
)
PEOPLE_TOTALS_SOME_SQL = (
    "WITH ids AS (SELECT DISTINCT unnest(:members::bigint[]) AS user_id)" + _PEOPLE_TOTALS
)
TOTALS_BUILT_SQL = (
    "SELECT EXISTS (SELECT 1 FROM metric_histogram_builds WHERE installation_id = :installation)"
)


@dataclass(frozen=True)
class PersonTotals:
    """One person's sums over the period (average_cycle_time_hours: over their merged PRs)."""

    user_id: int
    login: str
    prs_opened: int
    prs_merged: int
    reviews_given: int
    review_comments: int
    commits: int
    additions: int
    deletions: int
    average_cycle_time_hours: float | None


@dataclass(frozen=True)
class TeamMember(PersonTotals):
    """A row of the team table: the person's sums and their open work now."""

    work_in_progress: int
    open_review_requests: int


@dataclass(frozen=True)
class TeamReport:
    """The team table, alphabetical; source: "rollup" or "raw"."""

    people: list[TeamMember]
    count: int
    note: str
    source: str


async def _people(conn: asyncpg.Connection, r: Resolved, user_ids: list[int] | None) -> list[PersonTotals]:
    """Per-person sums over the period: developer_metrics for whole days and every repository."""
    period = r.scope.period
    installation = r.scope.installation_id
    days = {"installation": installation, "start": period.start.date(), "end": period.end.date(),
            "members": user_ids}
    if r.aligned and r.all_repositories and await conn.fetchval(
        *bind(TOTALS_BUILT_SQL, {"installation": installation})
    ):
        sql = PEOPLE_TOTALS_ALL_SQL if user_ids is None else PEOPLE_TOTALS_SOME_SQL
        rows = await conn.fetch(*bind(sql, days))
    elif r.aligned and r.all_repositories:
        rows = await conn.fetch(*bind(PEOPLE_ROLLUP_SQL, days))
    else:
        rows = await conn.fetch(*bind(PEOPLE_RAW_SQL, r.params(members=user_ids)))
    out = []
    for row in rows:
        n = row["cycle_time_count"]
        out.append(PersonTotals(
            row["user_id"], row["login"], *(int(row[column]) for column in PEOPLE_COLUMNS[:7]),
            average_cycle_time_hours=row["cycle_time_hours_sum"] / n if n else None,
        ))
    return out


async def team_analytics(conn: asyncpg.Connection, scope: Scope) -> TeamReport:
    """Per-person table for the period plus today's open work (a coaching view, not a ranking)."""
    r = await resolve(conn, scope)
    people = await _people(conn, r, r.member_ids)
    work = await load_open_work(conn, r)
    return TeamReport(
        people=[
            TeamMember(**_fields(person), work_in_progress=work.wip(person.login)["total"],
                       open_review_requests=work.review_requests.get(person.login, 0))
            for person in people
        ],
        count=len(people),
        note=COACHING_NOTE,
        source="rollup" if r.aligned and r.all_repositories else "raw",
    )


def _fields(person: PersonTotals) -> dict[str, Any]:
    return {f.name: getattr(person, f.name) for f in fields(PersonTotals)}


USER_SQL = """
SELECT u.id, u.login, u.name, u.avatar_url FROM users u WHERE u.id = :user
  AND (EXISTS (SELECT 1 FROM memberships m WHERE m.installation_id = :installation AND m.user_id = u.id)
       OR EXISTS (SELECT 1 FROM developer_metrics d
                  WHERE d.installation_id = :installation AND d.user_id = u.id))
"""
# The person's stage medians (percentile_cont skips the PRs where a stage is unknown).
PERSON_STAGES = ("coding", "pickup", "review", "merge", "deploy")
PERSON_CYCLE_SQL = f"""
SELECT count(*) AS n, percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY cycle_time) AS pct,
       avg(cycle_time) AS average,
       {", ".join(f"percentile_cont(0.5) WITHIN GROUP (ORDER BY f.{s}) AS {s}_median, count(f.{s}) AS {s}_n"
                  for s in PERSON_STAGES)}
FROM pull_request_cycle f
WHERE f.author_id = :user AND f.installation_id = :installation AND f.merged_at >= :start
  AND f.merged_at < :end AND f.repository_id = ANY(:repositories::bigint[])
"""


@dataclass(frozen=True)
class PersonUser:
    id: int
    login: str
    name: str | None
    avatar_url: str | None


@dataclass(frozen=True)
class StageMedian:
    """A cycle-time stage's median hours over the person's PRs where the stage is known."""

    median: float | None
    count: int


@dataclass(frozen=True)
class PersonCycleTime:
    """Cycle time (hours) of the person's PRs merged in the period."""

    count: int
    median: float | None
    p95: float | None
    average: float | None
    stages: dict[str, StageMedian]


@dataclass(frozen=True)
class IndividualReport:
    """One person's sums, cycle time and open work now (work_in_progress: pull_requests,
    issues, total)."""

    user: PersonUser
    totals: PersonTotals
    cycle_time: PersonCycleTime
    work_in_progress: dict[str, int]
    open_review_requests: int
    note: str


async def individual_analytics(
    conn: asyncpg.Connection, scope: Scope, user_id: int
) -> IndividualReport | None:
    """One person's figures for the period; None when not a member or contributor of the scope."""
    user = await conn.fetchrow(*bind(USER_SQL, {"user": user_id, "installation": scope.installation_id}))
    if user is None:
        return None
    r = await resolve(conn, scope)
    if r.member_ids is not None and user_id not in r.member_ids:
        return None
    people = await _people(conn, r, [user_id])
    totals = people[0] if people else PersonTotals(user_id, user["login"], *(0 for _ in PEOPLE_COLUMNS[:7]),
                                                   average_cycle_time_hours=None)
    cyc = await conn.fetchrow(*bind(PERSON_CYCLE_SQL, {
        "user": user_id, "installation": scope.installation_id, "start": scope.period.start,
        "end": scope.period.end, "repositories": r.repository_ids}))
    work = await load_open_work(conn, r)
    return IndividualReport(
        user=PersonUser(user["id"], user["login"], user["name"], user["avatar_url"]),
        totals=totals,
        cycle_time=PersonCycleTime(
            count=cyc["n"],
            median=percentile_or_none(cyc["pct"], 0),
            p95=percentile_or_none(cyc["pct"], 1),
            average=cyc["average"],
            stages={stage: StageMedian(cyc[f"{stage}_median"], cyc[f"{stage}_n"]) for stage in PERSON_STAGES},
        ),
        work_in_progress=work.wip(user["login"]),
        open_review_requests=work.review_requests.get(user["login"], 0),
        note=COACHING_NOTE,
    )
