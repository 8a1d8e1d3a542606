"""Build success rate over workflow runs (rollups for whole days, raw rows otherwise)."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a $n parameter.
# ruff: noqa: S608

from __future__ import annotations

import asyncpg

from .. import facts
from ..calc.builds import FAILURE_CONCLUSIONS, SUCCESS_CONCLUSIONS
from ..explain import Item
from .paging import EXPLAIN_LIMIT, build_figure
from .scope import Scope, resolve, rollup_sums

BUILD_COLUMNS = ("workflow_successes", "workflow_failures", "workflow_bot", "workflow_no_verdict")
RUN_BOT = facts.bot_sql("u.login", "coalesce(u.is_bot, false)", 5, 6)
BUILD_RAW_SQL = f"""
SELECT count(*) FILTER (WHERE NOT bot AND c = ANY($7::text[])) AS workflow_successes,
       count(*) FILTER (WHERE NOT bot AND c = ANY($8::text[])) AS workflow_failures,
       count(*) FILTER (WHERE bot) AS workflow_bot,
       count(*) FILTER (WHERE NOT bot AND NOT c = ANY($7::text[] || $8::text[])) AS workflow_no_verdict
FROM (SELECT lower(coalesce(w.conclusion, '')) AS c, {RUN_BOT} AS bot
      FROM workflow_runs w LEFT JOIN users u ON u.id = w.actor_id
      WHERE w.installation_id = $1 AND w.status = 'completed'
        AND coalesce(w.completed_at, w.github_updated_at) >= $2
        AND coalesce(w.completed_at, w.github_updated_at) < $3 AND w.repository_id = ANY($4::bigint[])
        AND ($9::bigint[] IS NULL OR w.actor_id = ANY($9::bigint[]))) x
"""
UNFINISHED_RUNS_SQL = """
SELECT count(*) FROM workflow_runs w
WHERE w.installation_id = $1 AND w.github_created_at >= $2 AND w.github_created_at < $3
  AND w.status IS DISTINCT FROM 'completed' AND w.repository_id = ANY($4::bigint[])
  AND ($5::bigint[] IS NULL OR w.actor_id = ANY($5::bigint[]))
"""
BUILD_ITEMS_SQL = f"""
SELECT w.id, w.name, w.conclusion, w.head_branch, w.repository_id FROM workflow_runs w
LEFT JOIN users u ON u.id = w.actor_id
WHERE NOT {facts.bot_sql("u.login", "coalesce(u.is_bot, false)", 7, 8)}
  AND w.installation_id = $1 AND w.status = 'completed'
  AND coalesce(w.completed_at, w.github_updated_at) >= $2
  AND coalesce(w.completed_at, w.github_updated_at) < $3 AND w.repository_id = ANY($4::bigint[])
  AND lower(w.conclusion) = ANY($5::text[]) AND ($9::bigint[] IS NULL OR w.actor_id = ANY($9::bigint[]))
ORDER BY coalesce(w.completed_at, w.github_updated_at) DESC, w.id DESC LIMIT $6
"""


async def build_success(conn: asyncpg.Connection, scope: Scope, *, explain: bool = False) -> dict:
    """Workflow-run success rate; whole days from the rollups, other bounds from raw runs. With a
    team, the runs its members triggered (from raw runs: the rollups are per repository)."""
    r = await resolve(conn, scope)
    period = scope.period
    base = [scope.installation_id, period.start, period.end, r.repository_ids]
    from_rollup = r.aligned and r.member_ids is None
    if from_rollup:
        row = await rollup_sums(conn, r, BUILD_COLUMNS)
    else:
        row = await conn.fetchrow(
            BUILD_RAW_SQL, *base, *r.bots, sorted(SUCCESS_CONCLUSIONS), sorted(FAILURE_CONCLUSIONS),
            r.member_ids,
        )
    unfinished = await conn.fetchval(UNFINISHED_RUNS_SQL, *base, r.member_ids)
    successes, failures = row["workflow_successes"], row["workflow_failures"]
    total = successes + failures
    items = None
    if explain:
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
            for w in await conn.fetch(
                BUILD_ITEMS_SQL,
                *base,
                sorted(SUCCESS_CONCLUSIONS | FAILURE_CONCLUSIONS),
                EXPLAIN_LIMIT,
                *r.bots,
                r.member_ids,
            )
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
    ).to_dict(explain=explain)
