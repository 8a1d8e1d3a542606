"""Every Dramatiq actor, thin: each calls into the module that does the work."""

from __future__ import annotations

import logging

import dramatiq

from devmetrics_app import ingest_priority
from devmetrics_app.events import router
from devmetrics_app.events.dispatch import process_delivery
from devmetrics_app.events.live_updates import publish_all
from devmetrics_app.jobs import resources

log = logging.getLogger(__name__)

# If the actor itself fails (database unreachable), Dramatiq retries the whole message with
# exponential back-off; per-delivery handler failures are retried by the sweeper instead.
DELIVERY_MAX_RETRIES = 20
DELIVERY_MIN_BACKOFF_MS = 1_000
DELIVERY_MAX_BACKOFF_MS = 5 * 60_000


@dramatiq.actor(queue_name="deliveries", max_retries=DELIVERY_MAX_RETRIES,
                min_backoff=DELIVERY_MIN_BACKOFF_MS, max_backoff=DELIVERY_MAX_BACKOFF_MS)
async def process_deliveries(delivery_ids: list[str]) -> None:
    res = resources.current()
    pool = await res.pool()
    pacer = ingest_priority.pacer()
    for delivery_id in delivery_ids:
        # While serve's web process takes a burst, deliveries are paced (ingest_priority.py).
        async with pacer.turn(), pool.acquire() as conn:
            # Follow-ups go to the outbox in the delivery's transaction; the dispatcher sends them.
            await process_delivery(conn, router, delivery_id,
                                   max_attempts=res.settings.delivery_max_attempts)


@dramatiq.actor(queue_name="live", max_retries=0)
async def publish_live(rooms: list[str], event: dict) -> None:
    """Tell open dashboard pages something changed; a lost message only delays a refresh."""
    await publish_all(resources.current().redis(), rooms, event)


def send_live(rooms: list[str], event: dict) -> None:
    publish_live.send(rooms, event)
