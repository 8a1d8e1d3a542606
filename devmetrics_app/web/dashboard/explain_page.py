""""Why is this 31 h?": the items behind one figure, and what was left out and why.

The page calls the same service function as `/api/metrics/...?explain=true` for the same
filters, so the list a manager reads is exactly what the number was computed from.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlencode

import asyncpg
from aiohttp import web

from devmetrics_app.store import users
from devmetrics_app.web.api.analytics import _known_user
from devmetrics_app.web.api.query import computed, parse_id, single
from devmetrics_app.web.dashboard.common import (
    filters_of,
    installation_context,
    page,
    pool,
    render,
    signed_in,
)
from devmetrics_app.web.dashboard.deployment_page import SOURCES, deployment_path
from devmetrics_app.web.dashboard.export import csv_response, wants_csv
from devmetrics_app.web.dashboard.figures import COUNTED, FAILED_BY, FIGURES, LISTED_SUBSET
from devmetrics_app.web.tenancy import not_found, role_at_least

routes = web.RouteTableDef()


def item_link(installation_id: int, item: dict[str, Any]) -> str | None:
    """Where an item of an explanation can be looked at more closely on our own pages."""
    kind, details = item.get("kind"), item.get("details") or {}
    if kind == "pull_request":
        return f"/orgs/{installation_id}/pulls/{item['id']}"
    if kind == "review_request" and details.get("pull_request"):
        return f"/orgs/{installation_id}/pulls/{details['pull_request']}"
    if kind == "sprint":
        return f"/orgs/{installation_id}/sprints?milestone={item['id']}"
    if kind in SOURCES:
        return deployment_path(installation_id, kind, item["id"])
    source, _, release_id = str(details.get("release") or "").partition(":")
    if kind == "commit" and source in SOURCES and release_id.isdigit():  # the deployment that shipped it
        return deployment_path(installation_id, source, release_id)
    if details.get("repository_id"):  # a deployment, run, commit or issue: its repository's page
        return f"/orgs/{installation_id}/repositories/{details['repository_id']}"
    return None


def with_cause(item: dict[str, Any]) -> dict[str, Any]:
    """A change-failure item: its outcome in a word and what failed it, in words."""
    failed_by = (item.get("details") or {}).get("failed_by")
    if failed_by is None:
        return item
    causes = [FAILED_BY.get(str(reason), str(reason)) for reason in failed_by]
    return {**item, "outcome": "failed" if causes else "succeeded", "cause": "; ".join(causes)}


async def person_of(request: web.Request, conn: asyncpg.Connection, installation: dict) -> dict | None:
    """`person=<user id>`: one person's share of a figure, for the person and for managers
    (anyone else, or a stranger to the installation, gets the same 404 as the person page)."""
    raw = single(request, "person")
    if raw is None:
        return None
    user_id = parse_id("person", raw)
    if user_id != signed_in(request).user_id and not role_at_least(installation["role"], "MANAGER"):
        raise not_found()
    await _known_user(conn, installation["id"], user_id)
    row = await users.find(conn, user_id)
    if row is None:
        raise not_found()
    return dict(row)


@routes.get("/orgs/{installation_id}/explain/{figure}")
@page
async def explain(request: web.Request) -> web.Response:
    async with pool(request).acquire() as conn:
        context = await installation_context(request, conn)
        definition = FIGURES.get(request.match_info["figure"])
        if definition is None:
            raise not_found()
        filters = await filters_of(request, conn, context["installation"]["id"])
        person = await person_of(request, conn, context["installation"])
        scope = filters.scope()
        if person is not None:
            scope = dataclasses.replace(scope, person_id=person["id"])
        figure = await computed(definition.compute(conn, scope))
    installation_id = filters.installation_id
    items = [with_cause({**item, "link": item_link(installation_id, item)})
             for item in figure.get("items", [])]
    excluded = [{**e, "items": [{**i, "link": item_link(installation_id, i)} for i in e.get("items", [])]}
                for e in figure.get("excluded", [])]
    key = request.match_info["figure"]
    items_total = figure.get("items_total", figure.get("count"))
    subset = None
    if key in LISTED_SUBSET:
        field, words = LISTED_SUBSET[key]
        items_total = int(figure.get(field) or 0)
        subset = {"count": items_total, "words": words}
    if wants_csv(request):
        return csv_response(f"{key}.csv", ("item", "kind", "value", "unit", "outcome", "cause", "id"), (
            (i.get("label"), i.get("kind"), i.get("value"), figure.get("unit"), i.get("outcome"),
             i.get("cause"), i.get("id")) for i in items))
    return render(request, "explain.html", {
        **context, "filters": filters, "key": key, "definition": definition,
        "figure": figure, "items": items, "excluded": excluded, "person": person,
        "counted": COUNTED.get(key, "items"), "subset": subset,
        "request_query": urlencode([(k, v) for k, v in request.query.items() if k != "format"]),
        "has_causes": any("cause" in item for item in items), "items_total": items_total})
