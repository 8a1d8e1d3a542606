"""Notification rules (ADMIN/MANAGER write, anyone who sees the installation reads) and the
caller's in-app notifications.

Every handler settles tenancy before it reads the body: another installation's rule answers 404
whatever the body says, so a malformed request cannot probe which ids exist.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from devmetrics_app.notify import rule_store
from devmetrics_app.notify.rules import Rule, load_rule
from devmetrics_app.notify.validation import RuleError, RuleInput, validate_rule
from devmetrics_app.web import responses
from devmetrics_app.web.api.params import bad_request, json_object, path_id
from devmetrics_app.web.identity import require_principal
from devmetrics_app.web.keys import BOX, POOL, SETTINGS
from devmetrics_app.web.tenancy import not_found, require_installation, visible_installations

routes = web.RouteTableDef()

WRITE_ROLE = "MANAGER"
DEFAULT_LIMIT = 50
MAX_LIMIT = 100


async def _selected_installation(request: web.Request, *, minimum_role: str) -> int:
    """`?installation=` or, when the caller sees exactly one, that one."""
    raw = request.query.get("installation")
    if raw is not None:
        if not raw.isdigit():
            raise bad_request("installation", "must be an installation id")
        installation_id = int(raw)
    else:
        visible = await visible_installations(request)
        if not visible:
            raise not_found()
        if len(visible) > 1:
            raise bad_request("installation", "required when you can see several installations")
        installation_id = next(iter(visible))
    await require_installation(request, installation_id, minimum_role=minimum_role)
    return installation_id


async def _rule(request: web.Request, *, minimum_role: str = "VIEWER") -> Rule:
    rule = await load_rule(request.app[POOL], path_id(request, "rule_id"))
    if rule is None:
        raise not_found()
    await require_installation(request, rule.installation_id, minimum_role=minimum_role)
    return rule


async def _validated(request: web.Request, installation_id: int, *,
                     current: Rule | None = None) -> RuleInput:
    body = await json_object(request)
    configured = request.app[SETTINGS].discord_webhook_url.get()
    extra_hosts = frozenset({urlsplit(configured).netloc}) if configured else frozenset()
    try:
        data = validate_rule(
            body, current=rule_store.current_values(current) if current else None,
            extra_discord_hosts=extra_hosts,
            has_stored_discord_url=bool(configured) or bool(current and current.discord_webhook_url_enc))
    except RuleError as exc:
        raise bad_request(exc.field, exc.message) from None
    unknown = await rule_store.unknown_repositories(request.app[POOL], installation_id,
                                                    data.repository_ids)
    if unknown:
        raise bad_request("repository_ids", f"no repository {unknown[0]} in this installation")
    return data


@routes.get("/api/notifications/rules")
async def list_rules(request: web.Request) -> web.Response:
    if "installation" in request.query:
        installation_ids = [await _selected_installation(request, minimum_role="VIEWER")]
    else:
        installation_ids = sorted(await visible_installations(request))
    rules = await rule_store.list_rules(request.app[POOL], installation_ids)
    return responses.json({"rules": [rule_store.to_json(r) for r in rules]})


@routes.post("/api/notifications/rules")
async def create_rule(request: web.Request) -> web.Response:
    installation_id = await _selected_installation(request, minimum_role=WRITE_ROLE)
    data = await _validated(request, installation_id)
    pool = request.app[POOL]
    organization_id = await pool.fetchval("SELECT account_id FROM installations WHERE id = $1",
                                          installation_id)
    rule = await rule_store.create(pool, request.app[BOX], installation_id=installation_id,
                                   organization_id=organization_id, data=data,
                                   created_by_id=require_principal(request).user_id)
    return responses.json(rule_store.to_json(rule), status=201)


@routes.get("/api/notifications/rules/{rule_id}")
async def get_rule(request: web.Request) -> web.Response:
    return responses.json(rule_store.to_json(await _rule(request)))


@routes.patch("/api/notifications/rules/{rule_id}")
async def update_rule(request: web.Request) -> web.Response:
    """Edit any field, `{"enabled": false}` to pause; an edit also clears a flag."""
    rule = await _rule(request, minimum_role=WRITE_ROLE)
    data = await _validated(request, rule.installation_id, current=rule)
    updated = await rule_store.update(request.app[POOL], request.app[BOX], rule.id, data)
    return responses.json(rule_store.to_json(updated))


@routes.delete("/api/notifications/rules/{rule_id}")
async def delete_rule(request: web.Request) -> web.Response:
    rule = await _rule(request, minimum_role=WRITE_ROLE)
    await rule_store.delete(request.app[POOL], rule.id)
    return web.Response(status=204)


def _int_param(request: web.Request, name: str, *, default: int | None, low: int, high: int) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise bad_request(name, f"an integer from {low} to {high}")
    return int(raw)


@routes.get("/api/notifications")
async def list_notifications(request: web.Request) -> web.Response:
    """The caller's in-app notifications, newest first; `cursor` is the last id of the page before."""
    user_id = require_principal(request).user_id
    if "installation" in request.query:
        installation_ids = [await _selected_installation(request, minimum_role="VIEWER")]
    else:
        installation_ids = sorted(await visible_installations(request))
    limit = _int_param(request, "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
    cursor = _int_param(request, "cursor", default=None, low=1, high=2**63 - 1)
    unread = request.query.get("unread", "false").lower()
    if unread not in {"true", "false"}:
        raise bad_request("unread", "true or false")
    pool = request.app[POOL]
    rows = await pool.fetch(
        """SELECT id, installation_id, rule_id, title, body, url, read_at, created_at
           FROM notifications
           WHERE user_id = $1 AND installation_id = ANY($2::bigint[])
             AND ($3::bigint IS NULL OR id < $3) AND (NOT $4 OR read_at IS NULL)
           ORDER BY id DESC LIMIT $5""",
        user_id, installation_ids, cursor, unread == "true", limit + 1)
    unread_count = await pool.fetchval(
        """SELECT count(*) FROM notifications
           WHERE user_id = $1 AND installation_id = ANY($2::bigint[]) AND read_at IS NULL""",
        user_id, installation_ids)
    page = [dict(r) for r in rows[:limit]]
    next_cursor = str(page[-1]["id"]) if len(rows) > limit else None
    return responses.json({"notifications": page, "next_cursor": next_cursor,
                           "unread_count": unread_count})


@routes.patch("/api/notifications/{notification_id}/read")
async def mark_read(request: web.Request) -> web.Response:
    """Mark read (idempotent: the first read time is kept); `{"read": false}` marks unread."""
    notification_id = path_id(request, "notification_id")
    user_id = require_principal(request).user_id
    pool = request.app[POOL]
    owner = await pool.fetchrow("SELECT installation_id, user_id FROM notifications WHERE id = $1",
                                notification_id)
    if owner is None or owner["user_id"] != user_id:
        raise not_found()
    await require_installation(request, owner["installation_id"])
    read = True
    if request.can_read_body:
        body = await json_object(request)
        read = body.get("read", True)
        if not isinstance(read, bool):
            raise bad_request("read", "true or false")
    row = await pool.fetchrow(
        """UPDATE notifications
           SET read_at = CASE WHEN $2 THEN coalesce(read_at, now()) END
           WHERE id = $1
           RETURNING id, installation_id, rule_id, title, body, url, read_at, created_at""",
        notification_id, read)
    return responses.json(dict(row))
