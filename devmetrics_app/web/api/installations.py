"""Installations the caller can see, and their members' roles (ADMIN changes roles)."""

from __future__ import annotations

from aiohttp import web

from devmetrics_app.store import installations, members
from devmetrics_app.web import responses
from devmetrics_app.web.api.params import bad_request, json_object, path_id
from devmetrics_app.web.keys import POOL
from devmetrics_app.web.tenancy import ROLES, require_installation, visible_installations

routes = web.RouteTableDef()


@routes.get("/api/installations")
async def list_installations(request: web.Request) -> web.Response:
    visible = await visible_installations(request)
    rows = await installations.list_by_ids(request.app[POOL], sorted(visible))
    return responses.json({"installations": [{**dict(r), "role": visible[r["id"]]} for r in rows]})


@routes.get("/api/installations/{installation_id}")
async def get_installation(request: web.Request) -> web.Response:
    installation_id = path_id(request, "installation_id")
    role = await require_installation(request, installation_id)
    row = await installations.get_with_repository_count(request.app[POOL], installation_id)
    return responses.json({**dict(row), "role": role})


@routes.get("/api/installations/{installation_id}/members")
async def list_members(request: web.Request) -> web.Response:
    installation_id = path_id(request, "installation_id")
    await require_installation(request, installation_id)
    rows = await members.list_members(request.app[POOL], installation_id)
    return responses.json({"members": [dict(r) for r in rows]})


@routes.put("/api/installations/{installation_id}/members/{user_id}")
async def set_member_role(request: web.Request) -> web.Response:
    installation_id = path_id(request, "installation_id")
    user_id = path_id(request, "user_id")
    await require_installation(request, installation_id, minimum_role="ADMIN")
    body = await json_object(request)
    role = body.get("role")
    if role not in ROLES:
        raise bad_request("role", f"one of {', '.join(ROLES)}")
    pool = request.app[POOL]
    if not await members.is_known_user(pool, installation_id, user_id):
        return responses.error(404, "not_found", "no such member")
    await members.set_manual_role(
        pool, installation_id=installation_id,
        organization_id=await installations.organization_id(pool, installation_id),
        user_id=user_id, role=role)
    return responses.json({"installation": installation_id, "user": user_id, "role": role})
