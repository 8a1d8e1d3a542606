"""The four DORA keys: deployment frequency, lead time for changes, change failure rate and time
to restore, over `releases`, `release_commits` and incidents."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a named parameter (store/sql.named).
# ruff: noqa: S608

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import asyncpg

from devmetrics_app.store.sql import bind

from .. import facts
from ..calc.dora import (
    BENCHMARK_SOURCE,
    DORA_THRESHOLDS,
    change_failure_bucket,
    frequency_bucket,
    lead_time_bucket,
    restore_bucket,
)
from ..explain import Figure, Item
from ..materialize import histograms
from .paging import EXPLAIN_LIMIT, build_figure, cursor_offset, next_cursor_for
from .percentiles import (
    StaleHistograms,
    exact_percentiles,
    load_histograms,
    percentile_or_none,
    use_fast_path,
)
from .scope import TEAM_NOT_APPLIED, Resolved, Scope, resolve, rollup_sums

RELEASE_WHERE = "r.installation_id = :installation AND r.repository_id = ANY(:repositories::bigint[])"
FREQUENCY_SQL = f"""
SELECT count(*) AS releases,
       count(DISTINCT (r.succeeded_at AT TIME ZONE 'UTC')::date) AS days,
       count(*) FILTER (WHERE r.source = 'deployment') AS from_deployments,
       count(*) FILTER (WHERE r.source = 'workflow_run') AS from_runs,
       EXISTS (SELECT 1 FROM releases r WHERE {RELEASE_WHERE}) AS any_release
FROM releases r WHERE {RELEASE_WHERE} AND r.succeeded_at >= :start AND r.succeeded_at < :end
"""
UNFINISHED_DEPLOYMENTS_SQL = """
SELECT count(*) FROM deployments d
WHERE d.installation_id = :installation AND d.github_created_at >= :start AND d.github_created_at < :end
  AND d.repository_id = ANY(:repositories::bigint[]) AND lower(d.environment) = ANY(:environments::text[])
  AND (d.latest_state IS NULL OR d.latest_state IN ('pending', 'queued', 'in_progress'))
"""
RELEASE_ITEMS_SQL = f"""
SELECT r.source, r.id, r.sha, r.repository_id, r.succeeded_at, r.failed_at, r.commits FROM releases r
WHERE {RELEASE_WHERE} AND r.succeeded_at >= :start AND r.succeeded_at < :end
ORDER BY r.succeeded_at DESC, r.id DESC LIMIT :limit OFFSET :offset
"""
LEAD_BOT = facts.bot_sql("c.author_login", "c.author_is_bot", "exclude_bots", "bot_patterns")
LEAD_TIME_SQL = f"""
SELECT count(*) FILTER (WHERE ok) AS n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY lead_hours) FILTER (WHERE ok) AS median,
       count(*) FILTER (WHERE bot) AS bots,
       count(*) FILTER (WHERE NOT bot AND committed_at IS NULL) AS unknown,
       count(*) FILTER (WHERE NOT bot AND lead_hours < 0) AS skew
FROM (SELECT lead_hours, committed_at, bot, NOT bot AND lead_hours >= 0 AS ok
      FROM (SELECT c.lead_hours, c.committed_at, {LEAD_BOT} AS bot
            FROM release_commits c
            WHERE c.installation_id = :installation AND c.released_at >= :start AND c.released_at < :end
              AND c.repository_id = ANY(:repositories::bigint[]) AND (:logins::text[] IS NULL
                  OR lower(c.author_login) = ANY(:logins::text[]))
            OFFSET 0) y) x
"""
# explain: the period's released commits with the longest lead times (the rank index, backwards).
LEAD_ITEMS_SQL = f"""
SELECT c.sha, c.repository_id, c.lead_hours, c.released_at, c.release_source, c.release_id
FROM release_commits c
WHERE c.installation_id = :installation AND c.released_at >= :start AND c.released_at < :end
  AND c.repository_id = ANY(:repositories::bigint[])
  AND (:logins::text[] IS NULL OR lower(c.author_login) = ANY(:logins::text[]))
  AND c.lead_hours >= 0 AND NOT {LEAD_BOT}
