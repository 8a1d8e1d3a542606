"""Repositories: the list, details with history-import progress, (re)starting an import,
connecting to or disconnecting from metrics, and a repository's summary figures.

A disconnected repository keeps its rows (reconnecting needs no re-import); the metrics service
leaves it out of figures. Connecting and disconnecting are a MANAGER's decision.
"""

from __future__ import annotations

import dataclasses

from aiohttp import web

from devmetrics_app.digits import is_decimal
from devmetrics_app.events.context import FULL_RECOMPUTE_DAYS, INSTALLATION_ROLLUP_ACTOR
from devmetrics_app.importer import progress_for
from devmetrics_app.metrics import service
from devmetrics_app.store import repositories
from devmetrics_app.web import responses
from devmetrics_app.web.api.params import bad_request, path_id
from devmetrics_app.web.api.query import (
    computed,
    decode_cursor,
    flag,
    installation_of,
    limit_of,
    metric_query,
    optional_flag,
    page,
    parse_id,
    single,
)
from devmetrics_app.web.api.serialize import to_json
from devmetrics_app.web.keys import POOL, SEND
from devmetrics_app.web.tenancy import not_found, require_installation, visible_installations

routes = web.RouteTableDef()

CURSOR_KIND = "repositories"
# The figures GET /api/repositories/{id}/metrics summarises (names of service functions).
SUMMARY = ("cycle_time", "throughput", "build_success", "deployments")

async def visible_repository(request: web.Request, *, minimum_role: str = "VIEWER"):
    """The repository named in the path, if the caller may see its installation; else 404."""
    repository_id = path_id(request, "repository_id")
    visible = await visible_installations(request)
    row = await repositories.find_visible(request.app[POOL], repository_id, sorted(visible))
    if row is None:
        raise web.HTTPNotFound(text='{"error": {"code": "not_found", "message": "not found"}}',
                               content_type="application/json")
    await require_installation(request, row["installation_id"], minimum_role=minimum_role)
    return row


@routes.get("/api/repositories/{repository_id}")
async def get_repository(request: web.Request) -> web.Response:
    row = await visible_repository(request)
    async with request.app[POOL].acquire() as conn:
        progress = await progress_for(conn, row["id"])
    return responses.json({**dict(row), "import": progress})


@routes.post("/api/repositories/{repository_id}/import")
async def start_import(request: web.Request) -> web.Response:
    row = await visible_repository(request, minimum_role="MANAGER")
    days = request.query.get("days", "90")
    if not is_decimal(days) or not 1 <= int(days) <= 730:
        return responses.error(400, "invalid", "days: 1-730", field="days")
    await request.app[SEND]("import_repository_job", installation_id=row["installation_id"],
                            repository_id=row["id"], days=int(days))
    return responses.json({"repository": row["id"], "import": "queued", "days": int(days)},
                          status=202)


@routes.get("/api/repositories")
async def list_repositories(request: web.Request) -> web.Response:
    """By full name, then id (keyset). Removed repositories only with `removed=true`."""
    installation_id, _ = await installation_of(request)
    include_removed = flag(request, "removed")
    connected = optional_flag(request, "connected")
    limit = limit_of(request)
    position = decode_cursor(request, CURSOR_KIND)
    after_name, after_id = position if position is not None else ("", 0)
    if not isinstance(after_name, str):
        raise bad_request("cursor", "invalid position")
    rows = await repositories.list_page(request.app[POOL], installation_id, include_removed=include_removed,
                                        connected=connected, after_name=after_name, after_id=after_id,
                                        limit=limit + 1)
    return responses.json(page(request, CURSOR_KIND, [dict(r) for r in rows], limit, "full_name"))


async def _set_connected(request: web.Request, connected: bool) -> web.Response:
    row = await visible_repository(request, minimum_role="MANAGER")
    changed = await repositories.set_connected(request.app[POOL], row["id"], row["installation_id"],
                                               connected)
    if changed:
        # Installation-wide rollups sum the connected repositories: recompute the history.
        await request.app[SEND](INSTALLATION_ROLLUP_ACTOR, installation_id=row["installation_id"],
                                days=FULL_RECOMPUTE_DAYS)
    return responses.json({"repository": row["id"], "connected": connected})


@routes.post("/api/repositories/{repository_id}/connect")
async def connect(request: web.Request) -> web.Response:
    return await _set_connected(request, True)


@routes.post("/api/repositories/{repository_id}/disconnect")
async def disconnect(request: web.Request) -> web.Response:
    return await _set_connected(request, False)


@routes.get("/api/repositories/{repository_id}/metrics")
async def repository_metrics(request: web.Request) -> web.Response:
    """The headline figures of one repository over the period (same rules as /api/metrics/*)."""
    row = await visible_repository(request)
    raw = single(request, "installation")
    if raw is not None and parse_id("installation", raw) != row["installation_id"]:
        raise not_found()
    async with request.app[POOL].acquire() as conn:
        query = await metric_query(request, conn, installation_id=row["installation_id"])
        scope = dataclasses.replace(query.scope(), repository_ids=(row["id"],))
        # One connection, one figure at a time: a page of these must not drain the web pool.
        figures = [to_json(await computed(getattr(service, name)(conn, scope, explain=query.explain)),
                           explain=query.explain)
                   for name in SUMMARY]
    return responses.json({"repository": row["id"], "full_name": row["full_name"],
                           "connected": row["connected"],
                           "query": {**query.echo(), "repository": [row["id"]]},
                           **dict(zip(SUMMARY, figures, strict=True))})
