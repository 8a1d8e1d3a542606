"""The database half of a scope's freshness (web/api/freshness.py adds the broker's half): one
round trip over deliveries not processed yet, the last recompute and rollup work in the outbox."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

# $2: the scope's repositories (NULL: every repository of the installation).
FRESHNESS_SQL = """
WITH scope AS (SELECT coalesce($2::bigint[], (SELECT coalesce(array_agg(r.id), '{}') FROM repositories r
                                              WHERE r.installation_id = $1)) AS ids)
SELECT now() AS answered_at, scope.ids AS repositories,
       (SELECT min(d.received_at) FROM webhook_deliveries d
        WHERE d.status = 'received' AND d.installation_id = $1) AS oldest_unprocessed,
       (SELECT max(s.computed_at) FROM repository_stats s WHERE s.repository_id = ANY(scope.ids))
           AS last_recompute,
       EXISTS (SELECT 1 FROM outbox o JOIN webhook_deliveries d ON d.delivery_id = o.delivery_id
               WHERE d.installation_id = $1 AND o.actor LIKE '%rollups%') AS outbox_rollups
FROM scope
"""


async def scope_marks(db: asyncpg.Connection | asyncpg.Pool, installation_id: int,
                      repository_ids: Sequence[int] | None) -> asyncpg.Record:
    """answered_at, repositories (the scope's ids), oldest_unprocessed, last_recompute, outbox_rollups."""
    return await db.fetchrow(FRESHNESS_SQL, installation_id,
                             list(repository_ids) if repository_ids is not None else None)
