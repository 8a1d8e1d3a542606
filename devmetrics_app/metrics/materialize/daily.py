"""The daily rollups: `repository_stats` per (repository, day); `installation_stats`,
`developer_metrics` and `team_metrics` per (installation, day), each one upsert or DELETE+INSERT
statement over the raw rows and fact tables; and `developer_totals`, the cumulative
`developer_metrics` of each person."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a named parameter (store/sql.bind) or, in short fixed queries, $n.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import asyncpg

from devmetrics_app.store.sql import bind

from .. import facts
from ..settings import MetricsSettings

BOT_PR = facts.bot_sql("p.author_login", "coalesce(u.is_bot, false)", "exclude_bots", "bot_patterns")
BOT_ISSUE = facts.bot_sql("i.author_login", "coalesce(u.is_bot, false)", "exclude_bots", "bot_patterns")
BOT_RUN = facts.bot_sql("u.login", "coalesce(u.is_bot, false)", "exclude_bots", "bot_patterns")
BOT_CYCLE = facts.bot_sql("f.author_login", "f.author_is_bot", "exclude_bots", "bot_patterns")

UPSERT_REPOSITORY_STATS = f"""
INSERT INTO repository_stats AS s (
    repository_id, day, installation_id, prs_opened, prs_merged, prs_merged_bot, prs_closed, commits,
    additions, deletions, reviews, issues_opened, issues_closed, issues_closed_bot, issues_not_planned,
    deployments, failed_deployments, workflow_runs, workflow_successes, workflow_failures,
    workflow_bot, workflow_no_verdict, cycle_time_hours_sum, cycle_time_count, computed_at)
SELECT :repository, d.day, :installation, o.n, m.merged, m.merged_bot, c.n, k.n, m.additions,
       m.deletions, rv.n, io.n, ic.closed, ic.bot, ic.not_planned, dp.ok, dp.failed,
       w.successes + w.failures, w.successes, w.failures, w.bot, w.no_verdict, cy.total, cy.n, now()
FROM unnest(:days::date[]) AS d (day)
CROSS JOIN LATERAL (SELECT (d.day::timestamp AT TIME ZONE 'UTC') AS lo,
                           ((d.day + 1)::timestamp AT TIME ZONE 'UTC') AS hi) b
CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE NOT {BOT_PR}) AS n FROM pull_requests p
                    LEFT JOIN users u ON u.id = p.author_id
                    WHERE p.repository_id = :repository AND p.github_created_at >= b.lo
                      AND p.github_created_at < b.hi) o
CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE NOT {BOT_PR}) AS merged,
                           count(*) FILTER (WHERE {BOT_PR}) AS merged_bot,
                           coalesce(sum(p.additions) FILTER (WHERE NOT {BOT_PR}), 0) AS additions,
                           coalesce(sum(p.deletions) FILTER (WHERE NOT {BOT_PR}), 0) AS deletions
                    FROM pull_requests p LEFT JOIN users u ON u.id = p.author_id
                    WHERE p.repository_id = :repository AND p.merged_at >= b.lo
                      AND p.merged_at < b.hi) m
CROSS JOIN LATERAL (SELECT count(*) AS n FROM pull_requests p
                    WHERE p.repository_id = :repository AND p.closed_at >= b.lo AND p.closed_at < b.hi
                      AND p.merged_at IS NULL) c
CROSS JOIN LATERAL (SELECT count(*) AS n FROM commits k
                    WHERE k.repository_id = :repository AND k.committed_at >= b.lo
                      AND k.committed_at < b.hi) k
CROSS JOIN LATERAL (SELECT count(*) AS n FROM pull_request_reviews r
                    WHERE r.repository_id = :repository AND r.submitted_at >= b.lo AND r.submitted_at < b.hi
                      AND r.state <> 'PENDING') rv
CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE NOT {BOT_ISSUE}) AS n FROM issues i
                    LEFT JOIN users u ON u.id = i.author_id
                    WHERE i.repository_id = :repository AND i.github_created_at >= b.lo
                      AND i.github_created_at < b.hi AND i.deleted_at IS NULL) io
CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE NOT {BOT_ISSUE}
                                             AND coalesce(i.state_reason, '') <> 'not_planned') AS closed,
                           count(*) FILTER (WHERE {BOT_ISSUE}) AS bot,
                           count(*) FILTER (WHERE NOT {BOT_ISSUE}
                                             AND coalesce(i.state_reason, '') = 'not_planned') AS not_planned
                    FROM issues i LEFT JOIN users u ON u.id = i.author_id
                    WHERE i.repository_id = :repository AND i.closed_at >= b.lo AND i.closed_at < b.hi
                      AND i.state = 'CLOSED' AND i.deleted_at IS NULL) ic
CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE r.succeeded_at >= b.lo AND r.succeeded_at < b.hi) AS ok,
                           count(*) FILTER (WHERE r.failed_at >= b.lo AND r.failed_at < b.hi) AS failed
                    FROM releases r WHERE r.repository_id = :repository
                      AND ((r.succeeded_at >= b.lo AND r.succeeded_at < b.hi)
                           OR (r.failed_at >= b.lo AND r.failed_at < b.hi))) dp
CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE NOT {BOT_RUN} AND lower(w.conclusion) = 'success') AS
    successes,
                           count(*) FILTER (WHERE NOT {BOT_RUN} AND lower(w.conclusion) IN
                                            ('failure', 'timed_out', 'startup_failure')) AS failures,
                           count(*) FILTER (WHERE {BOT_RUN}) AS bot,
                           count(*) FILTER (WHERE NOT {BOT_RUN} AND lower(coalesce(w.conclusion, '')) NOT IN
                                            ('success', 'failure', 'timed_out', 'startup_failure')) AS
                                                no_verdict
                    FROM workflow_runs w LEFT JOIN users u ON u.id = w.actor_id
                    WHERE w.repository_id = :repository AND w.status = 'completed'
                      AND coalesce(w.completed_at, w.github_updated_at) >= b.lo
                      AND coalesce(w.completed_at, w.github_updated_at) < b.hi) w
CROSS JOIN LATERAL (SELECT coalesce(sum(f.cycle_time), 0) AS total, count(*) AS n
                    FROM pull_request_cycle f
                    WHERE f.repository_id = :repository AND f.merged_at >= b.lo AND f.merged_at < b.hi
                      AND NOT {BOT_CYCLE}) cy
ON CONFLICT (repository_id, day) DO UPDATE SET
    installation_id = EXCLUDED.installation_id, prs_opened = EXCLUDED.prs_opened,
    prs_merged = EXCLUDED.prs_merged, prs_merged_bot = EXCLUDED.prs_merged_bot,
    prs_closed = EXCLUDED.prs_closed, commits = EXCLUDED.commits, additions = EXCLUDED.additions,
    deletions = EXCLUDED.deletions, reviews = EXCLUDED.reviews, issues_opened = EXCLUDED.issues_opened,
    issues_closed = EXCLUDED.issues_closed, issues_closed_bot = EXCLUDED.issues_closed_bot,
    issues_not_planned = EXCLUDED.issues_not_planned, deployments = EXCLUDED.deployments,
    failed_deployments = EXCLUDED.failed_deployments, workflow_runs = EXCLUDED.workflow_runs,
    workflow_successes = EXCLUDED.workflow_successes, workflow_failures = EXCLUDED.workflow_failures,
    workflow_bot = EXCLUDED.workflow_bot, workflow_no_verdict = EXCLUDED.workflow_no_verdict,
    cycle_time_hours_sum = EXCLUDED.cycle_time_hours_sum, cycle_time_count = EXCLUDED.cycle_time_count,
    computed_at = now()
"""

STAT_COLUMNS = (
    "prs_opened",
    "prs_merged",
    "prs_merged_bot",
    "prs_closed",
    "commits",
    "additions",
    "deletions",
    "reviews",
    "issues_opened",
    "issues_closed",
    "issues_closed_bot",
    "issues_not_planned",
    "deployments",
    "failed_deployments",
    "workflow_runs",
    "workflow_successes",
    "workflow_failures",
    "workflow_bot",
    "workflow_no_verdict",
    "cycle_time_hours_sum",
    "cycle_time_count",
)
DELETE_INSTALLATION_STATS = (
    "DELETE FROM installation_stats WHERE installation_id = $1 AND day = ANY($2::date[])"
)
INSERT_INSTALLATION_STATS = f"""
INSERT INTO installation_stats (installation_id, day, {", ".join(STAT_COLUMNS)}, computed_at)
SELECT $1, s.day, {", ".join(f"sum(s.{c})" for c in STAT_COLUMNS)}, now()
FROM repository_stats s JOIN repositories r ON r.id = s.repository_id
WHERE s.installation_id = $1 AND s.day = ANY($2::date[])
  AND r.installation_id = $1 AND r.connected AND r.removed_at IS NULL