ORDER BY c.installation_id, metrics_bucket(c.lead_hours) DESC, c.lead_hours DESC, c.sha LIMIT :limit
"""
# Commits of the period never released (yet): all commits committed in it minus released ones.
COMMITS_IN_PERIOD_SQL = """
SELECT count(*) FROM commits k
WHERE k.installation_id = :installation AND k.committed_at >= :start AND k.committed_at < :end
  AND k.repository_id = ANY(:repositories::bigint[])
  AND (:logins::text[] IS NULL OR lower(k.author_login) = ANY(:logins::text[]))
"""
# Merge commits of the period: not changes, so never released commits
# (materialize/releases.INSERT_RELEASE_COMMITS).
MERGE_COMMITS_IN_PERIOD_SQL = """
SELECT count(*) FROM commits k
WHERE k.installation_id = :installation AND k.committed_at >= :start AND k.committed_at < :end AND k.is_merge
  AND k.repository_id = ANY(:repositories::bigint[])
  AND (:logins::text[] IS NULL OR lower(k.author_login) = ANY(:logins::text[]))
"""
RELEASED_COMMITTED_IN_PERIOD_SQL = """
SELECT count(*) FROM release_commits c
WHERE c.installation_id = :installation AND c.committed_at >= :start AND c.committed_at < :end
  AND c.repository_id = ANY(:repositories::bigint[])
  AND (:logins::text[] IS NULL OR lower(c.author_login) = ANY(:logins::text[]))
