"""Notification rules as forms: list, create, edit, enable/disable, delete.

A form post is turned into the JSON API's body shape and checked by the same validator
(notify/validation.py), so a rule made here is exactly one the API would accept; a wrong field
re-renders the form with the message next to that field. Writing needs MANAGER, as in the API.
Every form carries the session's CSRF token (checked by the identity middleware).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from multidict import MultiDictProxy

from devmetrics_app.digits import is_decimal
from devmetrics_app.notify import rule_store
from devmetrics_app.notify.rules import CHANNELS, RULE_TYPES, Rule, load_rule
from devmetrics_app.notify.validation import RuleError, RuleInput, validate_rule
from devmetrics_app.store import installations
from devmetrics_app.store import repositories as store_repositories
from devmetrics_app.web.api.params import form_of, path_id
from devmetrics_app.web.dashboard.common import installation_context, page, pool, render, signed_in
from devmetrics_app.web.keys import BOX, SETTINGS
from devmetrics_app.web.tenancy import not_found, role_at_least

routes = web.RouteTableDef()

WRITE_ROLE = "MANAGER"
NUMBER_CONDITIONS = ("hours", "min_risk", "hour")
TEXT_CONDITIONS = ("frequency", "weekday", "timezone")
LIST_CONDITIONS = ("workflows", "branches", "environments")
FLAG_CONDITIONS = ("include_bots", "include_drafts")


def _list(raw: str) -> list[str]:
    return [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]


def _number(raw: str) -> int | float | str:
    try:
        value = float(raw)
    except ValueError:
        return raw  # the validator names the field
    return int(value) if value.is_integer() else value


def body_from_form(form: MultiDictProxy) -> dict[str, Any]:
    """The API's JSON body from a form post: conditions only those the type knows."""
    from devmetrics_app.notify.validation import CONDITIONS

    rule_type = str(form.get("type", ""))
    allowed = CONDITIONS.get(rule_type, frozenset())
    conditions: dict[str, Any] = {}
    for key in NUMBER_CONDITIONS:
        if key in allowed and str(form.get(key, "")).strip():
            conditions[key] = _number(str(form[key]).strip())
    for key in TEXT_CONDITIONS:
        if key in allowed and str(form.get(key, "")).strip():
            value = str(form[key]).strip()
            conditions[key] = _number(value) if key == "weekday" and is_decimal(value) else value
    for key in LIST_CONDITIONS:
        if key in allowed and str(form.get(key, "")).strip():
            conditions[key] = _list(str(form[key]))
    for key in FLAG_CONDITIONS:
        if key in allowed:
            conditions[key] = key in form
    body: dict[str, Any] = {
        "name": str(form.get("name", "")), "type": rule_type, "conditions": conditions,
        "channels": [str(c) for c in form.getall("channels", [])],
        "slack_channel": str(form.get("slack_channel", "")).strip() or None,
        "email_recipients": _list(str(form.get("email_recipients", ""))),
        "labels": _list(str(form.get("labels", ""))), "authors": _list(str(form.get("authors", ""))),
        "repository_ids": [int(r) for r in form.getall("repository_ids", []) if is_decimal(str(r))],
        "enabled": "enabled" in form,
    }
    if str(form.get("discord_webhook_url", "")).strip():
        body["discord_webhook_url"] = str(form["discord_webhook_url"]).strip()
    return body


async def _validated(request: web.Request, installation_id: int, body: dict[str, Any],
                     current: Rule | None) -> RuleInput:
    configured = request.app[SETTINGS].discord_webhook_url.get()
    data = validate_rule(
        body, current=rule_store.current_values(current) if current else None,
        extra_discord_hosts=frozenset({urlsplit(configured).netloc}) if configured else frozenset(),
        has_stored_discord_url=bool(configured) or bool(current and current.discord_webhook_url_enc))
    unknown = await rule_store.unknown_repositories(pool(request), installation_id, data.repository_ids)
    if unknown:
        raise RuleError("repository_ids", f"no repository {unknown[0]} in this installation")
    return data


async def _form_context(request: web.Request, installation_id: int) -> dict[str, Any]:
    repositories = await store_repositories.names_for_select(pool(request), installation_id,
                                                             connected_only=False)
    return {"types": RULE_TYPES, "channels": CHANNELS, "repositories": [dict(r) for r in repositories]}