GROUP BY s.day
"""

DELETE_DEVELOPER_METRICS = (
    "DELETE FROM developer_metrics WHERE installation_id = $1 AND day = ANY($2::date[])"
)
DEVELOPER_BOT = facts.bot_sql("u.login", "u.is_bot", "exclude_bots", "bot_patterns")
# People only: bot accounts (GitHub's flag, [bot] logins, the organisation's patterns) have no row.
INSERT_DEVELOPER_METRICS = f"""
WITH days AS (SELECT unnest(:days::date[]) AS day),
bounds AS (SELECT min(day)::timestamp AT TIME ZONE 'UTC' AS lo,
                  (max(day) + 1)::timestamp AT TIME ZONE 'UTC' AS hi FROM days),
repos AS (SELECT id FROM repositories
          WHERE installation_id = :installation AND connected AND removed_at IS NULL),
activity AS (
    SELECT p.author_id AS user_id, (p.github_created_at AT TIME ZONE 'UTC')::date AS day,
           1 AS prs_opened, 0 AS prs_merged, 0 AS reviews_given, 0 AS review_comments, 0 AS commits,
           0 AS additions, 0 AS deletions, 0.0::float8 AS cycle_sum, 0 AS cycle_n
    FROM pull_requests p, bounds b
    WHERE p.installation_id = :installation AND p.github_created_at >= b.lo AND p.github_created_at < b.hi
      AND p.repository_id IN (SELECT id FROM repos)
    UNION ALL
    SELECT f.author_id, (f.merged_at AT TIME ZONE 'UTC')::date, 0, 1, 0, 0, 0,
           coalesce(f.additions, 0), coalesce(f.deletions, 0), f.cycle_time, 1
    FROM pull_request_cycle f, bounds b
    WHERE f.installation_id = :installation AND f.merged_at >= b.lo AND f.merged_at < b.hi
      AND f.repository_id IN (SELECT id FROM repos)
    UNION ALL
    SELECT r.reviewer_id, (r.submitted_at AT TIME ZONE 'UTC')::date, 0, 0, 1, 0, 0, 0, 0, 0, 0
    FROM pull_request_reviews r, bounds b
    WHERE r.installation_id = :installation AND r.submitted_at >= b.lo AND r.submitted_at < b.hi
      AND r.state <> 'PENDING' AND r.repository_id IN (SELECT id FROM repos) AND {facts.NOT_SELF_REVIEW_SQL}
    UNION ALL
    SELECT c.user_id, (c.github_created_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 1, 0, 0, 0, 0, 0
    FROM pull_request_review_comments c, bounds b
    WHERE c.installation_id = :installation AND c.github_created_at >= b.lo AND c.github_created_at < b.hi
      AND c.deleted_at IS NULL
    UNION ALL
    SELECT (SELECT min(u.id) FROM users u WHERE lower(u.login) = lower(k.author_login)),
           (k.committed_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 0, 1, 0, 0, 0, 0
    FROM commits k, bounds b
    WHERE k.installation_id = :installation AND k.committed_at >= b.lo AND k.committed_at < b.hi
      AND k.repository_id IN (SELECT id FROM repos)
)
INSERT INTO developer_metrics (installation_id, user_id, day, prs_opened, prs_merged, reviews_given,
    review_comments, commits, additions, deletions, cycle_time_hours_sum, cycle_time_count, computed_at)
SELECT :installation, a.user_id, a.day, sum(prs_opened), sum(prs_merged), sum(reviews_given),
       sum(review_comments), sum(commits), sum(additions), sum(deletions), sum(cycle_sum), sum(cycle_n), now()
FROM activity a JOIN users u ON u.id = a.user_id
WHERE a.day = ANY(:days::date[]) AND NOT {DEVELOPER_BOT}
GROUP BY a.user_id, a.day
"""
DELETE_TEAM_METRICS = "DELETE FROM team_metrics WHERE installation_id = $1 AND day = ANY($2::date[])"
INSERT_TEAM_METRICS = """
INSERT INTO team_metrics (installation_id, team_id, day, prs_opened, prs_merged, reviews_given, commits,
                          cycle_time_hours_sum, cycle_time_count, computed_at)
SELECT $1, tm.team_id, d.day, sum(d.prs_opened), sum(d.prs_merged), sum(d.reviews_given), sum(d.commits),
       sum(d.cycle_time_hours_sum), sum(d.cycle_time_count), now()
FROM developer_metrics d
JOIN team_members tm ON tm.user_id = d.user_id AND tm.installation_id = $1
JOIN teams t ON t.id = tm.team_id AND t.deleted_at IS NULL
WHERE d.installation_id = $1 AND d.day = ANY($2::date[])
GROUP BY tm.team_id, d.day
"""


async def refresh_repository_stats(
    conn: asyncpg.Connection,
    repository_id: int,
    installation_id: int,
    days: Sequence[date],
    settings: MetricsSettings,
) -> None:
    """repository_stats of (repository, days), after its fact tables."""
    exclude_bots, bot_patterns = facts.bot_params(settings)
    params = {"repository": repository_id, "installation": installation_id, "days": days,
              "exclude_bots": exclude_bots, "bot_patterns": bot_patterns}
    await conn.execute(*bind(UPSERT_REPOSITORY_STATS, params))


async def refresh_installation_stats(
    conn: asyncpg.Connection, installation_id: int, days: Sequence[date], settings: MetricsSettings
) -> None:
    """installation_stats, developer_metrics and team_metrics of (installation, days), in this
    order (each reads the one before or repository_stats)."""
    exclude_bots, bot_patterns = facts.bot_params(settings)
    await conn.execute(DELETE_INSTALLATION_STATS, installation_id, days)
    await conn.execute(INSERT_INSTALLATION_STATS, installation_id, days)
    await conn.execute(DELETE_DEVELOPER_METRICS, installation_id, days)
    params = {"installation": installation_id, "days": days, "exclude_bots": exclude_bots,
              "bot_patterns": bot_patterns}
    await conn.execute(*bind(INSERT_DEVELOPER_METRICS, params))
    await conn.execute(DELETE_TEAM_METRICS, installation_id, days)
    await conn.execute(INSERT_TEAM_METRICS, installation_id, days)


DELETE_DEVELOPER_TOTALS = "DELETE FROM developer_totals WHERE installation_id = $1 AND day >= $2"
_TOTAL_COLUMNS = (
    "prs_opened", "prs_merged", "reviews_given", "review_comments", "commits", "additions", "deletions",
    "cycle_time_hours_sum", "cycle_time_count",
)
# Cumulative developer_metrics from $2 on, each person continuing from their last row before $2.
INSERT_DEVELOPER_TOTALS = f"""
WITH people AS (SELECT DISTINCT user_id FROM developer_metrics WHERE installation_id = $1 AND day >= $2),
base AS (
    SELECT p.user_id, {", ".join(f"coalesce(b.{c}, 0) AS {c}" for c in _TOTAL_COLUMNS)}
    FROM people p LEFT JOIN LATERAL (
        SELECT * FROM developer_totals t WHERE t.installation_id = $1 AND t.user_id = p.user_id AND t.day < $2
        ORDER BY t.day DESC LIMIT 1) b ON true
)
INSERT INTO developer_totals (installation_id, user_id, day, {", ".join(_TOTAL_COLUMNS)})
SELECT $1, d.user_id, d.day, {", ".join(f"b.{c} + sum(d.{c}) OVER w" for c in _TOTAL_COLUMNS)}
FROM developer_metrics d JOIN base b ON b.user_id = d.user_id
WHERE d.installation_id = $1 AND d.day >= $2
WINDOW w AS (PARTITION BY d.user_id ORDER BY d.day)
"""


async def refresh_developer_totals(
    conn: asyncpg.Connection, installation_id: int, since: date | None
) -> None:
    """developer_totals from `since` on (None: fully), after developer_metrics."""
    since = since or date(1, 1, 1)
    await conn.execute(DELETE_DEVELOPER_TOTALS, installation_id, since)
    await conn.execute(INSERT_DEVELOPER_TOTALS, installation_id, since)