"""
# Same test as unnesting lower(trim(label)) = ANY(:labels), through the GIN index of sql/004.
INCIDENT_MATCH = "metrics_labels(i.labels) && :labels::text[]"
# A revert PR names what it reverts: GitHub's Revert button writes "Reverts owner/repo#N" in the
# body, `git revert` writes "This reverts commit <sha>." in the message (a one-commit PR's body).
REVERTS_PR = r"Reverts ([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)#([0-9]+)"
REVERTS_COMMIT = r"This reverts commit ([0-9a-fA-F]{40})"
_REVERTED_REACHED = facts.reached_at_sql("k")
# Failure signals at or after the period start (an earlier one cannot hit an attempt in it).
# A revert blames the deployment that first shipped the change it names: the first success of
# that change's repository whose cut reaches the moment the change reached the default branch
# (materialize/releases.release_intervals), or that deployed it by sha; a revert naming nothing,
# or a change never shipped, blames nobody and is counted apart. An incident names no change: it is
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
        WHERE m.pr_ref IS NOT NULL AND rr.installation_id = :installation
          AND lower(rr.full_name) = lower(m.pr_ref[1])
          AND q.number = m.pr_ref[2]::int AND q.merged_at IS NOT NULL AND q.merge_commit_sha IS NOT NULL
        UNION ALL
        SELECT f.repository_id, lower(m.sha_ref[1]) WHERE m.pr_ref IS NULL AND m.sha_ref IS NOT NULL
        LIMIT 1) named ON true
    WHERE f.installation_id = :installation AND f.is_revert AND f.merged_at >= :start
      AND f.repository_id = ANY(:repositories::bigint[])
),
incidents AS (
    SELECT i.repository_id, i.github_created_at AS at
    FROM issues i
    WHERE i.installation_id = :installation AND i.github_created_at >= :start
      AND i.repository_id = ANY(:repositories::bigint[])
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
        WHERE r.repository_id = v.t_repo AND r.installation_id = :installation AND r.succeeded_at IS NOT NULL
          AND (r.sha = v.t_sha OR (r.succeeded_at >= {_REVERTED_REACHED} AND r.cut_at >= {_REVERTED_REACHED}))
        ORDER BY r.succeeded_at, r.id LIMIT 1) shipped ON true
    UNION ALL
    SELECT 'incident', s.at, true, coalesce(same.source, other.source),
           coalesce(same.id, other.id), coalesce(same.outcome_at, other.outcome_at),
           coalesce(same.failed_at, other.failed_at)
    FROM incidents s
    LEFT JOIN LATERAL (
        SELECT r.source, r.id, r.outcome_at, r.failed_at FROM releases r
        WHERE r.repository_id = s.repository_id AND r.installation_id = :installation
          AND r.succeeded_at <= s.at
        ORDER BY r.succeeded_at DESC NULLS LAST, r.id DESC LIMIT 1) same ON true
    LEFT JOIN LATERAL (
        SELECT r.source, r.id, r.outcome_at, r.failed_at FROM releases r
        WHERE same.id IS NULL
          AND NOT EXISTS (SELECT 1 FROM releases x
                          WHERE x.repository_id = s.repository_id AND x.installation_id = :installation)
          AND r.installation_id = :installation AND r.succeeded_at IS NOT NULL
          AND r.succeeded_at <= s.at AND r.repository_id = ANY(:repositories::bigint[])
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
    FROM releases r WHERE {RELEASE_WHERE} AND r.outcome_at >= :start AND r.outcome_at < :end
)
SELECT o.attempts,
       o.status_failed + (SELECT count(*) FROM hit h WHERE h.outcome_at >= :start AND h.outcome_at < :end
                            AND NOT h.status_failed) AS failed,
       (SELECT count(*) FROM attributed x WHERE x.kind = 'revert' AND NOT x.names AND x.at < :end)
           AS revert_unnamed,
       (SELECT count(*) FROM attributed x WHERE x.t_id IS NULL AND x.kind = 'revert' AND x.names
            AND x.at < :end) AS revert_unattributed,
       (SELECT count(*) FROM attributed x WHERE x.t_id IS NULL AND x.kind = 'incident' AND x.at < :end)
           AS incident_unattributed,
       (SELECT count(*) FROM issues i WHERE i.installation_id = :installation
            AND i.github_created_at >= :start AND i.repository_id = ANY(:repositories::bigint[])
            AND i.deleted_at IS NULL AND {INCIDENT_MATCH}
            AND coalesce(i.state_reason, '') = 'not_planned') AS incident_not_planned,
       -- explain (a limit above 0): the first `limit` failed releases, newest first, with what failed them.
       (SELECT coalesce(jsonb_agg(x ORDER BY x.outcome_at DESC, x.id DESC), '[]'::jsonb) FROM (
            SELECT f.*, coalesce(h.kinds, '{{}}') AS signals FROM (
                SELECT r.source, r.id, r.sha, r.repository_id, r.outcome_at,
                       r.failed_at IS NOT NULL AS status_failed
                FROM releases r
                WHERE {RELEASE_WHERE} AND r.outcome_at >= :start AND r.outcome_at < :end
                  AND (r.failed_at IS NOT NULL OR (r.source, r.id) IN (SELECT t_source, t_id FROM hit))
                ORDER BY r.outcome_at DESC, r.id DESC LIMIT :limit) f
            LEFT JOIN hit h ON h.t_source = f.source AND h.t_id = f.id) x) AS items
FROM outcomes o
"""
RESTORE_SQL = f"""
SELECT count(*) FILTER (WHERE coalesce(i.state_reason, '') <> 'not_planned') AS n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM i.closed_at - i.github_created_at)
           / 3600.0)
           FILTER (WHERE coalesce(i.state_reason, '') <> 'not_planned') AS median,
       count(*) FILTER (WHERE coalesce(i.state_reason, '') = 'not_planned') AS not_planned,
       (SELECT count(*) FROM issues i WHERE i.installation_id = :installation AND i.state = 'OPEN'
            AND i.deleted_at IS NULL AND i.closed_at IS NULL AND i.github_created_at < :end
            AND i.repository_id = ANY(:repositories::bigint[]) AND {INCIDENT_MATCH}) AS still_open
FROM issues i
WHERE i.installation_id = :installation AND i.closed_at >= :start AND i.closed_at < :end
  AND i.deleted_at IS NULL
  AND i.repository_id = ANY(:repositories::bigint[]) AND {INCIDENT_MATCH}
"""
# explain: the period's resolved incidents, longest outage first.
RESTORE_ITEMS_SQL = f"""
SELECT i.id, i.number, i.title, i.repository_id, i.github_created_at, i.closed_at,
       extract(epoch FROM i.closed_at - i.github_created_at) / 3600.0 AS hours
FROM issues i
WHERE i.installation_id = :installation AND i.closed_at >= :start AND i.closed_at < :end
  AND i.deleted_at IS NULL
  AND i.repository_id = ANY(:repositories::bigint[]) AND {INCIDENT_MATCH}
  AND coalesce(i.state_reason, '') <> 'not_planned'
ORDER BY hours DESC, i.id LIMIT :limit
"""


