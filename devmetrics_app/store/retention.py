"""Pruning of processed delivery bodies after DELIVERY_RETENTION_DAYS.

The body is the bulk of a delivery row and, once processed, only replay needs it. The row
stays (its delivery id keeps a late redelivery from being processed twice, its metadata keeps
the audit trail); the body becomes empty. Failed and pending deliveries keep theirs. Batches
keep each transaction short, so webhooks being stored meanwhile never wait long.
"""

from __future__ import annotations

import asyncpg

PRUNE_BATCH = 5_000

PRUNE_BODIES = """
UPDATE webhook_deliveries SET body = ''::bytea, body_encoding = 'identity'
WHERE delivery_id IN (
    SELECT delivery_id FROM webhook_deliveries
    WHERE status IN ('processed', 'ignored') AND octet_length(body) > 0
      AND processed_at < now() - make_interval(days => $1)
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
"""


async def prune_bodies(pool: asyncpg.Pool, *, days: int, batch: int = PRUNE_BATCH) -> int:
    """Empty the bodies of deliveries processed more than `days` ago; return how many."""
    total = 0
    while True:
        status = await pool.execute(PRUNE_BODIES, days, batch)
        pruned = int(status.split()[-1])
        total += pruned
        if pruned < batch:
            return total
