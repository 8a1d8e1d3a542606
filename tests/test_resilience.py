"""Nothing is lost: a worker killed mid-stream, and Redis down while webhooks arrive.

These run the real commands (`devmetrics serve`, `devmetrics worker`) as separate processes
against the test database and a private Redis, and post signed webhooks over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import dramatiq
import orjson
import payloads
import pytest
import redis
from conftest import WEBHOOK_SECRET, running_worker, signed_headers, wait_for
from processes import PrivateRedis, Process, app_env, devmetrics, free_port, healthy

from devmetrics_app.jobs import broker as broker_module
from devmetrics_app.jobs import resources
from devmetrics_app.jobs.actors import process_deliveries
from devmetrics_app.store.deliveries import IncomingDelivery, insert_batch

DELIVERY_COUNT = 240


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def process_env(settings, private_redis: PrivateRedis, private_key_pem: str) -> dict[str, str]:
    return app_env(settings, redis_url=private_redis.url, private_key_pem=private_key_pem,
                   webhook_secret=WEBHOOK_SECRET)


@pytest.fixture
async def web(process_env: dict[str, str], log_dir: Path) -> Iterator[str]:
    port = free_port()
    process = devmetrics("web", "serve", "--no-worker", "--port", str(port), env=process_env,
                         log_dir=log_dir)
    url = f"http://127.0.0.1:{port}"
    await wait_for(lambda: healthy(url, process), timeout=30)
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


@pytest.fixture
def private_broker(private_redis: PrivateRedis, broker):
    """Every actor on a broker of the private Redis (which the test may stop); the session's
    broker is put back afterwards."""
    own = broker_module.configure(private_redis.url, namespace=f"outbox-{uuid.uuid4().hex[:8]}")
    yield own
    for name in own.get_declared_actors():
        own.get_actor(name).broker = broker
    dramatiq.set_broker(broker)


async def test_followups_survive_redis_failing_after_commit(pool, settings, private_redis,
                                                            private_broker) -> None:
    """The delivery commits as processed, then Redis is unreachable for its follow-ups: they
    wait in the outbox and run (the rollup here) once Redis is back."""
    body = orjson.dumps(opened(1))
    async with pool.acquire() as conn:
        await insert_batch(conn, [IncomingDelivery(
            delivery_id="after-commit", event="pull_request", action="opened",
            installation_id=payloads.ORG_INSTALLATION_ID, hook_id=None,
            content_type="application/json", body=body)])
    private_redis.stop()
    resources.install(resources.WorkerResources(settings, settings.database_url.get()))
    try:
        with contextlib.suppress(redis.ConnectionError):
            # The actor's own body, run here as a worker would while Redis is down.
            await process_deliveries.fn.__wrapped__(["after-commit"])
    finally:
        await resources.current().close()
    assert await processed(pool) == 1

    private_redis.start()
    with running_worker(settings, private_broker):
        async def rolled_up() -> bool:
            return await pool.fetchval("SELECT count(*) FROM repository_stats WHERE repository_id = $1",
                                       payloads.REPO_API["id"]) > 0
        await wait_for(rolled_up, timeout=60)
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
