"""GET /metrics and the HTTP-duration middleware.

/metrics answers only a scraper that sends `Authorization: Bearer $METRICS_TOKEN`, or, when no
token is configured, only connections from loopback (a sidecar or a node exporter on the host).
Queue depths are sampled on each scrape, so they are as fresh as the scrape interval and cost
nothing between scrapes.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import time

import dramatiq
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from devmetrics_app.jobs.broker import queue_depth
from devmetrics_app.observability import MULTIPROC_ENV
from devmetrics_app.observability.metrics import (
    DELIVERIES_PENDING,
    HTTP_DURATION,
    QUEUE_DEPTH,
    child,
)
from devmetrics_app.web import responses
from devmetrics_app.web.keys import POOL, SETTINGS

log = logging.getLogger(__name__)

LOOPBACK = frozenset({"127.0.0.1", "::1"})
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SAMPLE_TIMEOUT_SECONDS = 5.0
PENDING_SQL = "SELECT count(*) FROM webhook_deliveries WHERE status = 'received'"


def _route(request: web.Request) -> str:
    """The registered pattern ("/api/repositories/{id}"), never the raw path: bounded labels."""
    route = request.match_info.route
    resource = route.resource if route is not None else None
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def http_metrics_middleware(request: web.Request, handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        method = request.method if request.method in KNOWN_METHODS else "OTHER"
        child(HTTP_DURATION, _route(request), method, str(status)).observe(
            time.perf_counter() - started)


def _allowed(request: web.Request) -> bool:
    token = request.app[SETTINGS].metrics_token
    if token:
        scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(supplied.strip().encode(),
                                                                  token.get().encode())
    return request.remote in LOOPBACK


def _broker_queue_depths() -> dict[str, int]:
    """Messages waiting per queue, on whichever broker is configured (blocking: run in a thread)."""
    broker = dramatiq.get_broker()
    return {queue: queue_depth(queue, broker) for queue in sorted(broker.get_declared_queues())}


async def sample_queues(app: web.Application) -> None:
    try:
        pending = await asyncio.wait_for(app[POOL].fetchval(PENDING_SQL), SAMPLE_TIMEOUT_SECONDS)
        DELIVERIES_PENDING.set(pending)
        depths = await asyncio.wait_for(asyncio.to_thread(_broker_queue_depths),
                                        SAMPLE_TIMEOUT_SECONDS)
        for queue, depth in depths.items():
            QUEUE_DEPTH.labels(queue).set(depth)
    except Exception:  # a broker or database hiccup must not hide every other metric
        log.warning("could not sample queue depths", exc_info=True)


def _registry() -> CollectorRegistry:
    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


async def metrics_endpoint(request: web.Request) -> web.Response:
    if not _allowed(request):
        if request.app[SETTINGS].metrics_token:
            return responses.error(401, "bad_token", "send Authorization: Bearer $METRICS_TOKEN")
        return responses.error(403, "forbidden", "set METRICS_TOKEN to scrape from another host")
    await sample_queues(request.app)
    body = await asyncio.to_thread(generate_latest, _registry())
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application) -> None:
    app.middlewares.insert(0, http_metrics_middleware)  # outermost: times every answer
    app.router.add_get("/metrics", metrics_endpoint)
