"""SQL for the outbox: follow-up jobs committed with the delivery that asked for them.

A handler's follow-ups used to be enqueued after the delivery's transaction committed; a Redis
timeout in between lost them for good (the retry found the delivery done). Now they are rows,
written in that same transaction, and the dispatcher (jobs/outbox_sender.py) enqueues them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from devmetrics_app.store import wakeup

# The dispatcher LISTENs here as well as on the delivery channel: new rows are sent at once.
OUTBOX_CHANNEL = "devmetrics_outbox"

# Text in, text out: the dispatcher's connection has no JSON codec, the workers' pool has one.
INSERT = """
INSERT INTO outbox (id, actor, kwargs, delivery_id)
SELECT id, actor, kwargs::jsonb, $4
FROM unnest($1::uuid[], $2::text[], $3::text[]) AS t(id, actor, kwargs)
"""

LEASE = """
UPDATE outbox
SET leased_until = now() + make_interval(secs => $2)
WHERE id IN (
    SELECT id FROM outbox
    WHERE leased_until IS NULL OR leased_until <= now()
    ORDER BY created_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
RETURNING id, actor, kwargs::text AS kwargs, created_at
"""

DELETE = "DELETE FROM outbox WHERE id = ANY($1::uuid[])"

RELEASE = "UPDATE outbox SET leased_until = NULL WHERE id = ANY($1::uuid[])"


@dataclass(frozen=True, slots=True)
class OutboxJob:
    id: uuid.UUID
    actor: str
    kwargs: dict[str, Any]
    created_at: datetime


async def add(conn: asyncpg.Connection, followups: list[tuple[str, dict[str, Any]]], *,
              delivery_id: str | None) -> None:
    """Store follow-ups in the caller's transaction; the caller wakes the dispatchers once it
    has committed (`wake_dispatchers`)."""
    if not followups:
        return
    await conn.execute(
        INSERT,
        [uuid.uuid4() for _ in followups],
        [actor for actor, _ in followups],
        [orjson.dumps(kwargs).decode() for _, kwargs in followups],
        delivery_id,
    )


async def wake_dispatchers(conn: asyncpg.Connection, count: int) -> None:
    """After the commit that stored `count` rows: send them now rather than at the next poll."""
    if count:
        await wakeup.wake(conn, OUTBOX_CHANNEL, str(count))


async def lease(conn: asyncpg.Connection, *, lease_seconds: float, limit: int) -> list[OutboxJob]:
    """Take rows no dispatcher holds, oldest first."""
    rows = await conn.fetch(LEASE, limit, lease_seconds)
    jobs = [OutboxJob(row["id"], row["actor"], orjson.loads(row["kwargs"]), row["created_at"])
            for row in rows]
    return sorted(jobs, key=lambda job: job.created_at)


async def delete(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> None:
    if ids:
        await conn.execute(DELETE, ids)


async def release(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> None:
    """Give rows back at once after a failed send, rather than when their lease runs out."""
    if ids:
        await conn.execute(RELEASE, ids)
