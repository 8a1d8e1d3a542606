"""The same pipeline on both Dramatiq brokers: Redis (the default) and RabbitMQ (BROKER_URL=amqp://).

The whole worker suite runs on RabbitMQ with TEST_BROKER_URL=amqp://...; this test runs on both
in every run, so neither broker can rot unnoticed. RabbitMQ is skipped, saying so, where none runs.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import dramatiq
import orjson
import payloads
import pytest
from conftest import running_worker, wait_for

from devmetrics_app.jobs import broker as broker_module
from devmetrics_app.store.deliveries import IncomingDelivery, insert_batch

RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
BURST = 20


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=1):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def on_broker(redis_url: str, broker_url: str) -> Iterator[dramatiq.Broker]:
    """Move every actor onto a fresh broker for the test, and back to the session's after it."""
    previous = dramatiq.get_broker()
    broker = broker_module.configure(redis_url, namespace=f"devmetrics-test-{uuid.uuid4().hex[:8]}",
                                     broker_url=broker_url)
    try:
        yield broker
    finally:
        broker.flush_all()
        for name in broker.get_declared_actors():
            broker.get_actor(name).broker = previous
        dramatiq.set_broker(previous)
        broker.close()


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
async def test_a_burst_is_processed_once_each_on(kind: str, settings, pool, redis_url: str) -> None:
    if kind == "rabbitmq" and not _reachable(RABBITMQ_URL):
        pytest.skip(f"no RabbitMQ at {RABBITMQ_URL} (set TEST_RABBITMQ_URL)")
    broker_url = RABBITMQ_URL if kind == "rabbitmq" else ""
    batch = [IncomingDelivery(
        delivery_id=str(uuid.uuid4()), event="pull_request", action="opened",
        installation_id=4242, hook_id=None, content_type="application/json",
        body=orjson.dumps(payloads.pull_request_event(
            "opened", payloads.pull_request(n, repo=payloads.REPO_API))))
        for n in range(1, BURST + 1)]
    with on_broker(redis_url, broker_url) as broker, running_worker(settings, broker):
        assert type(broker).__name__ == ("RabbitmqBroker" if kind == "rabbitmq" else "RedisBroker")
        async with pool.acquire() as conn:
            await insert_batch(conn, batch)
        await wait_for(lambda: pool.fetchval(
            "SELECT count(*) = $1 FROM webhook_deliveries WHERE status = 'processed'", BURST),
            timeout=60)
    assert await pool.fetchval("SELECT max(attempts) FROM webhook_deliveries") == 1
    assert await pool.fetchval("SELECT count(*) FROM pull_requests") == BURST
