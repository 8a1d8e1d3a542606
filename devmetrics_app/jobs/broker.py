"""The Dramatiq broker.

Actors are declared at import time, but the Redis URL is only known once settings are loaded
(and an embedded Redis perhaps started). Until `configure()` runs, actors are declared on a
placeholder StubBroker; `configure()` moves them onto the real broker: Redis by default, or
RabbitMQ when BROKER_URL is an amqp:// URL (durable queues and publisher confirms, for operators
who already run it or want the queues out of the Redis that holds sessions and caches).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

DEFAULT_NAMESPACE = "devmetrics"
AMQP_SCHEMES = frozenset({"amqp", "amqps"})

_placeholder = StubBroker()
_placeholder.add_middleware(AsyncIO())
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
    broker.add_middleware(AsyncIO())
    for name in current.get_declared_actors():
        actor = current.get_actor(name)
        actor.broker = broker
        broker.declare_actor(actor)
    dramatiq.set_broker(broker)
    return broker


def _make_broker(url: str, *, namespace: str) -> dramatiq.Broker:
    if urlsplit(url).scheme in AMQP_SCHEMES:
        # Imported here: pika is needed only by those who choose RabbitMQ. Queue names carry no
        # namespace there: give each deployment its own virtual host instead.
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url, confirm_delivery=True)
    return RedisBroker(url=url, namespace=namespace)
