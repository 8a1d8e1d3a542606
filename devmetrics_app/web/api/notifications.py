"""Notification rules (ADMIN/MANAGER write, anyone who sees the installation reads) and the
caller's in-app notifications.

Every handler settles tenancy before it reads the body or the other parameters: another
installation's rule answers 404 whatever the body says, so a malformed request cannot probe
which ids exist. Query parameters (`installation`, `limit`, `cursor`, `unread`) are parsed by
web/api/query.py, as on every other list: the same rules and the same 400 naming the field.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from devmetrics_app.notify import rule_store
from devmetrics_app.notify.rules import Rule, load_rule
from devmetrics_app.notify.validation import RuleError, RuleInput, validate_rule
from devmetrics_app.store import installations, notifications
from devmetrics_app.web import responses
from devmetrics_app.web.api.params import MAX_ID, bad_request, json_object, path_id
from devmetrics_app.web.api.query import (
    decode_cursor,
    flag,
    installation_of,
    limit_of,
    page,
    single,
)
from devmetrics_app.web.identity import require_principal
from devmetrics_app.web.keys import BOX, POOL, SETTINGS
from devmetrics_app.web.tenancy import not_found, require_installation, visible_installations

routes = web.RouteTableDef()

WRITE_ROLE = "MANAGER"
CURSOR_KIND = "notifications"
RULES_CURSOR_KIND = "notification_rules"


async def _installations(request: web.Request) -> list[int]:
    """The lists' `installation` filter: that one (checked as everywhere: malformed is 400, one
    the caller cannot see 404), or, when absent, every installation the caller can see."""
    if single(request, "installation") is None:
        return sorted(await visible_installations(request))
    installation_id, _ = await installation_of(request)
    return [installation_id]


async def _rule(request: web.Request, *, minimum_role: str = "VIEWER") -> Rule:
    require_principal(request)  # before the lookup: a stranger learns nothing of which ids exist
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
    """Oldest first (keyset on id); pass `next_cursor` back as `cursor` for the next page."""
    installation_ids = await _installations(request)
    limit = limit_of(request)
    after = _position(request, RULES_CURSOR_KIND) or 0
    rules = await rule_store.list_rules(request.app[POOL], installation_ids, after_id=after, limit=limit + 1)
    listed = page(request, RULES_CURSOR_KIND, [rule_store.to_json(r) for r in rules], limit, "id")
    return responses.json({"rules": listed["items"], "next_cursor": listed["next_cursor"], "limit": limit})


@routes.post("/api/notifications/rules")
async def create_rule(request: web.Request) -> web.Response:
    installation_id, _ = await installation_of(request, minimum_role=WRITE_ROLE)
    data = await _validated(request, installation_id)
    pool = request.app[POOL]
    organization_id = await installations.organization_id(pool, installation_id)
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


def _position(request: web.Request, kind: str) -> int | None:
    """The id a page continues from: the keyset position of `cursor` (signed, this list's own)."""
    position = decode_cursor(request, kind)
    if position is None:
        return None
    sort_key, row_id = position
    if type(row_id) is not int or sort_key != row_id or not 0 < row_id <= MAX_ID:
        raise bad_request("cursor", "invalid position")
    return row_id


@routes.get("/api/notifications")
async def list_notifications(request: web.Request) -> web.Response:
    """The caller's in-app notifications, newest first (keyset on id); pass `next_cursor` back
    as `cursor` for the next page. `unread_count` counts all of the caller's unread ones."""
    user_id = require_principal(request).user_id
    installation_ids = await _installations(request)
    limit = limit_of(request)
    before = _position(request, CURSOR_KIND)
    unread_only = flag(request, "unread")
    pool = request.app[POOL]
    rows = await notifications.list_for_user(pool, user_id=user_id, installation_ids=installation_ids,
                                             before=before, unread_only=unread_only, limit=limit + 1)
    unread_count = await notifications.unread_count(pool, user_id=user_id, installation_ids=installation_ids)
    listed = page(request, CURSOR_KIND, [dict(r) for r in rows], limit, "id")
    return responses.json({"notifications": listed["items"], "next_cursor": listed["next_cursor"],
                           "limit": limit, "unread_count": unread_count})


@routes.patch("/api/notifications/{notification_id}/read")
async def mark_read(request: web.Request) -> web.Response:
    """Mark read (idempotent: the first read time is kept); `{"read": false}` marks unread."""
    notification_id = path_id(request, "notification_id")
    user_id = require_principal(request).user_id
    pool = request.app[POOL]
    owner = await notifications.owner_of(pool, notification_id)
    if owner is None or owner["user_id"] != user_id:
        raise not_found()
    await require_installation(request, owner["installation_id"])
    read = True
    if request.can_read_body:
        body = await json_object(request)
        read = body.get("read", True)
        if not isinstance(read, bool):
            raise bad_request("read", "true or false")
    row = await notifications.set_read(pool, notification_id, read)
    return responses.json(dict(row))
