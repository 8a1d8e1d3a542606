"""The Dramatiq broker.

Actors are declared at import time, but the Redis URL is only known once settings are loaded
(and an embedded Redis perhaps started). Until `configure()` runs, actors are declared on a
placeholder StubBroker; `configure()` moves them onto the real broker: Redis by default, or
RabbitMQ when BROKER_URL is an amqp:// URL (durable queues and publisher confirms, for operators
who already run it or want the queues out of the Redis that holds sessions and caches).
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO, TimeLimit

from devmetrics_app import ingest_priority
from devmetrics_app.jobs.outbox_sender import RunOnce
from devmetrics_app.jobs.queue_groups import CORE_QUEUES

DEFAULT_NAMESPACE = "devmetrics"
AMQP_SCHEMES = frozenset({"amqp", "amqps"})


class SharedAsyncIO(AsyncIO):
    """Dramatiq's AsyncIO middleware for several workers in one process (`queue_groups`): the
    stock one starts an event loop per worker boot and stops the (global) loop at the first
    shutdown. Here the first worker to boot starts the one loop, the last to stop stops it, so
    every actor -- and the pool and clients created on that loop -- shares it."""

    def __init__(self) -> None:
        super().__init__()
        self._workers = 0
        self._lock = threading.Lock()

    def before_worker_boot(self, broker, worker):
        with self._lock:
            self._workers += 1
            if self._workers == 1:
                super().before_worker_boot(broker, worker)

    def after_worker_shutdown(self, broker, worker):
        with self._lock:
            self._workers -= 1
            if self._workers == 0:
                super().after_worker_shutdown(broker, worker)


_placeholder = StubBroker()
_placeholder.add_middleware(SharedAsyncIO())
dramatiq.set_broker(_placeholder)


def configure(redis_url: str, *, namespace: str = DEFAULT_NAMESPACE,
              broker_url: str = "") -> dramatiq.Broker:
    """Point every declared actor at the broker for `broker_url` (amqp:// for RabbitMQ), or at
    Redis (`broker_url` if it is a Redis URL, else `redis_url`)."""
    # Importing the actor modules declares them (on whichever broker is current).
    from devmetrics_app.jobs import (  # noqa: F401
        actors,
        imports,
        notify_actors,
        retention,
        review,
        rollups,
    )

    current = dramatiq.get_broker()
    broker = _make_broker(broker_url or redis_url, namespace=namespace)
    broker.add_middleware(SharedAsyncIO())
    broker.add_middleware(RunOnce(redis.Redis.from_url(redis_url)))
    # Waiting for a turn must not count against a job's time limit.
    broker.add_middleware(ingest_priority.PacingMiddleware(
        ingest_priority.pacer, queues=frozenset(CORE_QUEUES) - {"deliveries"}), before=TimeLimit)
    for name in current.get_declared_actors():
        actor = current.get_actor(name)
        actor.broker = broker
        broker.declare_actor(actor)
    dramatiq.set_broker(broker)
    return broker


def queue_depth(queue: str, broker: dramatiq.Broker | None = None) -> int:
    """Messages waiting in `queue` (ready or delayed) on the configured broker; 0 where the
    broker cannot say (the stub). Blocking: call it from a thread."""
    broker = broker or dramatiq.get_broker()
    counts = getattr(broker, "get_queue_message_counts", None)
    if counts is not None:  # RabbitMQ: (ready, delayed, dead-lettered)
        ready, delayed, _ = counts(queue)
        return ready + delayed
    if hasattr(broker, "client"):  # Redis: one list per queue
        return int(broker.client.llen(f"{broker.namespace}:{queue}"))
    return 0


def _make_broker(url: str, *, namespace: str) -> dramatiq.Broker:
    if urlsplit(url).scheme in AMQP_SCHEMES:
        # Imported here: pika is needed only by those who choose RabbitMQ. Queue names carry no
        # namespace there: give each deployment its own virtual host instead.
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url, confirm_delivery=True)
    return RedisBroker(url=url, namespace=namespace)
