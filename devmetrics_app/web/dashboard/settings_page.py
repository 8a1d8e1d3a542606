"""Settings for ADMINs: member roles, the AI budget and risk threshold, bot patterns and the
names of production environments — stored in `organizations.settings`, the jsonb the metrics
and review code already read (metrics/settings.py, review/config.py).

The new settings are checked by MetricsSettings.from_json before they are stored, so a value the
metrics engine would refuse never reaches it (a page error, not a broken dashboard).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from devmetrics_app.events.context import FULL_RECOMPUTE_DAYS, INSTALLATION_ROLLUP_ACTOR
from devmetrics_app.metrics.settings import MetricsSettings, SettingsError
from devmetrics_app.review.config import (
    DEFAULT_RISK_THRESHOLD,
    ORG_BUDGET_KEY,
    ORG_KEY,
    monthly_budget_usd,
)
from devmetrics_app.store import installations
from devmetrics_app.store import members as store_members
from devmetrics_app.web.api.params import form_of, path_id
from devmetrics_app.web.dashboard.common import bad_request, installation_context, page, pool, render
from devmetrics_app.web.dashboard.org_members import sync_members
from devmetrics_app.web.keys import SEND
from devmetrics_app.web.tenancy import ROLES, not_found

routes = web.RouteTableDef()

MAX_BUDGET_USD = 100_000


def _list(raw: str) -> list[str]:
    return [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]


def updated_settings(current: dict[str, Any], form: Any) -> dict[str, Any]:
    """The jsonb with the form's keys replaced; ValueError names the field that is wrong."""
    out = dict(current)
    try:
        budget = float(str(form.get("budget", "")).strip())
        threshold = int(str(form.get("risk_threshold", "")).strip())
    except ValueError:
        raise ValueError("budget and risk threshold must be numbers") from None
    if not 0 <= budget <= MAX_BUDGET_USD:
        raise ValueError(f"budget: from 0 to {MAX_BUDGET_USD} US dollars a month")
    if not 0 <= threshold <= 100:
        raise ValueError("risk threshold: an integer from 0 to 100")
    out[ORG_BUDGET_KEY] = budget
    out[ORG_KEY] = {**(current.get(ORG_KEY) or {}), "risk_threshold": threshold}
    out["bot_patterns"] = _list(str(form.get("bot_patterns", "")))
    environments = _list(str(form.get("production_environments", "")))
    if not environments:
        raise ValueError("production environments: name at least one")
    out["production_environments"] = environments
    labels = _list(str(form.get("incident_labels", "")))
    if not labels:
        raise ValueError("incident labels: name at least one")
    out["incident_labels"] = labels
    out["deploy_workflow_pattern"] = str(form.get("deploy_workflow_pattern", "")).strip()
    raw_points = str(form.get("default_points", "")).strip()
    try:
        out["default_points"] = float(raw_points)
    except ValueError:
        raise ValueError("default story points: a number") from None
    out["exclude_bots"] = "exclude_bots" in form
    out["revert_detection"] = "revert_detection" in form
    try:
        MetricsSettings.from_json(out)
    except SettingsError as exc:
        raise ValueError(str(exc)) from None
    return out


async def _load(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    async with pool(request).acquire() as conn:
        context = await installation_context(request, conn, minimum_role="ADMIN")
        raw = await installations.organization_settings(conn, context["installation"]["id"])
    settings = raw if isinstance(raw, dict) else orjson.loads(raw) if raw else {}
    return context, settings


async def _render(request: web.Request, context: dict[str, Any], settings: dict[str, Any], *,
                  error: str | None = None, status: int = 200) -> web.Response:
    members_error = await sync_members(request, context["installation"]["id"])
    members = await store_members.list_for_settings(pool(request), context["installation"]["id"])
    metrics = MetricsSettings.from_json(settings) if error is None else MetricsSettings()
    return render(request, "settings.html", {
        **context, "members": [dict(m) for m in members], "roles": ROLES, "error": error,
        "members_error": members_error,
        "budget": monthly_budget_usd(settings),
        "risk_threshold": (settings.get(ORG_KEY) or {}).get("risk_threshold", DEFAULT_RISK_THRESHOLD),
        "metrics": metrics,
        "bot_patterns": ", ".join(metrics.bot_patterns),
        "environments": ", ".join(metrics.production_environments),
        "incident_labels": ", ".join(metrics.incident_labels),
        "notice": request.query.get("done")}, status=status)


@routes.get("/orgs/{installation_id}/settings")
@page
async def settings_page(request: web.Request) -> web.Response:
    context, settings = await _load(request)
    return await _render(request, context, settings)


@routes.post("/orgs/{installation_id}/settings")
@page
async def save_settings(request: web.Request) -> web.Response:
    context, settings = await _load(request)
    try:
        new = updated_settings(settings, await form_of(request))
    except ValueError as exc:
        return await _render(request, context, settings, error=str(exc), status=400)
    installation_id = context["installation"]["id"]
    await installations.save_organization_settings(pool(request), installation_id, orjson.dumps(new).decode())
    if MetricsSettings.from_json(new) != MetricsSettings.from_json(settings):
        # Stored rollups were computed with the old bots, environments and labels: redo them
        # (reads fall back to raw rows where a stored figure names other bot settings).
        await request.app[SEND](INSTALLATION_ROLLUP_ACTOR, installation_id=installation_id,
                                days=FULL_RECOMPUTE_DAYS)
    raise web.HTTPSeeOther(f"/orgs/{installation_id}/settings?done=saved")


@routes.post("/orgs/{installation_id}/settings/members/{user_id}")
@page
async def set_role(request: web.Request) -> web.Response:
    context, _ = await _load(request)
    installation_id = context["installation"]["id"]
    role = (await form_of(request)).get("role")
    if role not in ROLES:
        raise bad_request("role", f"must be one of {', '.join(ROLES)}")
    if not await store_members.set_role_of_member(pool(request), installation_id, path_id(request, "user_id"),
                                                  role):
        raise not_found()
    raise web.HTTPSeeOther(f"/orgs/{installation_id}/settings?done=role")
