"""PostgreSQL or Redis unreachable: answer 503 with Retry-After instead of a 500.

A request that needs a backing service while it is down (restarting, failed over, its network
gone) fails with a connection error or a timeout deep inside some handler. That is not a bug
in the request: tell the client to come back, in the shape it expects (JSON under /api/, a
page elsewhere), and log one line rather than a traceback per request.
"""

from __future__ import annotations

import logging

import aiohttp
import asyncpg
import redis.exceptions
from aiohttp import web

from devmetrics_app.web import responses

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 10
API_PREFIX = "/api/"

DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,      # class 08: the connection failed or was lost
    asyncpg.InterfaceError,               # includes "connection is closed"
    asyncpg.CannotConnectNowError,        # starting up or shutting down
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)
REDIS_ERRORS: tuple[type[BaseException], ...] = (redis.exceptions.ConnectionError,
                                                 redis.exceptions.TimeoutError)
# Refused, reset, unreachable, or a connect / pool timeout: only when no outbound HTTP call
# (GitHub, Slack...) raised it, which is that service's failure, not ours.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)


def unavailable_service(exc: BaseException) -> str | None:
    """'database' or 'redis' when `exc` (or what caused it) says that service is unreachable."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if isinstance(current, DATABASE_ERRORS):
            return "database"
        if isinstance(current, REDIS_ERRORS):
            return "redis"
        if isinstance(current, NETWORK_ERRORS) and not isinstance(current, aiohttp.ClientError):
            return "database"
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def unavailable(request: web.Request, service: str) -> web.Response:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.path.startswith(API_PREFIX):
        response = responses.error(503, f"{service}_unavailable",
                                   f"the {service} is unavailable; try again shortly")
    else:
        response = web.Response(
            status=503, content_type="text/html",
            text="<!doctype html><title>Unavailable</title><h1>DevMetrics is unavailable</h1>"
                 "<p>Its database or cache cannot be reached. Try again in a moment.</p>")
    response.headers.update(headers)
    return response


@web.middleware
async def outage_middleware(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        service = unavailable_service(exc)
        if service is None:
            raise
        log.warning("%s unavailable answering %s %s: %s", service, request.method, request.path,
                    type(exc).__name__)
        return unavailable(request, service)
