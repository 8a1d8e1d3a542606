"""The Dramatiq broker.

Actors are declared at import time, but the Redis URL is only known once settings are loaded
(and an embedded Redis perhaps started). Until `configure()` runs, actors are declared on a
placeholder StubBroker; `configure()` moves them onto the real Redis broker.
"""

from __future__ import annotations

import threading

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

from devmetrics_app.jobs.outbox_sender import RunOnce

DEFAULT_NAMESPACE = "devmetrics"


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


def configure(redis_url: str, *, namespace: str = DEFAULT_NAMESPACE) -> RedisBroker:
    """Point every declared actor at the Redis broker for `redis_url`."""
    # Importing the actor modules declares them (on whichever broker is current).
    from devmetrics_app.jobs import (  # noqa: F401
        actors,
        imports,
        notify_actors,
        review,
        rollups,
    )

    current = dramatiq.get_broker()
    broker = RedisBroker(url=redis_url, namespace=namespace)
    broker.add_middleware(SharedAsyncIO())
    broker.add_middleware(RunOnce())
    for name in current.get_declared_actors():
        actor = current.get_actor(name)
        actor.broker = broker
        broker.declare_actor(actor)
    dramatiq.set_broker(broker)
    return broker
