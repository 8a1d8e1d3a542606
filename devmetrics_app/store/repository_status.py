"""What the repository list reads beside each name: period totals from the daily rollups
(`repository_stats`) and a summary of each history import (`import_cursors`), one query each."""

from __future__ import annotations

from datetime import date

import asyncpg

FIGURES_SQL = """
SELECT repository_id, sum(prs_merged)::bigint AS prs_merged, sum(commits)::bigint AS commits,
       sum(deployments)::bigint AS deployments, sum(failed_deployments)::bigint AS failed_deployments,
       sum(workflow_runs)::bigint AS workflow_runs, sum(workflow_successes)::bigint AS workflow_successes,
       sum(cycle_time_hours_sum) AS cycle_time_hours_sum, sum(cycle_time_count)::bigint AS cycle_time_count
FROM repository_stats WHERE installation_id = $1 AND day >= $2 AND day < $3
GROUP BY repository_id"""
IMPORTS_SQL = """
SELECT repository_id, bool_and(done) AS done, sum(items)::bigint AS items,
       count(*) FILTER (WHERE done) AS kinds_done, count(*) AS kinds_total,
       string_agg(kind || ': ' || error, '; ' ORDER BY kind) FILTER (WHERE error IS NOT NULL AND NOT done)
           AS errors,
       max(updated_at) AS updated_at
FROM import_cursors WHERE installation_id = $1 AND ($2::bigint IS NULL OR repository_id = $2)
GROUP BY repository_id"""


async def period_totals(db: asyncpg.Connection | asyncpg.Pool, installation_id: int, start: date,
                        end: date) -> list[asyncpg.Record]:
    """One row per repository with stats in [start, end)."""
    return await db.fetch(FIGURES_SQL, installation_id, start, end)


async def import_summaries(db: asyncpg.Connection | asyncpg.Pool, installation_id: int,
                           repository_id: int | None = None) -> list[asyncpg.Record]:
    """One row per repository with import cursors (every repository of the installation, or one)."""
    return await db.fetch(IMPORTS_SQL, installation_id, repository_id)
