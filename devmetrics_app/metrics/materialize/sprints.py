"""`sprint_facts`: a repository's milestones, their completed points by `velocity.completed_points`."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a named parameter (store/sql.bind) or, in short fixed queries, $n.

from __future__ import annotations

from datetime import datetime

import asyncpg

from devmetrics_app.store.sql import bind

from .. import facts
from ..calc.velocity import completed_points
from ..settings import MetricsSettings

MILESTONES_TO_REFRESH = """
SELECT id FROM milestones
WHERE repository_id = $1 AND (state = 'OPEN' OR github_updated_at >= $2
      OR coalesce(due_on, closed_at) >= $2)
UNION
SELECT DISTINCT milestone_id FROM issues
WHERE repository_id = $1 AND github_updated_at >= $2 AND milestone_id IS NOT NULL
"""
UPSERT_SPRINTS = """
INSERT INTO sprint_facts AS f (milestone_id, installation_id, repository_id, title, state, starts_at,
    ends_at, points, completed_issues, open_issues, not_planned_issues, bot_issues, computed_at)
SELECT *, now() FROM unnest(
    :milestone_id::bigint[], :installation_id::bigint[], :repository_id::bigint[], :title::text[],
    :state::text[], :starts_at::timestamptz[], :ends_at::timestamptz[], :points::float8[],
    :completed_issues::int[], :open_issues::int[], :not_planned_issues::int[], :bot_issues::int[])
ON CONFLICT (milestone_id) DO UPDATE SET
    title = EXCLUDED.title, state = EXCLUDED.state, starts_at = EXCLUDED.starts_at,
    ends_at = EXCLUDED.ends_at, points = EXCLUDED.points, completed_issues = EXCLUDED.completed_issues,
    open_issues = EXCLUDED.open_issues, not_planned_issues = EXCLUDED.not_planned_issues,
    bot_issues = EXCLUDED.bot_issues, computed_at = now()
"""


async def refresh_sprints(
    conn: asyncpg.Connection, repository_id: int, since: datetime, settings: MetricsSettings
) -> int:
    ids = [r["id"] for r in await conn.fetch(MILESTONES_TO_REFRESH, repository_id, since)]
    sprints = await facts.load_sprints(conn, ids)
    kept = {s.id for s, _ in sprints}
    await conn.execute(
        "DELETE FROM sprint_facts WHERE milestone_id = ANY($1::bigint[])", [i for i in ids if i not in kept]
    )
    columns: dict[str, list] = {}
    for sprint, row in sprints:
        points, items, log = completed_points(sprint, settings)
        values = {
            "milestone_id": sprint.id,
            "installation_id": row["installation_id"],
            "repository_id": row["repository_id"],
            "title": sprint.title,
            "state": sprint.state,
            "starts_at": sprint.starts_at,
            "ends_at": sprint.ends_at,
            "points": points,
            "completed_issues": len(items),
            "open_issues": log.count("not closed"),
            "not_planned_issues": log.count("closed as not planned"),
            "bot_issues": log.count("opened by a bot"),
        }
        for name, value in values.items():
            columns.setdefault(name, []).append(value)
    if sprints:
        await conn.execute(*bind(UPSERT_SPRINTS, columns))
    return len(sprints)
