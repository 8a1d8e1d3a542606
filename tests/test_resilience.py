"""Nothing is lost: a worker killed mid-stream, and Redis down while webhooks arrive.

These run the real commands (`devmetrics serve`, `devmetrics worker`) as separate processes
against the test database and a private Redis, and post signed webhooks over HTTP.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import payloads
import pytest
from conftest import WEBHOOK_SECRET, signed_headers, wait_for
from processes import PrivateRedis, Process, devmetrics, free_port

DELIVERY_COUNT = 240


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def private_redis(data_dir: Path, log_dir: Path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(data_dir / f"redis-{os.getpid()}-{id(log_dir)}", log_dir)
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def process_env(settings, private_redis: PrivateRedis, private_key_pem: str) -> dict[str, str]:
    return {
        **os.environ,
        "DEVMETRICS_ENV": "test",
        "DEVMETRICS_DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": settings.database_url.get(),
        "REDIS_URL": private_redis.url,
        "SECRET_KEY": settings.secret_key.get(),
        "GITHUB_APP_ID": "12345",
        "GITHUB_PRIVATE_KEY": private_key_pem,
        "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SWEEP_INTERVAL_SECONDS": "0.3",
        "SWEEP_GRACE_SECONDS": "1",
        "WORKER_THREADS": "4",
        "LOG_LEVEL": "INFO",
    }


@pytest.fixture
async def web(process_env: dict[str, str], log_dir: Path) -> Iterator[str]:
    port = free_port()
    process = devmetrics("web", "serve", "--no-worker", "--port", str(port), env=process_env,
                         log_dir=log_dir)
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        async def up() -> bool:
            assert process.alive(), process.output()
            try:
                async with session.get(url + "/healthz") as response:
                    return response.status == 200
            except aiohttp.ClientConnectionError:
                return False
        await wait_for(up, timeout=30)
    yield url
    process.stop()


def opened(number: int) -> dict:
    pr = payloads.pull_request(10_000 + number, repo=payloads.REPO_API, user=payloads.ALICE,
                               title=f"Change {number}", head_ref=f"change-{number}")
    return payloads.pull_request_event("opened", pr)


async def post_all(url: str, numbers: range, *, concurrency: int = 8) -> list[int]:
    statuses: list[int] = []
    queue = list(numbers)
    async with aiohttp.ClientSession() as session:
        async def sender() -> None:
            while queue:
                number = queue.pop(0)
                body = orjson.dumps(opened(number))
                headers = signed_headers("pull_request", body, delivery_id=f"stream-{number}")
                async with session.post(url + "/api/webhooks/github", data=body,
                                        headers=headers) as response:
                    statuses.append(response.status)
        await asyncio.gather(*(sender() for _ in range(concurrency)))
    return statuses


async def processed(pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'processed'")


async def test_worker_killed_mid_stream_loses_nothing(pool, web, process_env, log_dir) -> None:
    worker: Process = devmetrics("worker-1", "worker", env=process_env, log_dir=log_dir)
    try:
        sending = asyncio.create_task(post_all(web, range(DELIVERY_COUNT)))
        await wait_for(lambda: _at_least(pool, 40), timeout=60)
        worker.kill()
        statuses = await sending
        assert statuses == [202] * DELIVERY_COUNT
        assert await processed(pool) < DELIVERY_COUNT  # the rest waits for a worker
        worker = devmetrics("worker-2", "worker", env=process_env, log_dir=log_dir)
        await wait_for(lambda: _at_least(pool, DELIVERY_COUNT), timeout=90)
    finally:
        worker.stop()
    assert await pool.fetchval("SELECT count(*) FROM pull_requests") == DELIVERY_COUNT
    assert await pool.fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE status <> 'processed'") == 0


async def test_redis_down_while_webhooks_arrive(pool, web, process_env, log_dir,
                                                private_redis: PrivateRedis) -> None:
    worker = devmetrics("worker", "worker", env=process_env, log_dir=log_dir)
    try:
        assert await post_all(web, range(20)) == [202] * 20
        await wait_for(lambda: _at_least(pool, 20), timeout=60)
        private_redis.stop()
        # Webhooks keep being accepted: durability is PostgreSQL's job, not Redis's.
        assert await post_all(web, range(20, 80)) == [202] * 60
        assert await processed(pool) == 20
        private_redis.start()
        await wait_for(lambda: _at_least(pool, 80), timeout=90)
    finally:
        worker.stop()
    assert await pool.fetchval("SELECT count(*) FROM pull_requests") == 80


async def _at_least(pool, count: int) -> bool:
    return await processed(pool) >= count
