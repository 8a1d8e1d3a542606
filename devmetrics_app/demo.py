"""`devmetrics demo`: a full dashboard of a simulated organisation, with no GitHub account.

The organisation (`simulation.generate_org`) reaches the app exactly as a real one would: its
webhook deliveries are signed with the demo app's secret and POSTed to the running server, which
stores them; the real workers process them. Only the jobs that would talk to GitHub or Anthropic
as the app (history import, AI review) are not run: the demo app exists nowhere.

The embedded servers hold the demo apart from real data: its own database (emptied at each
start) and its own Redis database. With DATABASE_URL/REDIS_URL set, those are used as given.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
from collections.abc import Sequence

import aiohttp
import asyncpg
import redis
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dramatiq.brokers.redis import RedisBroker

from devmetrics_app import embedded
from devmetrics_app.config import SERVE_HOST, ConfigError, Secret, Settings
from devmetrics_app.runtime import Endpoints
from devmetrics_app.simulation import INSTALLATION_ID, Delivery
from devmetrics_app.web.signature import sign

log = logging.getLogger(__name__)

DEFAULT_SEED = 1
# About 1,200 deliveries over six weeks: every chart has data, and the deliveries are processed in
# about half a minute.
DEFAULT_SCALE = 0.2
DEFAULT_WEEKS = 6
DEMO_DATABASE = "devmetrics_demo"
DEMO_REDIS_DB = 1
DEMO_NAMESPACE = "devmetrics-demo"  # its jobs never reach the workers of a real deployment
DEMO_APP_ID = 1
DEMO_APP_SLUG = "devmetrics-demo"
# Queues whose jobs work only on local data; "imports" and "reviews" would call GitHub as the app.
DEMO_QUEUES = frozenset({"deliveries", "rollups", "notifications", "live"})
# The jobs that compute what the dashboard shows, after the deliveries themselves.
FIGURE_QUEUES = ("rollups",)
POST_CONCURRENCY = 4
PROGRESS_INTERVAL_SECONDS = 1.0
QUIET_POLLS = 3


class DemoError(Exception):
    """The demo could not start or load its organisation; the message says why."""


def demo_settings(settings: Settings, *, public_url: str) -> Settings:
    """The configured settings with a throwaway GitHub App whose webhook secret only the demo knows."""
    if settings.production:
        raise ConfigError("devmetrics demo does not run with DEVMETRICS_ENV=production")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return dataclasses.replace(
        settings, demo=True, public_url=public_url, github_app_id=DEMO_APP_ID,
        github_app_slug=DEMO_APP_SLUG, github_private_key=Secret(pem),
        github_webhook_secret=Secret(secrets.token_urlsafe(32)), github_client_id="",
        github_client_secret=Secret(""))


def demo_endpoints(settings: Settings) -> Endpoints:
    database_url = settings.database_url.get()
    if not database_url:
        database_url = embedded.start_postgres(settings.data_dir, database=DEMO_DATABASE, fresh=True)
    redis_url = settings.redis_url.get()
    if not redis_url:
        redis_url = f"{embedded.start_redis(settings.data_dir)}?db={DEMO_REDIS_DB}"
        redis.Redis.from_url(redis_url).flushdb()
    return Endpoints(database_url=database_url, redis_url=redis_url)


async def ensure_demo_only(database_url: str) -> None:
    """Refuse a database that holds a real organisation: the demo must never mix into real data."""
    conn = await asyncpg.connect(database_url)
    try:
        others = await conn.fetchval("SELECT count(*) FROM installations WHERE id <> $1", INSTALLATION_ID)
    finally:
        await conn.close()
    if others:
        raise DemoError(f"DATABASE_URL holds {others} real installation(s); the demo loads a simulated "
                        "organisation only into an empty database (unset DATABASE_URL to use the "
                        "embedded one)")


async def post_deliveries(base_url: str, secret: str, deliveries: Sequence[Delivery], *,
                          concurrency: int = POST_CONCURRENCY) -> None:
    """POST each delivery to the webhook endpoint as GitHub would, roughly in order."""
    pending = iter(deliveries)

    async def sender(session: aiohttp.ClientSession) -> None:
        for delivery in pending:
            body = delivery.body()
            async with session.post(f"{base_url}/api/webhooks/github", data=body, headers={
                "Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/devmetrics-demo",
                "X-GitHub-Event": delivery.event, "X-GitHub-Delivery": delivery.delivery_id,
                "X-Hub-Signature-256": sign(secret, body),
            }) as response:
                if response.status >= 300:
                    raise DemoError(f"the app refused delivery {delivery.delivery_id} "
                                    f"({delivery.event}): {response.status} {await response.text()}")

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(sender(session) for _ in range(concurrency)))


async def serve_and_load(app: web.Application, *, port: int, deliveries: Sequence[Delivery],
                         broker: RedisBroker | None = None, ready: asyncio.Event | None = None) -> None:
    """Serve the demo on loopback, load the organisation through the webhook endpoint, say when
    the workers are done (with `broker`: figures included), and serve until cancelled (Ctrl-C)."""
    from devmetrics_app.web.keys import POOL, SETTINGS

    settings: Settings = app[SETTINGS]
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, SERVE_HOST, port)
        try:
            await site.start()
        except OSError as exc:
            raise DemoError(f"cannot listen on {SERVE_HOST}:{port} ({exc.strerror}); "
                            "is `devmetrics serve` running? Try --port") from None
        started = time.monotonic()
        print(f"DevMetrics demo on {settings.public_url} : open it in this machine's browser "
              f"(loading {len(deliveries)} webhook deliveries of a simulated organisation)",
              flush=True)
        # The installation first, alone, as on GitHub (it precedes the organisation's activity by
        # far): its handler creates the repositories every other delivery writes under.
        first = next((i for i, d in enumerate(deliveries) if d.event != "installation"), len(deliveries))
        for part in (deliveries[:first], deliveries[first:]):
            await post_deliveries(settings.public_url, settings.github_webhook_secret.get(), part)
            await _wait_processed(app[POOL])
        print(f"{len(deliveries)} deliveries processed in {time.monotonic() - started:.0f} s"
              + ("; computing the figures" if broker is not None else ""), flush=True)
        if broker is not None:
            await _wait_drained(broker, FIGURE_QUEUES)
        print(f"Demo organisation loaded in {time.monotonic() - started:.0f} s; Ctrl-C stops the demo",
              flush=True)
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def _wait_drained(broker: RedisBroker, queues: Sequence[str]) -> None:
    """Until no job is queued, running or waiting to be retried on `queues`, for a few polls in a
    row: a job may still be on its way from a processed delivery to the queue."""
    quiet = 0
    while quiet < QUIET_POLLS:
        sizes = [await asyncio.to_thread(broker.do_qsize, queue) for queue in queues]
        quiet = 0 if any(sizes) else quiet + 1
        await asyncio.sleep(PROGRESS_INTERVAL_SECONDS)


async def _wait_processed(pool) -> None:
    """Until no stored delivery is waiting (the workers signal nothing the web process hears)."""
    while True:
        if not await pool.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'received'"):
            return
        await asyncio.sleep(PROGRESS_INTERVAL_SECONDS)
