"""The real app (create_app: API and dashboard) serving over loopback HTTP in the benchmark's own
process, with one signed-in user of the synthetic organisation (benchmarks/metrics_queries.py).

The session is made directly in Redis (the OAuth dance is not what is measured) and the user's
GitHub installation list is pre-cached as web/tenancy.py would cache it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import orjson
from aiohttp.test_utils import TestClient, TestServer

from devmetrics_app.config import load_settings
from devmetrics_app.web.app import create_app
from devmetrics_app.web.keys import POOL, REDIS, SESSIONS
from devmetrics_app.web.sessions import SESSION_COOKIE


@asynccontextmanager
async def signed_in_client(
    url: str, redis_url: str, data_dir: Path, installation_id: int
) -> AsyncIterator[TestClient]:
    settings = load_settings({"DEVMETRICS_ENV": "test", "DEVMETRICS_DATA_DIR": str(data_dir),
                              "DATABASE_URL": url, "REDIS_URL": redis_url,
                              "SECRET_KEY": "bench-secret-key-0123456789",
                              "PUBLIC_URL": "http://127.0.0.1",
                              # One session times every endpoint many times: the API limit
                              # (100 a minute per session) would answer 429 after a few.
                              "API_RATE_LIMIT_PER_MINUTE": "0"},
                             dotenv=False)
    app = create_app(settings, database_url=url, redis_url=redis_url)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        user = await app[POOL].fetchrow("SELECT id, login FROM users WHERE type = 'User' ORDER BY id DESC")
        await app[REDIS].set(f"devmetrics:user-installations:{user['id']}",
                             orjson.dumps([installation_id]), ex=3600)
        session = await app[SESSIONS].create(user_id=user["id"], login=user["login"])
        client.session.cookie_jar.update_cookies({SESSION_COOKIE: session.id})
        yield client
    finally:
        await client.close()


async def timed_get(client: TestClient, path: str, runs: int, *, warm: int = 2) -> tuple[float, float]:
    """Median and p95 milliseconds from request to the last byte, after `warm` untimed requests."""
    samples = []
    for _ in range(runs + warm):
        began = time.perf_counter()
        response = await client.get(path)
        body = await response.read()
        samples.append((time.perf_counter() - began) * 1000)
        assert response.status == 200, (path, response.status, body[:500])
    samples = sorted(samples[warm:])
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
