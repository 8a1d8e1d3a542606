"""The aiohttp application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from aiohttp import web

from devmetrics_app.config import Settings
from devmetrics_app.db import create_pool
from devmetrics_app.store.delivery_writer import DeliveryWriter
from devmetrics_app.web import health, webhook
from devmetrics_app.web.keys import POOL, REDIS, SETTINGS, WRITER, Enqueue

log = logging.getLogger(__name__)

WEB_POOL_MAX = 10


def create_app(
    settings: Settings, *, database_url: str, redis_url: str, enqueue: Enqueue | None = None
) -> web.Application:
    """`enqueue(delivery_ids)` hands stored deliveries to the workers; it is called from a
    thread so a slow or absent Redis never delays a webhook's answer."""
    app = web.Application(client_max_size=settings.webhook_max_bytes)
    app[SETTINGS] = settings

    async def resources(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool(database_url, max_size=WEB_POOL_MAX)
        app[POOL] = pool
        app[REDIS] = aioredis.from_url(redis_url)
        app[WRITER] = DeliveryWriter(pool, on_stored=_background(enqueue) if enqueue else None)
        yield
        await app[REDIS].aclose()
        await pool.close()

    app.cleanup_ctx.append(resources)
    app.router.add_post("/api/webhooks/github", webhook.receive)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    return app


def _background(enqueue: Enqueue):
    def schedule(delivery_ids: list[str]) -> None:
        future = asyncio.get_running_loop().run_in_executor(None, enqueue, delivery_ids)
        future.add_done_callback(_log_enqueue_failure)
    return schedule


def _log_enqueue_failure(future: asyncio.Future) -> None:
    if future.cancelled() or future.exception() is None:
        return
    log.warning("enqueue failed (%s); the sweeper will enqueue these deliveries",
                future.exception())
