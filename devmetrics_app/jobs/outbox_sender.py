"""Hand outbox rows (follow-up jobs committed with their delivery) to Dramatiq.

The delivery dispatcher calls `send_outbox` on every wake-up, so follow-ups are enqueued the
moment their delivery commits, and while Redis is down they wait in PostgreSQL. A row is
deleted once enqueued; if the process dies in between, the row is sent again after its lease
runs out. `RunOnce` makes that second copy harmless: it runs a given row's job only once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
import dramatiq
from dramatiq.errors import ActorNotFound
from dramatiq.middleware import Middleware, SkipMessage

from devmetrics_app.store import outbox
from devmetrics_app.store.outbox import OutboxJob

log = logging.getLogger(__name__)

LEASE_LIMIT = 500
ENQUEUE_CHUNK = 100
# The message option naming the outbox row a job came from.
OUTBOX_OPTION = "outbox_id"
# Who first ran a row's job; kept long past any lease or retry, then forgotten by Redis.
RUN_KEY = "devmetrics:outbox-run:{outbox_id}"
RUN_KEY_SECONDS = 7 * 24 * 3600


def enqueue_jobs(jobs: list[OutboxJob]) -> None:
    broker = dramatiq.get_broker()
    for job in jobs:
        try:
            actor = broker.get_actor(job.actor)
        except ActorNotFound:
            # Written by another version of the app: it can never be sent, and must not hold
            # up every row (and delivery) behind it.
            log.error("outbox row %s names no known actor %r; dropped", job.id, job.actor)
            continue
        actor.send_with_options(kwargs=job.kwargs, **{OUTBOX_OPTION: str(job.id)})


async def send_outbox(conn: asyncpg.Connection, enqueue: Callable[[list[OutboxJob]], None], *,
                      lease_seconds: float) -> int:
    """Enqueue every outbox row no other dispatcher holds; return how many."""
    total = 0
    while True:
        jobs = await outbox.lease(conn, lease_seconds=lease_seconds, limit=LEASE_LIMIT)
        for start in range(0, len(jobs), ENQUEUE_CHUNK):
            chunk = jobs[start:start + ENQUEUE_CHUNK]
            try:
                await asyncio.to_thread(enqueue, chunk)
            except BaseException:
                # Redis down: give the unsent rows back so the next attempt (after the
                # dispatcher's pause) takes them; with PostgreSQL gone too, the leases run out.
                with contextlib.suppress(Exception):
                    await outbox.release(conn, [job.id for job in jobs[start:]])
                raise
            await outbox.delete(conn, [job.id for job in chunk])
        total += len(jobs)
        if len(jobs) < LEASE_LIMIT:
            return total


class RunOnce(Middleware):
    """Skip a job whose outbox row already ran under another message (a row sent twice).

    The first message to start claims the row's key with its own message id; Dramatiq's retries
    of that message keep the id and so still run. The claims live in Redis whichever broker
    carries the messages (RabbitMQ has no key store), hence the client of its own."""

    def __init__(self, client: Any = None) -> None:
        self.client = client

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        outbox_id = message.options.get(OUTBOX_OPTION)
        client = self.client or getattr(broker, "client", None)
        if outbox_id is None or client is None:
            return
        key = RUN_KEY.format(outbox_id=outbox_id)
        if client.set(key, message.message_id, nx=True, ex=RUN_KEY_SECONDS):
            return
        owner = client.get(key)
        if owner is not None and owner.decode() == message.message_id:
            return
        log.info("outbox job %s already ran; skipping its second copy", outbox_id)
        raise SkipMessage(f"outbox row {outbox_id} already ran")
