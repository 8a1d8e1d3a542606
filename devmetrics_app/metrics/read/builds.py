"""Build success rate over workflow runs (rollups for whole days, raw rows otherwise)."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a named parameter (store/sql.named).
# ruff: noqa: S608

from __future__ import annotations

import asyncpg

from devmetrics_app.store.sql import named

from .. import facts
from ..calc.builds import FAILURE_CONCLUSIONS, SUCCESS_CONCLUSIONS
from ..explain import Figure, Item
from .paging import EXPLAIN_LIMIT, build_figure
from .scope import Scope, resolve, rollup_sums

BUILD_COLUMNS = ("workflow_successes", "workflow_failures", "workflow_bot", "workflow_no_verdict")
RUN_BOT = facts.bot_sql("u.login", "coalesce(u.is_bot, false)", "exclude_bots", "bot_patterns")
BUILD_RAW_SQL = f"""
SELECT count(*) FILTER (WHERE NOT bot AND c = ANY(:successes::text[])) AS workflow_successes,
       count(*) FILTER (WHERE NOT bot AND c = ANY(:failures::text[])) AS workflow_failures,
       count(*) FILTER (WHERE bot) AS workflow_bot,
       count(*) FILTER (WHERE NOT bot AND NOT c = ANY(:successes::text[] || :failures::text[]))
           AS workflow_no_verdict
FROM (SELECT lower(coalesce(w.conclusion, '')) AS c, {RUN_BOT} AS bot
      FROM workflow_runs w LEFT JOIN users u ON u.id = w.actor_id
      WHERE w.installation_id = :installation AND w.status = 'completed'
        AND coalesce(w.completed_at, w.github_updated_at) >= :start
        AND coalesce(w.completed_at, w.github_updated_at) < :end
        AND w.repository_id = ANY(:repositories::bigint[])
        AND (:members::bigint[] IS NULL OR w.actor_id = ANY(:members::bigint[]))) x
"""
UNFINISHED_RUNS_SQL = """
SELECT count(*) FROM workflow_runs w
WHERE w.installation_id = :installation AND w.github_created_at >= :start AND w.github_created_at < :end
  AND w.status IS DISTINCT FROM 'completed' AND w.repository_id = ANY(:repositories::bigint[])
  AND (:members::bigint[] IS NULL OR w.actor_id = ANY(:members::bigint[]))
"""
BUILD_ITEMS_SQL = f"""
SELECT w.id, w.name, w.conclusion, w.head_branch, w.repository_id FROM workflow_runs w
LEFT JOIN users u ON u.id = w.actor_id
WHERE NOT {RUN_BOT}
  AND w.installation_id = :installation AND w.status = 'completed'
  AND coalesce(w.completed_at, w.github_updated_at) >= :start
  AND coalesce(w.completed_at, w.github_updated_at) < :end AND w.repository_id = ANY(:repositories::bigint[])
  AND lower(w.conclusion) = ANY(:conclusions::text[])
  AND (:members::bigint[] IS NULL OR w.actor_id = ANY(:members::bigint[]))
ORDER BY coalesce(w.completed_at, w.github_updated_at) DESC, w.id DESC LIMIT :limit
"""


async def build_success(conn: asyncpg.Connection, scope: Scope, *, explain: bool = False) -> Figure:
    """Workflow-run success rate; whole days from the rollups, other bounds from raw runs. With a
    team, the runs its members triggered (from raw runs: the rollups are per repository). Details:
    successes, failures and the source ("rollup" or "raw"); items (runs) with explain."""
    r = await resolve(conn, scope)
    params = r.params(successes=sorted(SUCCESS_CONCLUSIONS), failures=sorted(FAILURE_CONCLUSIONS),
                      conclusions=sorted(SUCCESS_CONCLUSIONS | FAILURE_CONCLUSIONS),
                      limit=EXPLAIN_LIMIT)
    from_rollup = r.aligned and r.member_ids is None
    if from_rollup:
        row = await rollup_sums(conn, r, BUILD_COLUMNS)
    else:
        sql, args = named(BUILD_RAW_SQL, **params)
        row = await conn.fetchrow(sql, *args)
    sql, args = named(UNFINISHED_RUNS_SQL, **params)
    unfinished = await conn.fetchval(sql, *args)
    successes, failures = row["workflow_successes"], row["workflow_failures"]
    total = successes + failures
    items = None
    if explain:
        sql, args = named(BUILD_ITEMS_SQL, **params)
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
            for w in await conn.fetch(sql, *args)
        ]
    return build_figure(
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
    )
