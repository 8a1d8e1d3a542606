"""GET /api/analytics/*: the team, one person, one repository, and trends over time.

Path ids are checked against the installation before any query parameter is validated: asking
about another installation's person or repository is 404 whatever else the request says.
"""

from __future__ import annotations

import asyncpg
from aiohttp import web

from devmetrics_app.metrics import service
from devmetrics_app.store import members
from devmetrics_app.web.api.metrics import envelope
from devmetrics_app.web.api.params import bad_request, path_id
from devmetrics_app.web.api.query import (
    MetricQuery,
    choice,
    computed,
    installation_of,
    metric_query,
    parse_id,
    single,
)
from devmetrics_app.web.api.repositories import visible_repository
from devmetrics_app.web.api.serialize import to_json
from devmetrics_app.web.keys import POOL
from devmetrics_app.web.tenancy import not_found

routes = web.RouteTableDef()

@routes.get("/api/analytics/team")
async def team(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        query = _unexplained(await metric_query(request, conn))
        result = await computed(service.team_analytics(conn, query.scope()))
    return await envelope(request, "team", query, result)


def _unexplained(query: MetricQuery) -> MetricQuery:
    """The analytics views are tables of figures, not one figure: `explain` has nothing to list
    here, so asking for it is an error rather than silently ignored."""
    if query.explain:
        raise bad_request("explain", "not offered by analytics; use /api/metrics/* with explain=true")
    return query


async def _known_user(conn: asyncpg.Connection, installation_id: int, user_id: int) -> None:
    if not await members.belongs_to_installation(conn, installation_id, user_id):
        raise not_found()


@routes.get("/api/analytics/individual/{user_id}")
async def individual(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    async with request.app[POOL].acquire() as conn:
        installation_id, _ = await installation_of(request)
        await _known_user(conn, installation_id, user_id)
        query = _unexplained(await metric_query(request, conn, installation_id=installation_id))
        result = await computed(service.individual_analytics(conn, query.scope(), user_id))
    if result is None:
        raise not_found()
    return await envelope(request, "individual", query,
                          {"user": user_id, **to_json(result, explain=query.explain)})


@routes.get("/api/analytics/repository/{repository_id}")
async def repository(request: web.Request) -> web.Response:
    """Scoped by the repository's own installation; a different `installation` is 404."""
    repo = await visible_repository(request)
    raw = single(request, "installation")
    if raw is not None and parse_id("installation", raw) != repo["installation_id"]:
        raise not_found()
    async with request.app[POOL].acquire() as conn:
        query = _unexplained(await metric_query(request, conn, installation_id=repo["installation_id"]))
        result = await computed(service.repository_analytics(conn, query.scope(), repo["id"]))
    if result is None:
        raise not_found()
    return await envelope(request, "repository", query,
                          {"repository": repo["id"], **to_json(result, explain=query.explain)})


@routes.get("/api/analytics/trends")
async def trends(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        query = _unexplained(await metric_query(request, conn))
        if query.team_id is not None and query.repository_ids is not None:
            # team_metrics has no repository column: the answer would silently ignore one filter.
            raise bad_request("repository", "cannot be combined with team for trends")
        # A team's series come from team rollups, which keep fewer columns.
        allowed = service.TEAM_TREND_METRICS if query.team_id is not None else service.TREND_METRICS
        metric = choice(request, "metric", allowed, required=True)
        interval = choice(request, "interval", service.TREND_INTERVALS, default="week")
        result = await computed(service.trends(conn, query.scope(), metric=metric, interval=interval))
    return await envelope(request, "trends", query, {"metric": metric, "interval": interval,
                                                     **to_json(result)})
