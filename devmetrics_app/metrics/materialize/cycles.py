"""`pull_request_cycle`: the cycle-time facts of a repository's merged pull requests, each one
computed by the pure `cycle_time.pull_request_cycle`, so a stored stage is the calculator's."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a $n parameter.

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

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
    $1::bigint[], $2::bigint[], $3::bigint[], $4::int[], $5::text[], $6::bigint[], $7::text[],
    $8::boolean[], $9::boolean[], $10::timestamptz[], $11::text[], $12::float8[], $13::float8[],
    $14::float8[], $15::float8[], $16::float8[], $17::float8[], $18::float8[], $19::float8[],
    $20::boolean[], $21::timestamptz[], $22::timestamptz[], $23::timestamptz[], $24::int[], $25::int[])
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
    columns: list[list] = [[] for _ in range(25)]
    for row, c in zip(rows, cycles, strict=True):
        f = row.facts
        values = (
            f.id,
            row.installation_id,
            f.repository_id,
            f.number,
            f.title,
            row.author_id,
            f.author_login,
            f.author_is_bot,
            settings.is_revert_title(f.title),
            f.merged_at,
            f.merge_commit_sha,
            c.cycle_time,
            c.coding,
            c.pickup,
            c.review,
            c.merge,
            c.deploy,
            c.time_to_approval,
            c.draft,
            c.unreviewed,
            c.first_review_at,
            c.approved_at,
            c.deployed_at,
            row.additions,
            row.deletions,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    await conn.execute(UPSERT_CYCLES, *columns)
    return len(rows)
