"""Team and individual analytics over `developer_metrics` (rollups) or raw rows."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a $n parameter.
# ruff: noqa: S608

from __future__ import annotations

import asyncpg

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
    work = await load_open_work(conn, r)
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
    work = await load_open_work(conn, r)
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
            "median": percentile_or_none(cyc["pct"], 0),
            "p95": percentile_or_none(cyc["pct"], 1),
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