PER_REPOSITORY_RELEASES_SQL = f"""
SELECT r.repository_id,
       count(*) FILTER (WHERE r.succeeded_at >= :start AND r.succeeded_at < :end) AS succeeded,
       count(*) FILTER (WHERE r.failed_at >= :start AND r.failed_at < :end) AS failed
FROM releases r WHERE {RELEASE_WHERE} AND r.outcome_at >= :start AND r.outcome_at < :end
GROUP BY r.repository_id ORDER BY succeeded DESC, r.repository_id LIMIT :limit
"""


@dataclass(frozen=True)
class DoraReport:
    """The four keys, each a figure with its benchmark bucket (`benchmark`), the bucket rules
    (`benchmark_thresholds`) and, for a team or person scope, why the filter does not apply to
    it (`team_filter`) among its details; and where the buckets come from."""

    deployment_frequency: Figure
    lead_time: Figure
    change_failure_rate: Figure
    time_to_restore: Figure
    benchmark_source: str = BENCHMARK_SOURCE


@dataclass(frozen=True)
class RepositoryReleases:
    """One repository's production releases that succeeded / failed in the period."""

    repository_id: int
    succeeded: int
    failed: int


def _params(r: Resolved, **extra: Any) -> dict[str, Any]:
    """The scope's values (Resolved.params) and the settings the DORA queries name."""
    return r.params(**{"environments": [e.lower() for e in r.settings.production_environments],
                       "labels": [x.lower() for x in r.settings.incident_labels],
                       "limit": EXPLAIN_LIMIT, **extra})


async def frequency_figure(
    conn: asyncpg.Connection, r: Resolved, *, explain: bool = False, cursor: str | None = None
) -> Figure:
    period = r.scope.period
    params = _params(r, offset=cursor_offset(cursor))
    row = await conn.fetchrow(*bind(FREQUENCY_SQL, params))
    unfinished = await conn.fetchval(*bind(UNFINISHED_DEPLOYMENTS_SQL, params))
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
            for x in await conn.fetch(*bind(RELEASE_ITEMS_SQL, params))
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
        hists, excluded = await load_histograms(
            conn, r, (histograms.LEAD_SERIES, *histograms.LEAD_SCALAR_SERIES)
        )
        pct = await exact_percentiles(conn, r, hists, excluded, [(histograms.LEAD_SERIES, (0.5,))])
    except StaleHistograms:
        return None
    committed = (await rollup_sums(conn, r, ("commits",)))["commits"]
    row = {
        "n": hists[histograms.LEAD_SERIES].n,
        "median": percentile_or_none(pct[histograms.LEAD_SERIES], 0),
        "bots": hists["lead:bots"].n,
        "unknown": hists["lead:unknown"].n,
        "skew": hists["lead:skew"].n,
    }
    return row, committed, hists["lead:released_committed"].n


