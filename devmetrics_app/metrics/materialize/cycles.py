"""`pull_request_cycle`: the cycle-time facts of a repository's merged pull requests, each one
computed by the pure `cycle_time.pull_request_cycle`, so a stored stage is the calculator's."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a named parameter (store/sql.bind) or, in short fixed queries, $n.

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from devmetrics_app.store.sql import bind

from .. import facts
from ..calc.cycle_time import pull_request_cycle
from ..calc.dora import Release
from ..settings import MetricsSettings
from .releases import contains_by_cut

PRS_TO_REFRESH = """
SELECT id FROM pull_requests
WHERE repository_id = $1 AND merged_at >= $2 AND merged_at < $3
UNION
SELECT pull_request_id FROM pull_request_cycle
WHERE repository_id = $1 AND merged_at >= $2 AND merged_at < $3
"""
UPSERT_CYCLES = """
INSERT INTO pull_request_cycle AS f (
    pull_request_id, installation_id, repository_id, number, title, author_id, author_login,
    author_is_bot, is_revert, merged_at, merge_commit_sha, cycle_time, coding, pickup, review, merge,
    deploy, time_to_approval, draft, unreviewed, first_review_at, approved_at, deployed_at,
    additions, deletions, computed_at)
SELECT *, now() FROM unnest(
    :pull_request_id::bigint[], :installation_id::bigint[], :repository_id::bigint[], :number::int[],
    :title::text[], :author_id::bigint[], :author_login::text[], :author_is_bot::boolean[],
    :is_revert::boolean[], :merged_at::timestamptz[], :merge_commit_sha::text[], :cycle_time::float8[],
    :coding::float8[], :pickup::float8[], :review::float8[], :merge::float8[], :deploy::float8[],
    :time_to_approval::float8[], :draft::float8[], :unreviewed::boolean[],
    :first_review_at::timestamptz[], :approved_at::timestamptz[], :deployed_at::timestamptz[],
    :additions::int[], :deletions::int[])
ON CONFLICT (pull_request_id) DO UPDATE SET
    installation_id = EXCLUDED.installation_id, repository_id = EXCLUDED.repository_id,
    number = EXCLUDED.number, title = EXCLUDED.title, author_id = EXCLUDED.author_id,
    author_login = EXCLUDED.author_login, author_is_bot = EXCLUDED.author_is_bot,
    is_revert = EXCLUDED.is_revert, merged_at = EXCLUDED.merged_at,
    merge_commit_sha = EXCLUDED.merge_commit_sha, cycle_time = EXCLUDED.cycle_time,
    coding = EXCLUDED.coding, pickup = EXCLUDED.pickup, review = EXCLUDED.review,
    merge = EXCLUDED.merge, deploy = EXCLUDED.deploy, time_to_approval = EXCLUDED.time_to_approval,
    draft = EXCLUDED.draft, unreviewed = EXCLUDED.unreviewed, first_review_at = EXCLUDED.first_review_at,
    approved_at = EXCLUDED.approved_at, deployed_at = EXCLUDED.deployed_at,
    additions = EXCLUDED.additions, deletions = EXCLUDED.deletions, computed_at = now()
"""


async def refresh_cycles(
    conn: asyncpg.Connection,
    repo: asyncpg.Record,
    start: datetime,
    end: datetime,
    settings: MetricsSettings,
    releases: Sequence[Release],
    cuts: dict,
    times: dict[str, datetime],
) -> int:
    """Recompute the facts of the repository's PRs merged in [start, end); drop unmerged ones."""
    ids = [r["id"] for r in await conn.fetch(PRS_TO_REFRESH, repo["id"], start, end)]
    rows = [r for r in await facts.load_pull_requests(conn, ids) if r.facts.merged_at is not None]
    merged_ids = {r.facts.id for r in rows}
    await conn.execute(
        "DELETE FROM pull_request_cycle WHERE pull_request_id = ANY($1::bigint[])",
        [i for i in ids if i not in merged_ids],
    )
    if not rows:
        return 0
    merge_shas = [r.facts.merge_commit_sha for r in rows if r.facts.merge_commit_sha]
    times = {**times, **await facts.commit_times(conn, repo["id"], merge_shas)}
    contains = contains_by_cut(cuts, times)
    cycles = [
        pull_request_cycle(r.facts, settings=settings, releases=releases, contains=contains) for r in rows
    ]
    columns: dict[str, list] = {}
    for row, c in zip(rows, cycles, strict=True):
        f = row.facts
        values = {
            "pull_request_id": f.id,
            "installation_id": row.installation_id,
            "repository_id": f.repository_id,
            "number": f.number,
            "title": f.title,
            "author_id": row.author_id,
            "author_login": f.author_login,
            "author_is_bot": f.author_is_bot,
            "is_revert": settings.is_revert_title(f.title),
            "merged_at": f.merged_at,
            "merge_commit_sha": f.merge_commit_sha,
            "cycle_time": c.cycle_time,
            "coding": c.coding,
            "pickup": c.pickup,
            "review": c.review,
            "merge": c.merge,
            "deploy": c.deploy,
            "time_to_approval": c.time_to_approval,
            "draft": c.draft,
            "unreviewed": c.unreviewed,
            "first_review_at": c.first_review_at,
            "approved_at": c.approved_at,
            "deployed_at": c.deployed_at,
            "additions": row.additions,
            "deletions": row.deletions,
        }
        for name, value in values.items():
            columns.setdefault(name, []).append(value)
    await conn.execute(*bind(UPSERT_CYCLES, columns))
    return len(rows)
