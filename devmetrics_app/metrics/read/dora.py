"""The four DORA keys: deployment frequency, lead time for changes, change failure rate and time
to restore, over `releases`, `release_commits` and incidents."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a $n parameter.
# ruff: noqa: S608

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg

from .. import facts, rollups
from ..calc.dora import (
    BENCHMARK_SOURCE,
    DORA_THRESHOLDS,
    change_failure_bucket,
    frequency_bucket,
    lead_time_bucket,
    restore_bucket,
)
from ..explain import Figure, Item
from .paging import EXPLAIN_LIMIT, build_figure, cursor_offset, next_cursor_for
from .percentiles import (
    StaleHistograms,
    exact_percentiles,
    load_histograms,
    percentile_or_none,
    use_fast_path,
)
from .scope import TEAM_NOT_APPLIED, Resolved, Scope, resolve, rollup_sums

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
_REVERTED_REACHED = facts.reached_at_sql("k")
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


async def frequency_figure(
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
            for x in await conn.fetch(RELEASE_ITEMS_SQL, *args, EXPLAIN_LIMIT, cursor_offset(cursor))
        ]
    return build_figure(
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
        hists, excluded = await load_histograms(conn, r, (rollups.LEAD_SERIES, *rollups.LEAD_SCALAR_SERIES))
        pct = await exact_percentiles(conn, r, hists, excluded, [(rollups.LEAD_SERIES, (0.5,))])
    except StaleHistograms:
        return None
    committed = (await rollup_sums(conn, r, ("commits",)))["commits"]
    row = {
        "n": hists[rollups.LEAD_SERIES].n,
        "median": percentile_or_none(pct[rollups.LEAD_SERIES], 0),
        "bots": hists["lead:bots"].n,
        "unknown": hists["lead:unknown"].n,
        "skew": hists["lead:skew"].n,
    }
    return row, committed, hists["lead:released_committed"].n


async def _lead_time(conn: asyncpg.Connection, r: Resolved, *, explain: bool = False) -> Figure:
    period = r.scope.period
    args = [r.scope.installation_id, period.start, period.end, r.repository_ids, r.member_logins]
    fast = await _lead_time_fast(conn, r) if use_fast_path(r) else None
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
    return build_figure(
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
    return build_figure(
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
    return build_figure(
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
    "deployment_frequency": frequency_figure,
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
    figure = await frequency_figure(conn, r, explain=explain, cursor=cursor)
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
        out["next_cursor"] = next_cursor_for(cursor_offset(cursor), figure.count)
    return out
