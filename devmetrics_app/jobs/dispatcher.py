"""Hand newly stored deliveries to Dramatiq the moment PostgreSQL says they exist.

The web process only verifies and stores a webhook; its INSERT also sends a NOTIFY. Every
worker process LISTENs, and on a notification leases the deliveries no worker has taken yet
(SKIP LOCKED: each is taken once, whichever worker wins) and enqueues them. So Redis is not on
the webhook path at all: a webhook is acknowledged as soon as it is committed, Redis being down
delays processing but loses nothing, and the web process never blocks on a Redis client.

The same loop sends the outbox: follow-up jobs committed with the deliveries they came from.

It leases only so far ahead of the workers: while the deliveries queue holds QUEUE_HIGH_WATER
messages it waits (and looks again every THROTTLED_POLL_SECONDS). In a burst the backlog then
stays in PostgreSQL, where it costs nothing, instead of each delivery being leased and enqueued
at once: that doubled PostgreSQL's writes per webhook while the web process was storing them,
and leases older than the sweeper's grace were taken and enqueued again, so a backlog of
minutes went through the queue several times.

While serve's web process takes a burst (ingest_priority.py) it takes one round per
BUSY_ROUND_SECONDS however many notifications arrive: each commit sends one, and at ~40 rounds a
second the dispatcher and its Redis calls were a fifth of a core, for workers that were paced to
a few dozen deliveries a second anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg

from devmetrics_app import ingest_priority
from devmetrics_app.jobs.background import BackgroundLoop
from devmetrics_app.jobs.broker import queue_depth
from devmetrics_app.jobs.outbox_sender import enqueue_jobs, send_outbox
from devmetrics_app.store.deliveries import DELIVERY_CHANNEL, lease_fresh
from devmetrics_app.store.outbox import OUTBOX_CHANNEL, OutboxJob

log = logging.getLogger(__name__)

LEASE_LIMIT = 500
ENQUEUE_CHUNK = 100
# Without a notification (a missed one, a reconnect) look anyway this often.
FALLBACK_POLL_SECONDS = 2.0
DELIVERIES_QUEUE = "deliveries"  # jobs/actors.process_deliveries
# Messages (of up to ENQUEUE_CHUNK deliveries) the workers may have waiting before no more are
# leased; enough for every worker thread to find work while the next lease is taken.
QUEUE_HIGH_WATER = 20
THROTTLED_POLL_SECONDS = 0.2
BUSY_ROUND_SECONDS = 0.2
RECONNECT_DELAY_SECONDS = 1.0
# A lease or an outbox row's deletion lost to a PostgreSQL crash only sends a delivery or a job
# again, which runs once (claims skip what is done); not waiting for the WAL flush on every lease
# keeps the dispatcher's commits out of the web's way during a burst.
LEASE_SETTINGS = {"synchronous_commit": "off"}


def deliveries_waiting() -> int:
    return queue_depth(DELIVERIES_QUEUE)


async def dispatch_fresh(conn: asyncpg.Connection, enqueue: Callable[[list[str]], None], *,
                         lease_seconds: float,
                         waiting: Callable[[], int] | None = None) -> int:
    """Lease and enqueue the deliveries not yet handed out, while fewer than QUEUE_HIGH_WATER
    messages wait for the workers (`waiting`, blocking; None: no bound); return how many."""
    total = 0
    while True:
        if waiting is not None and await asyncio.to_thread(waiting) >= QUEUE_HIGH_WATER:
            return total
        ids = await lease_fresh(conn, lease_seconds=lease_seconds, limit=LEASE_LIMIT)
        for start in range(0, len(ids), ENQUEUE_CHUNK):
            await asyncio.to_thread(enqueue, ids[start:start + ENQUEUE_CHUNK])
        total += len(ids)
        if len(ids) < LEASE_LIMIT:
            return total


def _waker(event: asyncio.Event) -> Callable[..., None]:
    def wake(*_: object) -> None:
        event.set()
    return wake


class DispatcherThread(BackgroundLoop):
    def __init__(self, database_url: str, enqueue: Callable[[list[str]], None], *,
                 lease_seconds: float,
                 enqueue_followups: Callable[[list[OutboxJob]], None] = enqueue_jobs,
                 waiting: Callable[[], int] | None = deliveries_waiting,
                 web_busy: Callable[[], bool] = ingest_priority.web_busy) -> None:
        super().__init__("delivery-dispatcher")
        self._database_url = database_url
        self._enqueue = enqueue
        self._enqueue_followups = enqueue_followups
        self._lease_seconds = lease_seconds
        self._waiting = waiting
        self._web_busy = web_busy

    async def main(self) -> None:
        while not self.stopping:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._database_url, server_settings=LEASE_SETTINGS)
                woken = asyncio.Event()
                await conn.add_listener(DELIVERY_CHANNEL, _waker(woken))
                await conn.add_listener(OUTBOX_CHANNEL, _waker(woken))
                while not self.stopping:
                    woken.clear()
                    await dispatch_fresh(conn, self._enqueue, lease_seconds=self._lease_seconds,
                                         waiting=self._waiting)
                    await send_outbox(conn, self._enqueue_followups,
                                      lease_seconds=self._lease_seconds)
                    full = (self._waiting is not None
                            and await asyncio.to_thread(self._waiting) >= QUEUE_HIGH_WATER)
                    if self._web_busy():
                        # The notifications of the pause are one wake-up, taken after it.
                        await asyncio.sleep(BUSY_ROUND_SECONDS)
                    try:
                        await asyncio.wait_for(
                            woken.wait(), THROTTLED_POLL_SECONDS if full else FALLBACK_POLL_SECONDS)
                    except TimeoutError:
                        pass
            except Exception:
                # Redis down (enqueue failed: the leases expire and the sweeper retries them)
                # or PostgreSQL gone: reconnect after a pause.
                log.exception("delivery dispatch failed; retrying")
                await asyncio.sleep(RECONNECT_DELAY_SECONDS)
            finally:
                if conn is not None:
                    await conn.close()
