"""Throughput: PRs merged and issues closed (rollups for whole days, raw rows otherwise)."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a named parameter (store/sql.named).
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import asyncpg

from devmetrics_app.store.sql import bind, named

from .. import facts
from ..explain import Figure, Item
from .paging import EXPLAIN_LIMIT, build_figure
from .scope import Scope, resolve, rollup_sums

THROUGHPUT_COLUMNS = (
    "prs_merged",
    "prs_merged_bot",
    "issues_closed",
    "issues_closed_bot",
    "issues_not_planned",
)
ISSUE_BOT = facts.bot_sql("i.author_login", "coalesce(u.is_bot, false)", "exclude_bots", "bot_patterns")
PR_BOT = facts.bot_sql("f.author_login", "f.author_is_bot", "exclude_bots", "bot_patterns")
THROUGHPUT_RAW_SQL = f"""
SELECT (SELECT count(*) FILTER (WHERE NOT {PR_BOT})
        FROM pull_request_cycle f WHERE f.installation_id = :installation AND f.merged_at >= :start
          AND f.merged_at < :end AND f.repository_id = ANY(:repositories::bigint[])
          AND (:members::bigint[] IS NULL OR f.author_id = ANY(:members::bigint[]))) AS prs_merged,
       (SELECT count(*) FILTER (WHERE {PR_BOT})
        FROM pull_request_cycle f WHERE f.installation_id = :installation AND f.merged_at >= :start
          AND f.merged_at < :end AND f.repository_id = ANY(:repositories::bigint[])
          AND (:members::bigint[] IS NULL OR f.author_id = ANY(:members::bigint[]))) AS prs_merged_bot,
       count(*) FILTER (WHERE NOT {ISSUE_BOT} AND coalesce(i.state_reason, '') <> 'not_planned') AS
           issues_closed,
       count(*) FILTER (WHERE {ISSUE_BOT}) AS issues_closed_bot,
       count(*) FILTER (WHERE NOT {ISSUE_BOT} AND coalesce(i.state_reason, '') = 'not_planned')
           AS issues_not_planned
FROM issues i LEFT JOIN users u ON u.id = i.author_id
WHERE i.installation_id = :installation AND i.closed_at >= :start AND i.closed_at < :end
  AND i.state = 'CLOSED' AND i.deleted_at IS NULL AND i.repository_id = ANY(:repositories::bigint[])
  AND (:members::bigint[] IS NULL OR i.assignee_ids && :members::bigint[])
"""
MERGED_ITEMS_SQL = f"""
SELECT f.pull_request_id, f.number, f.title, f.repository_id FROM pull_request_cycle f
WHERE f.installation_id = :installation AND f.merged_at >= :start AND f.merged_at < :end
  AND f.repository_id = ANY(:repositories::bigint[])
  AND NOT {PR_BOT} AND (:members::bigint[] IS NULL OR f.author_id = ANY(:members::bigint[]))
ORDER BY f.merged_at DESC, f.pull_request_id DESC LIMIT :limit
"""
CLOSED_ITEMS_SQL = f"""
SELECT i.id, i.number, i.title, i.repository_id FROM issues i LEFT JOIN users u ON u.id = i.author_id
WHERE i.installation_id = :installation AND i.closed_at >= :start AND i.closed_at < :end
  AND i.state = 'CLOSED' AND i.deleted_at IS NULL AND i.repository_id = ANY(:repositories::bigint[])
  AND coalesce(i.state_reason, '') <> 'not_planned'
  AND NOT {ISSUE_BOT}
  AND (:members::bigint[] IS NULL OR i.assignee_ids && :members::bigint[])
ORDER BY i.closed_at DESC, i.id DESC LIMIT :limit
"""


@dataclass(frozen=True)
class ThroughputReport:
    """Pull requests merged and issues closed as completed; `source` says whether the counts came
    from the daily rollups (whole days, no team) or the raw rows."""

    pull_requests_merged: Figure
    issues_closed: Figure
    source: Literal["rollup", "raw"]


def _items(kind: str, id_column: str, rows: list[asyncpg.Record]) -> list[Item]:
    return [Item(kind, row[id_column], f"#{row['number']} {row['title']}",
                 details={"repository_id": row["repository_id"]}) for row in rows]


async def throughput(conn: asyncpg.Connection, scope: Scope, *, explain: bool = False) -> ThroughputReport:
    """PRs merged and issues closed as completed (bots and not-planned counted as excluded)."""
    r = await resolve(conn, scope)
    params = r.params(limit=EXPLAIN_LIMIT)
    from_rollup = r.aligned and r.member_ids is None
    if from_rollup:
        row = await rollup_sums(conn, r, THROUGHPUT_COLUMNS)
    else:
        sql, args = named(THROUGHPUT_RAW_SQL, **params)
        row = await conn.fetchrow(sql, *args)
    pr_items = issue_items = None
    if explain:
        pr_items = _items("pull_request", "pull_request_id",
                          await conn.fetch(*bind(MERGED_ITEMS_SQL, params)))
        issue_items = _items("issue", "id", await conn.fetch(*bind(CLOSED_ITEMS_SQL, params)))
    return ThroughputReport(
        pull_requests_merged=build_figure(
            float(row["prs_merged"]),
            "pull requests",
            row["prs_merged"],
            [("authored by a bot", row["prs_merged_bot"])],
            pr_items,
        ),
        issues_closed=build_figure(
            float(row["issues_closed"]),
            "issues",
            row["issues_closed"],
            [
                ("opened by a bot", row["issues_closed_bot"]),
                ("closed as not planned", row["issues_not_planned"]),
            ],
            issue_items,
        ),
        source="rollup" if from_rollup else "raw",
    )
