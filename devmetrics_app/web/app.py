"""The aiohttp application factory."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator

import aiohttp
import aiohttp_jinja2
import dramatiq
import jinja2
import redis.asyncio as aioredis
from aiohttp import web

from devmetrics_app.config import Settings
from devmetrics_app.crypto import SecretBox
from devmetrics_app.db import create_pool
from devmetrics_app.github.client import GitHubClients
from devmetrics_app.github.oauth import OAuthClient
from devmetrics_app.github.provider import CredentialsProvider
from devmetrics_app.ingest_priority import Board, IngestMeter
from devmetrics_app.observability import endpoint as observability
from devmetrics_app.project_files import project_path
from devmetrics_app.store.delivery_writer import DeliveryWriter
from devmetrics_app.web import auth, dashboard, demo_access, health, pages, setup, throttle, webhook
from devmetrics_app.web.api import (
    analytics,
    installations,
    metrics,
    notifications,
    openapi,
    pull_requests,
    repositories,
)
from devmetrics_app.web.body_reader import LARGE_BODY_SLOTS_KEY, new_large_body_slots
from devmetrics_app.web.dashboard import live
from devmetrics_app.web.headers import set_headers
from devmetrics_app.web.identity import identity_middleware
from devmetrics_app.web.keys import (
    BOX,
    CREDENTIALS,
    GITHUB,
    HTTP,
    INGEST_METER,
    OAUTH,
    POOL,
    REDIS,
    SEND,
    SESSIONS,
    SETTINGS,
    WRITER,
)
from devmetrics_app.web.outage import outage_middleware
from devmetrics_app.web.server import body_deadline
from devmetrics_app.web.sessions import SessionStore

log = logging.getLogger(__name__)

WEB_POOL_MAX = 10
OUTBOUND_TIMEOUT = aiohttp.ClientTimeout(total=30)


def create_app(settings: Settings, *, database_url: str, redis_url: str,
               ingest_board: Board | None = None) -> web.Application:
    """The web process stores webhooks; workers learn of them from PostgreSQL (jobs/dispatcher.py),
    so no Redis call sits on the webhook path. With `ingest_board` (serve with its workers), the
    web tells them when a burst arrives (ingest_priority.py)."""
    app = web.Application(client_max_size=settings.webhook_max_bytes,
                          middlewares=[outage_middleware, identity_middleware])
    app[SETTINGS] = settings
    app[BOX] = SecretBox(settings.secret_key.get())
    app[LARGE_BODY_SLOTS_KEY] = new_large_body_slots()
    app.middlewares.append(body_deadline)  # innermost: only bodies a handler reads are timed
    # CSP and the other security headers, HSTS, Cache-Control: no-store, on every response.
    app.on_response_prepare.append(set_headers)
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(project_path("templates")),
                         autoescape=jinja2.select_autoescape(default=True))

    async def resources(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool(database_url, max_size=WEB_POOL_MAX)
        app[POOL] = pool
        app[REDIS] = aioredis.from_url(redis_url)
        app[HTTP] = aiohttp.ClientSession(timeout=OUTBOUND_TIMEOUT)
        app[SESSIONS] = SessionStore(app[REDIS], settings.secret_key.get())
        app[CREDENTIALS] = CredentialsProvider(settings, pool, app[BOX])
        app[OAUTH] = _oauth_factory(app)
        app[GITHUB] = GitHubClients(session=app[HTTP], redis=app[REDIS], settings=settings,
                                    credentials=app[CREDENTIALS])
        app[SEND] = _send_actor
        app[WRITER] = DeliveryWriter(pool)
        yield
        await app[WRITER].close()
        await app[HTTP].close()
        await app[REDIS].aclose()
        await pool.close()

    app.cleanup_ctx.append(resources)
    if ingest_board is not None and settings.ingest_priority_rate:
        app[INGEST_METER] = IngestMeter(ingest_board, settings.ingest_priority_rate)
        app.cleanup_ctx.append(_metering)
    live.setup(app)  # after resources: it subscribes with app[REDIS]; adds GET /api/live
    app.router.add_post("/api/webhooks/github", webhook.receive)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_routes(auth.routes)
    app.router.add_routes(setup.routes)
    app.router.add_routes(pages.routes)
    for module in (installations, repositories, metrics, pull_requests, analytics, notifications,
                   openapi, dashboard):
        app.router.add_routes(module.routes)
    app.router.add_static("/static", project_path("templates") / "static")
    observability.setup(app)  # GET /metrics, and request durations for every route
    throttle.setup(app)  # API rate limits (429) and webhook deferral, shared through Redis
    if settings.demo:
        demo_access.setup(app)
    return app


async def _metering(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.get_running_loop().create_task(app[INGEST_METER].run())
    yield
    task.cancel()


def _oauth_factory(app: web.Application):
    settings = app[SETTINGS]

    async def oauth() -> OAuthClient | None:
        creds = await app[CREDENTIALS]()
        client_id = settings.github_client_id or (creds.client_id if creds else "")
        client_secret = (settings.github_client_secret.get()
                         or (creds.client_secret.get() if creds else ""))
        if not client_id or not client_secret:
            return None
        return OAuthClient(session=app[HTTP], github_url=settings.github_url,
                           api_url=settings.github_api_url, client_id=client_id,
                           client_secret=client_secret)
    return oauth


async def _send_actor(actor_name: str, **kwargs: object) -> None:
    """Enqueue a Dramatiq actor by name (its Redis client is synchronous: use a thread)."""
    actor = dramatiq.get_broker().get_actor(actor_name)
    await asyncio.get_running_loop().run_in_executor(
        None, functools.partial(actor.send_with_options, kwargs=kwargs))
