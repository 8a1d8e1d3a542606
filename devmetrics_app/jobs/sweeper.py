"""Re-enqueue deliveries that were stored but never processed.

Covers a web process killed between commit and enqueue, Redis down while webhooks arrived,
and handler failures waiting for their retry time. Runs in every worker process; the lease
taken in SQL keeps concurrent sweepers from enqueuing the same delivery twice. Like the
dispatcher it leases no further ahead of the workers than QUEUE_HIGH_WATER waiting messages: in
a burst the deliveries not yet handed out are older than the grace, and are the dispatcher's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg

from devmetrics_app.db import create_pool
from devmetrics_app.jobs.background import BackgroundLoop
from devmetrics_app.jobs.dispatcher import QUEUE_HIGH_WATER, deliveries_waiting
from devmetrics_app.store.deliveries import lease_overdue

log = logging.getLogger(__name__)

SWEEP_BATCH = 500
ENQUEUE_CHUNK = 50


async def sweep_once(
    pool: asyncpg.Pool, enqueue: Callable[[list[str]], None], *, grace_seconds: float,
    waiting: Callable[[], int] | None = None,
) -> int:
    """Enqueue the overdue deliveries while fewer than QUEUE_HIGH_WATER messages wait for the
    workers (`waiting`, blocking; None: no bound); return how many."""
    total = 0
    while True:
        if waiting is not None and await asyncio.to_thread(waiting) >= QUEUE_HIGH_WATER:
            break
        async with pool.acquire() as conn:
            ids = await lease_overdue(conn, grace_seconds=grace_seconds, limit=SWEEP_BATCH)
        for start in range(0, len(ids), ENQUEUE_CHUNK):
            await asyncio.to_thread(enqueue, ids[start:start + ENQUEUE_CHUNK])
        total += len(ids)
        if len(ids) < SWEEP_BATCH:
            break
    if total:
        log.info("sweeper re-enqueued %d deliveries", total)
    return total


class SweeperThread(BackgroundLoop):
    """Runs `sweep_once` every `interval` seconds until stopped."""

    def __init__(self, database_url: str, enqueue: Callable[[list[str]], None], *,
                 interval: float, grace_seconds: float,
                 waiting: Callable[[], int] | None = deliveries_waiting) -> None:
        super().__init__("delivery-sweeper")
        self._database_url = database_url
        self._enqueue = enqueue
        self._interval = interval
        self._grace = grace_seconds
        self._waiting = waiting

    async def main(self) -> None:
        pool = None
        while not self.stopping:
            try:
                if pool is None:
                    pool = await create_pool(self._database_url, min_size=1, max_size=1)
                await sweep_once(pool, self._enqueue, grace_seconds=self._grace,
                                 waiting=self._waiting)
            except Exception:
                # Redis or PostgreSQL unreachable: the leases expire and the next tick retries.
                log.exception("delivery sweep failed")
            await self.pause(self._interval)
        if pool is not None:
            await pool.close()
