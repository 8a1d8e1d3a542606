"""GET /api/metrics/*: one figure family per endpoint, computed by metrics/read/ via metrics.service.

Every answer has the same envelope: `metric`, `query` (what it was computed over: installation,
period, repositories, team) and `result` (the service's figures; with `?explain=true`, the items
behind each figure and the excluded ones with their reasons). Long explain lists (cycle time,
deployments) come in pages of the service's EXPLAIN_LIMIT: pass `next_cursor` back as `cursor`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiohttp import web

from devmetrics_app.metrics import service
from devmetrics_app.store import issues
from devmetrics_app.web import responses
from devmetrics_app.web.api.freshness import freshness, stamp
from devmetrics_app.web.api.params import bad_request
from devmetrics_app.web.api.query import (
    MetricQuery,
    computed,
    decode_cursor,
    encode_cursor,
    installation_of,
    metric_query,
    parse_id,
    single,
)
from devmetrics_app.web.api.serialize import to_json
from devmetrics_app.web.keys import POOL, REDIS
from devmetrics_app.web.tenancy import not_found

routes = web.RouteTableDef()

EXPLAIN_CURSOR = "explain:"

Compute = Callable[..., Awaitable[Any]]


async def envelope(request: web.Request, name: str, query: MetricQuery, result: Any) -> web.Response:
    """The answer (a typed report from metrics/read, or its JSON already) with `as_of` and
    `pending` (freshness.py) on it and on each of its figures."""
    async with request.app[POOL].acquire() as conn:
        fresh = await freshness(conn, request.app.get(REDIS), query.installation_id, query.repository_ids)
    return responses.json({"metric": name, "query": {**query.echo(), "explain": query.explain},
                           **fresh.to_dict(),
                           "result": stamp(to_json(result, explain=query.explain), fresh)})


def _explain_offset(request: web.Request, name: str, query: MetricQuery) -> dict[str, str]:
    """The service pages long explain lists by offset; the API hands that out as its usual
    signed cursor, bound to this metric."""
    position = decode_cursor(request, EXPLAIN_CURSOR + name)
    if position is None:
        return {}
    offset, _ = position
    if not query.explain:
        raise bad_request("cursor", "pages the explained items: only with explain=true")
    if not isinstance(offset, int) or offset < 0:
        raise bad_request("cursor", "invalid position")
    return {"cursor": str(offset)}


async def _explained(request: web.Request, name: str, compute: Compute, *,
                     paged: bool = False) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        query = await metric_query(request, conn)
        extra = _explain_offset(request, name, query) if paged else {}
        result = to_json(await computed(compute(conn, query.scope(), explain=query.explain, **extra)),
                         explain=query.explain)
    if paged and result.get("next_cursor") is not None:
        result["next_cursor"] = encode_cursor(request, EXPLAIN_CURSOR + name,
                                              int(result["next_cursor"]), 0)
    return await envelope(request, name, query, result)


@routes.get("/api/metrics/velocity")
async def velocity(request: web.Request) -> web.Response:
    return await _explained(request, "velocity", service.velocity)


@routes.get("/api/metrics/cycle-time")
async def cycle_time(request: web.Request) -> web.Response:
    return await _explained(request, "cycle-time", service.cycle_time, paged=True)


@routes.get("/api/metrics/deployment")
async def deployment(request: web.Request) -> web.Response:
    return await _explained(request, "deployment", service.deployments, paged=True)


@routes.get("/api/metrics/build-success")
async def build_success(request: web.Request) -> web.Response:
    return await _explained(request, "build-success", service.build_success)


@routes.get("/api/metrics/dora")
async def dora(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        query = await metric_query(request, conn)
    # The four keys at once, each on its own connection (none held while waiting for another).
    result = await computed(service.dora_concurrently(request.app[POOL], query.scope(),
                                                      explain=query.explain))
    return await envelope(request, "dora", query, result)


async def _milestone(request: web.Request, conn: asyncpg.Connection, installation_id: int) -> int:
    raw = single(request, "milestone")
    if raw is None:
        raise bad_request("milestone", "required: the milestone (sprint) id")
    milestone_id = parse_id("milestone", raw)
    if not await issues.has_live_milestone(conn, installation_id, milestone_id):
        raise not_found()
    return milestone_id


@routes.get("/api/metrics/burndown")
async def burndown(request: web.Request) -> web.Response:
    """Remaining points per day of one milestone against the ideal line."""
    async with request.app[POOL].acquire() as conn:
        installation_id, _ = await installation_of(request)
        milestone_id = await _milestone(request, conn, installation_id)
        query = await metric_query(request, conn, installation_id=installation_id)
        result = await computed(service.burndown(conn, query.scope(), milestone_id))
    if result is None:
        raise not_found()
    # Always explained: a burndown lists its (few) issues whatever `explain` says.
    return await envelope(request, "burndown", query, {"milestone": milestone_id,
                                                       **to_json(result, explain=True)})
