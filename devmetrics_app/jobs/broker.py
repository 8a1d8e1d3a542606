"""The Dramatiq broker.

Actors are declared at import time, but the Redis URL is only known once settings are loaded
(and an embedded Redis perhaps started). Until `configure()` runs, actors are declared on a
placeholder StubBroker; `configure()` moves them onto the real Redis broker.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

from devmetrics_app.jobs.outbox_sender import RunOnce

DEFAULT_NAMESPACE = "devmetrics"

_placeholder = StubBroker()
_placeholder.add_middleware(AsyncIO())
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
    broker.add_middleware(AsyncIO())
    broker.add_middleware(RunOnce())
    for name in current.get_declared_actors():
        actor = current.get_actor(name)
        actor.broker = broker
        broker.declare_actor(actor)
    dramatiq.set_broker(broker)
    return broker