async def _installation(request: web.Request, minimum_role: str = "VIEWER") -> dict[str, Any]:
    async with pool(request).acquire() as conn:
        return await installation_context(request, conn, minimum_role=minimum_role)


async def _rule(request: web.Request, installation_id: int) -> Rule:
    rule = await load_rule(pool(request), path_id(request, "rule_id"))
    if rule is None or rule.installation_id != installation_id:
        raise not_found()
    return rule


@routes.get("/orgs/{installation_id}/notifications/rules")
@page
async def rule_list(request: web.Request) -> web.Response:
    context = await _installation(request)
    rules = await rule_store.list_rules(pool(request), [context["installation"]["id"]])
    return render(request, "rules.html", {
        **context, "rules": [rule_store.to_json(r) for r in rules],
        "can_write": role_at_least(context["installation"]["role"], WRITE_ROLE),
        "notice": request.query.get("done")})


def _values(rule: Rule | None) -> dict[str, Any]:
    if rule is None:
        return {"enabled": True, "channels": ["in_app"], "conditions": {}}
    return rule_store.to_json(rule)


@routes.get("/orgs/{installation_id}/notifications/rules/new")
@routes.get("/orgs/{installation_id}/notifications/rules/{rule_id}/edit")
@page
async def rule_form(request: web.Request) -> web.Response:
    context = await _installation(request, WRITE_ROLE)
    installation_id = context["installation"]["id"]
    rule = await _rule(request, installation_id) if "rule_id" in request.match_info else None
    return render(request, "rule_form.html", {**context, **await _form_context(request, installation_id),
                                              "rule": rule, "values": _values(rule), "error": None})


@routes.post("/orgs/{installation_id}/notifications/rules/new")
@routes.post("/orgs/{installation_id}/notifications/rules/{rule_id}/edit")
@page
async def save_rule(request: web.Request) -> web.Response:
    context = await _installation(request, WRITE_ROLE)
    installation_id = context["installation"]["id"]
    rule = await _rule(request, installation_id) if "rule_id" in request.match_info else None
    body = body_from_form(await form_of(request))
    try:
        data = await _validated(request, installation_id, body, rule)
    except RuleError as exc:
        return render(request, "rule_form.html", {
            **context, **await _form_context(request, installation_id), "rule": rule,
            "values": {**body, "discord_webhook_configured": bool(rule and rule.discord_webhook_url_enc)},
            "error": {"field": exc.field, "message": exc.message}}, status=400)
    db, box = pool(request), request.app[BOX]
    if rule is None:
        organization_id = await installations.organization_id(db, installation_id)
        await rule_store.create(db, box, installation_id=installation_id, organization_id=organization_id,
                                data=data, created_by_id=signed_in(request).user_id)
    else:
        await rule_store.update(db, box, rule.id, data)
    raise web.HTTPSeeOther(f"/orgs/{installation_id}/notifications/rules?done=saved")


@routes.post("/orgs/{installation_id}/notifications/rules/{rule_id}/enabled")
@page
async def toggle_rule(request: web.Request) -> web.Response:
    """Enable or disable (`enabled=true|false`): the stored rule, revalidated as a whole."""
    context = await _installation(request, WRITE_ROLE)
    installation_id = context["installation"]["id"]
    rule = await _rule(request, installation_id)
    enabled = (await form_of(request)).get("enabled") == "true"
    try:
        data = await _validated(request, installation_id, {"enabled": enabled}, rule)
    except RuleError as exc:
        raise web.HTTPUnprocessableEntity(
            text=f'{{"error": {{"code": "invalid", "message": "the stored rule is invalid: {exc.field}"}}}}',
            content_type="application/json") from None
    await rule_store.update(pool(request), request.app[BOX], rule.id, data)
    raise web.HTTPSeeOther(f"/orgs/{installation_id}/notifications/rules?done="
                           + ("enabled" if enabled else "disabled"))


@routes.post("/orgs/{installation_id}/notifications/rules/{rule_id}/delete")
@page
async def delete_rule(request: web.Request) -> web.Response:
    context = await _installation(request, WRITE_ROLE)
    installation_id = context["installation"]["id"]
    rule = await _rule(request, installation_id)
    await rule_store.delete(pool(request), rule.id)
    raise web.HTTPSeeOther(f"/orgs/{installation_id}/notifications/rules?done=deleted")