async def _lead_time(conn: asyncpg.Connection, r: Resolved, *, explain: bool = False) -> Figure:
    params = _params(r)
    fast = await _lead_time_fast(conn, r) if use_fast_path(r) else None
    if fast is not None:
        row, committed, released = fast
    else:
        row = await conn.fetchrow(*bind(LEAD_TIME_SQL, params))
        committed = await conn.fetchval(*bind(COMMITS_IN_PERIOD_SQL, params))
        released = await conn.fetchval(*bind(RELEASED_COMMITTED_IN_PERIOD_SQL, params))
    merges = await conn.fetchval(*bind(MERGE_COMMITS_IN_PERIOD_SQL, params))
    items = None
    if explain:
        items = [
            Item("commit", c["sha"], c["sha"][:12], c["lead_hours"],
                 {"repository_id": c["repository_id"], "released_at": c["released_at"],
                  "release": f"{c['release_source']}:{c['release_id']}"})
            for c in await conn.fetch(*bind(LEAD_ITEMS_SQL, params))
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
    # One query: its attribution of failure signals is the costly part, not worth running twice.
    row = await conn.fetchrow(*bind(CHANGE_FAILURE_SQL, _params(r, limit=EXPLAIN_LIMIT if explain else 0)))
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
    params = _params(r)
    row = await conn.fetchrow(*bind(RESTORE_SQL, params))
    items = None
    if explain:
        items = [
            Item("issue", i["id"], f"#{i['number']} {i['title']}", i["hours"],
                 {"repository_id": i["repository_id"], "opened_at": i["github_created_at"],
                  "closed_at": i["closed_at"]})
            for i in await conn.fetch(*bind(RESTORE_ITEMS_SQL, params))
        ]
    return build_figure(
        row["median"],
        "hours",
        row["n"],
        [("still open", row["still_open"]), ("closed as not planned", row["not_planned"])],
        items,
        {"benchmark": restore_bucket(row["median"])},
    )


async def lead_time(conn: asyncpg.Connection, scope: Scope) -> Figure:
    """DORA lead time for changes alone (the overview's trend line)."""
    return await _lead_time(conn, await resolve(conn, scope))


DORA_KEYS = {
    "deployment_frequency": frequency_figure,
    "lead_time": _lead_time,
    "change_failure_rate": _change_failure,
    "time_to_restore": _restore,
}


async def dora(conn: asyncpg.Connection, scope: Scope, *, explain: bool = False) -> DoraReport:
    """The four keys with their 2023 benchmark buckets."""
    r = await resolve(conn, scope)
    keys = {key: await compute(conn, r, explain=explain) for key, compute in DORA_KEYS.items()}
    return _dora_result(keys, scope)


async def dora_concurrently(pool: asyncpg.Pool, scope: Scope, *, explain: bool = False) -> DoraReport:
    """`dora`, each key on its own pooled connection at the same time: the answer takes as long
    as the slowest key (change failure) rather than the four in a row."""

    async def key(compute: Callable[..., Awaitable[Figure]]) -> Figure:
        async with pool.acquire() as conn:
            return await compute(conn, await resolve(conn, scope), explain=explain)

    figures = await asyncio.gather(*(key(compute) for compute in DORA_KEYS.values()))
    return _dora_result(dict(zip(DORA_KEYS, figures, strict=True)), scope)


# Lead time follows the team's commits; the other keys have no author to filter on.
NOT_TEAM_FILTERED = ("deployment_frequency", "change_failure_rate", "time_to_restore")


def _dora_result(keys: dict[str, Figure], scope: Scope) -> DoraReport:
    def key(name: str, figure: Figure) -> Figure:
        details = {**figure.details, "benchmark_thresholds": DORA_THRESHOLDS[name]}
        if scope.narrowed_to_people and name in NOT_TEAM_FILTERED:
            details["team_filter"] = TEAM_NOT_APPLIED
        return replace(figure, details=details)

    return DoraReport(**{name: key(name, figure) for name, figure in keys.items()})


async def deployments(
    conn: asyncpg.Connection, scope: Scope, *, explain: bool = False, cursor: str | None = None
) -> Figure:
    """Deployment frequency plus a per-repository summary (busiest first, bounded) among its
    details (`repositories`), and with explain the cursor to the next page of releases."""
    r = await resolve(conn, scope)
    figure = await frequency_figure(conn, r, explain=explain, cursor=cursor)
    repositories = [
        RepositoryReleases(x["repository_id"], x["succeeded"], x["failed"])
        for x in await conn.fetch(*bind(PER_REPOSITORY_RELEASES_SQL, _params(r)))
    ]
    details: dict[str, Any] = {**figure.details, "repositories": repositories}
    if explain:
        details["next_cursor"] = next_cursor_for(cursor_offset(cursor), figure.count)
    return replace(figure, details=details)
