"""GET /healthz (the process answers) and GET /readyz (its database and Redis answer, and the
embedded servers this process supervises are running)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from devmetrics_app import __version__
from devmetrics_app.embedded_supervisor import EmbeddedSupervisor
from devmetrics_app.web import responses
from devmetrics_app.web.keys import POOL, REDIS

CHECK_TIMEOUT_SECONDS = 2.0
# Set by `devmetrics serve` when it started embedded servers (embedded_supervisor.py).
SUPERVISOR = web.AppKey("embedded_supervisor", EmbeddedSupervisor)


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
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    supervisor = request.app.get(SUPERVISOR)
    if supervisor is not None:
        body["embedded"] = supervisor.states()
        ready = ready and supervisor.all_running()
        body["status"] = "ok" if ready else "unavailable"
    return responses.json(body, status=200 if ready else 503)
