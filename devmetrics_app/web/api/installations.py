"""Installations the caller can see, and their members' roles (ADMIN changes roles)."""

from __future__ import annotations

from aiohttp import web

from devmetrics_app.web import responses
from devmetrics_app.web.api.params import bad_request, json_object, path_id
from devmetrics_app.web.keys import POOL
from devmetrics_app.web.tenancy import ROLES, require_installation, visible_installations

routes = web.RouteTableDef()


@routes.get("/api/installations")
async def list_installations(request: web.Request) -> web.Response:
    visible = await visible_installations(request)
    rows = await request.app[POOL].fetch(
        """SELECT id, account_login, account_type, repository_selection, plan, github_created_at
           FROM installations WHERE id = ANY($1::bigint[]) ORDER BY account_login""",
        sorted(visible))
    return responses.json({"installations": [{**dict(r), "role": visible[r["id"]]} for r in rows]})


@routes.get("/api/installations/{installation_id}")
async def get_installation(request: web.Request) -> web.Response:
    installation_id = path_id(request, "installation_id")
    role = await require_installation(request, installation_id)
    row = await request.app[POOL].fetchrow(
        """SELECT id, account_login, account_type, repository_selection, plan, permissions,
                  github_created_at,
                  (SELECT count(*) FROM repositories r
                   WHERE r.installation_id = i.id AND r.removed_at IS NULL) AS repositories
           FROM installations i WHERE id = $1""", installation_id)
    return responses.json({**dict(row), "role": role})


@routes.get("/api/installations/{installation_id}/members")
async def list_members(request: web.Request) -> web.Response:
    installation_id = path_id(request, "installation_id")
    await require_installation(request, installation_id)
    rows = await request.app[POOL].fetch(
        """SELECT u.id, u.login, u.avatar_url, m.role, m.source, m.github_role
           FROM memberships m JOIN users u ON u.id = m.user_id
           WHERE m.installation_id = $1 AND m.removed_at IS NULL ORDER BY u.login""",
        installation_id)
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
    known = await pool.fetchval(
        """SELECT 1 FROM users u WHERE u.id = $1 AND (
               EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id
                       AND m.installation_id = $2 AND m.removed_at IS NULL)
               OR EXISTS (SELECT 1 FROM user_tokens t WHERE t.user_id = u.id))""",
        user_id, installation_id)
    if not known:
        return responses.error(404, "not_found", "no such member")
    organization_id = await pool.fetchval("SELECT account_id FROM installations WHERE id = $1",
                                          installation_id)
    await pool.execute(
        """INSERT INTO memberships (installation_id, organization_id, user_id, role, source)
           VALUES ($1, $2, $3, $4, 'manual')
           ON CONFLICT (installation_id, user_id) DO UPDATE
               SET role = EXCLUDED.role, source = 'manual', updated_at = now()
               WHERE memberships.removed_at IS NULL""",
        installation_id, organization_id, user_id, role)
    return responses.json({"installation": installation_id, "user": user_id, "role": role})
