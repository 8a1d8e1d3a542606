"""GET /healthz (the process answers) and GET /readyz (its database and Redis answer)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from devmetrics_app import __version__
from devmetrics_app.web import responses
from devmetrics_app.web.keys import POOL, REDIS

CHECK_TIMEOUT_SECONDS = 2.0


async def healthz(request: web.Request) -> web.Response:
    return responses.json({"status": "ok", "version": __version__})


async def _check(coro) -> str:
    try:
        await asyncio.wait_for(coro, CHECK_TIMEOUT_SECONDS)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


async def readyz(request: web.Request) -> web.Response:
    checks = {
        "database": await _check(request.app[POOL].fetchval("SELECT 1")),
        "redis": await _check(request.app[REDIS].ping()),
    }
    ready = all(v == "ok" for v in checks.values())
    return responses.json({"status": "ok" if ready else "unavailable", "checks": checks},
                          status=200 if ready else 503)
