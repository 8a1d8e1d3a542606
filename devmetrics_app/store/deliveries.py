"""SQL for webhook deliveries: the durable inbox between GitHub and the workers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from devmetrics_app.store import body_codec, wakeup

# Workers LISTEN on this channel: a notification says "new deliveries are stored", so they are
# handed to Dramatiq at once without the web process touching Redis (jobs/dispatcher.py).
DELIVERY_CHANNEL = "devmetrics_deliveries"

INSERT_BATCH = """
INSERT INTO webhook_deliveries
    (delivery_id, event, action, installation_id, hook_id, content_type, body, body_encoding,
     next_attempt_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[],
                     $7::bytea[], $8::text[], $9::timestamptz[])
ON CONFLICT (delivery_id) DO UPDATE
    SET status = 'received', attempts = 0, next_attempt_at = EXCLUDED.next_attempt_at,
        last_error = NULL,
        body = EXCLUDED.body, body_encoding = EXCLUDED.body_encoding,
        content_type = EXCLUDED.content_type, received_at = now()
    -- A redelivery of a delivery we gave up on is a request to try again; anything else is a
    -- duplicate and is left alone.
    WHERE webhook_deliveries.status = 'failed'
RETURNING delivery_id
"""

CLAIM = """
SELECT delivery_id, event, action, installation_id, content_type, body, body_encoding, attempts,
       received_at
FROM webhook_deliveries
WHERE delivery_id = $1 AND status = 'received'
FOR UPDATE SKIP LOCKED
"""

MARK_DONE = """
UPDATE webhook_deliveries
SET status = $2, processed_at = now(), attempts = attempts + 1, last_error = NULL,
    next_attempt_at = NULL
WHERE delivery_id = $1
"""

RECORD_FAILURE = """
UPDATE webhook_deliveries
SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3,
    status = CASE WHEN $4 THEN 'failed' ELSE 'received' END
WHERE delivery_id = $1
"""

# Take a lease on deliveries never handed to a worker yet: the dispatcher's query. The lease
# keeps another dispatcher from taking them too, and if the enqueue fails the sweeper retries
# once the lease has run out.
LEASE_FRESH = """
UPDATE webhook_deliveries
SET next_attempt_at = now() + make_interval(secs => $2)
WHERE delivery_id IN (
    SELECT delivery_id FROM webhook_deliveries
    WHERE status = 'received' AND next_attempt_at IS NULL
    ORDER BY received_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
RETURNING delivery_id
"""

# Take a lease on overdue deliveries so that concurrent sweepers, or a sweeper running again
# before the queue drained, do not enqueue the same delivery twice.
LEASE_OVERDUE = """
UPDATE webhook_deliveries
SET next_attempt_at = now() + make_interval(secs => $2)
WHERE delivery_id IN (
    SELECT delivery_id FROM webhook_deliveries
    WHERE status = 'received'
      AND COALESCE(next_attempt_at, received_at + make_interval(secs => $2)) <= now()
    ORDER BY received_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
RETURNING delivery_id
"""


# Processing a delivery commits without waiting for the WAL flush. Everything it writes is
# derived from the stored delivery, whose own insert (the web's 202) is fully durable: if
# PostgreSQL itself crashes within the ~0.6 s it may take to flush (three wal_writer_delay), the
# processing is lost as a whole, the delivery reads `received` again and is processed again
# (handlers are idempotent upserts; follow-ups they queue may run twice). An application crash
# loses nothing. Each fsync costs ~1 ms here, and the web's group commits queued behind the
# workers' commits for the WAL flush lock: ingest p99 rose exactly when the workers were busy.
REPLAYABLE_COMMIT = "SET LOCAL synchronous_commit TO off"


@dataclass(frozen=True, slots=True)
class IncomingDelivery:
    delivery_id: str
    event: str
    action: str | None
    installation_id: int | None
    hook_id: int | None
    content_type: str
    body: bytes
    # Over the installation's webhook rate limit: stored now, processed from then (web/throttle.py).
    not_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    delivery_id: str
    event: str
    action: str | None
    installation_id: int | None
    content_type: str
    body: bytes
    attempts: int
    received_at: datetime


async def insert_batch(conn: asyncpg.Connection, batch: list[IncomingDelivery], *,
                       wake: bool = True) -> set[str]:
    """Store deliveries in one statement, then wake the dispatchers (store/wakeup.py) unless
    the caller does; return the ids that now need processing."""
    encoded = [body_codec.encode(d.body) for d in batch]
    rows = await conn.fetch(
        INSERT_BATCH,
        [d.delivery_id for d in batch],
        [d.event for d in batch],
        [d.action for d in batch],
        [d.installation_id for d in batch],
        [d.hook_id for d in batch],
        [d.content_type for d in batch],
        [body for body, _ in encoded],
        [encoding for _, encoding in encoded],
        [d.not_before for d in batch],
    )
    if rows and wake:
        await wakeup.wake(conn, DELIVERY_CHANNEL, str(len(rows)))
    return {row["delivery_id"] for row in rows}


async def claim(conn: asyncpg.Connection, delivery_id: str) -> StoredDelivery | None:
    """Lock a pending delivery for this transaction; None if done or held by another worker."""
    row = await conn.fetchrow(CLAIM, delivery_id)
    if row is None:
        return None
    fields = dict(row)
    fields["body"] = body_codec.decode(fields["body"], fields.pop("body_encoding"))
    return StoredDelivery(**fields)


async def mark_done(conn: asyncpg.Connection, delivery_id: str, *, status: str) -> None:
    await conn.execute(MARK_DONE, delivery_id, status)


async def record_failure(
    conn: asyncpg.Connection, delivery_id: str, *, error: str, retry_at: datetime | None
) -> None:
    await conn.execute(RECORD_FAILURE, delivery_id, error[:4000], retry_at, retry_at is None)


async def lease_overdue(conn: asyncpg.Connection, *, grace_seconds: float, limit: int) -> list[str]:
    rows = await conn.fetch(LEASE_OVERDUE, limit, grace_seconds)
    return [row["delivery_id"] for row in rows]


async def lease_fresh(conn: asyncpg.Connection, *, lease_seconds: float, limit: int) -> list[str]:
    rows = await conn.fetch(LEASE_FRESH, limit, lease_seconds)
    return [row["delivery_id"] for row in rows]
