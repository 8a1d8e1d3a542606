"""The nightly prune of processed delivery bodies (store/retention.py), sent by the scheduler."""

from __future__ import annotations

import logging

import dramatiq

from devmetrics_app.jobs import resources
from devmetrics_app.store.retention import prune_bodies

log = logging.getLogger(__name__)

PRUNE_TIME_LIMIT_MS = 60 * 60 * 1000


@dramatiq.actor(queue_name="maintenance", max_retries=3, time_limit=PRUNE_TIME_LIMIT_MS)
async def prune_delivery_bodies() -> None:
    res = resources.current()
    days = res.settings.delivery_retention_days
    if days <= 0:
        return
    pruned = await prune_bodies(await res.pool(), days=days)
    log.info("pruned %d processed delivery bodies older than %d days", pruned, days)


def send_prune() -> None:
    prune_delivery_bodies.send()
