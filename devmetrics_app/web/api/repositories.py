"""Repositories: details with history-import progress, and (re)starting an import."""

from __future__ import annotations

from aiohttp import web

from devmetrics_app.importer import progress_for
from devmetrics_app.web import responses
from devmetrics_app.web.api.params import path_id
from devmetrics_app.web.keys import POOL, SEND
from devmetrics_app.web.tenancy import require_installation, visible_installations

routes = web.RouteTableDef()

REPOSITORY_COLUMNS = """id, installation_id, full_name, name, owner_login, private, fork, archived,
    default_branch, language, html_url, connected, removed_at, pushed_at"""


async def visible_repository(request: web.Request, *, minimum_role: str = "VIEWER"):
    """The repository named in the path, if the caller may see its installation; else 404."""
    repository_id = path_id(request, "repository_id")
    visible = await visible_installations(request)
    row = await request.app[POOL].fetchrow(
        f"SELECT {REPOSITORY_COLUMNS} FROM repositories "  # noqa: S608 - constant column list
        "WHERE id = $1 AND installation_id = ANY($2::bigint[])",
        repository_id, sorted(visible))
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
    if not days.isdigit() or not 1 <= int(days) <= 730:
        return responses.error(400, "invalid", "days: 1-730", field="days")
    await request.app[SEND]("import_repository_job", installation_id=row["installation_id"],
                            repository_id=row["id"], days=int(days))
    return responses.json({"repository": row["id"], "import": "queued", "days": int(days)},
                          status=202)
