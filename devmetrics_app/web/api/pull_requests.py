"""Pull requests: the filtered list, one PR with its timeline, reviews and cycle-time stages,
its latest AI analysis, and asking for a new analysis.

GET /api/pull-requests/{id}/ai-insights answers 200 `{"status": "none"}` when the PR exists but
was never analysed: "not analysed yet" is a state of a PR the caller may see, not a missing
resource, and a 404 would be indistinguishable from "no such PR (or not yours)".
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from aiohttp import web

from devmetrics_app.metrics import service
from devmetrics_app.metrics.explain import Period
from devmetrics_app.store import ai_reviews, pull_requests
from devmetrics_app.store.pull_request_list import RISK_BANDS, STATES, PullRequestFilters, fetch_page
from devmetrics_app.web import responses
from devmetrics_app.web.api.params import bad_request, path_id
from devmetrics_app.web.api.query import (
    choice,
    computed,
    decode_cursor,
    installation_of,
    limit_of,
    page,
    period_of,
    printable,
    repositories_of,
    single,
    team_of,
)
from devmetrics_app.web.api.serialize import to_json
from devmetrics_app.web.keys import POOL, SEND
from devmetrics_app.web.tenancy import not_found, require_installation, visible_installations

routes = web.RouteTableDef()

CURSOR_KIND = "pull_requests"
# GitHub logins: alphanumerics and single hyphens, ≤ 39 characters; apps end in "[bot]".
LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$")
MAX_LABELS = 10
MAX_LABEL_CHARS = 100
ANALYSE_ACTOR = "analyse_pull_request"
MERGE_INSTANT = timedelta(microseconds=1)


def _labels(request: web.Request) -> tuple[str, ...]:
    labels = tuple(printable("label", label) for label in request.query.getall("label", []))
    if len(labels) > MAX_LABELS:
        raise bad_request("label", f"at most {MAX_LABELS} labels")
    if any(not label.strip() or len(label) > MAX_LABEL_CHARS for label in labels):
        raise bad_request("label", f"each label: 1-{MAX_LABEL_CHARS} characters")
    return labels


def _states(request: web.Request) -> tuple[str, ...]:
    raw = single(request, "state")
    if raw is None:
        return ()
    states = tuple(dict.fromkeys(s.strip().lower() for s in raw.split(",")))
    if not all(s in STATES for s in states):
        raise bad_request("state", f"comma-separated: {', '.join(STATES)}")
    return states


def _author(request: web.Request) -> str | None:
    raw = single(request, "author")
    if raw is not None and not LOGIN.match(raw):
        raise bad_request("author", "must be a GitHub login")
    return raw


def _after(request: web.Request) -> tuple[datetime, int] | None:
    position = decode_cursor(request, CURSOR_KIND)
    if position is None:
        return None
    created, row_id = position
    try:
        return datetime.fromisoformat(created), row_id
    except (TypeError, ValueError):
        raise bad_request("cursor", "invalid position") from None


@routes.get("/api/pull-requests")
async def list_pull_requests(request: web.Request) -> web.Response:
    """Newest first. `from`/`to` filter on creation only when given (no default window)."""
    async with request.app[POOL].acquire() as conn:
        installation_id, _ = await installation_of(request)
        repository_ids = await repositories_of(request, conn, installation_id)
        team_id = await team_of(request, conn, installation_id)
        period = period_of(request, required=False)
        filters = PullRequestFilters(
            installation_id=installation_id, states=_states(request), author=_author(request),
            repository_ids=repository_ids, team_id=team_id,
            risk=choice(request, "risk", tuple(RISK_BANDS)), labels=_labels(request),
            created_from=period.start if period else None, created_to=period.end if period else None,
            after=_after(request))
        limit = limit_of(request)
        rows = await fetch_page(conn, filters, limit)
    return responses.json(page(request, CURSOR_KIND, rows, limit, "github_created_at"))


async def visible_pull_request(request: web.Request, conn: asyncpg.Connection, *,
                               minimum_role: str = "VIEWER") -> asyncpg.Record:
    """The PR named in the path if the caller may see its installation; else 404."""
    pull_request_id = path_id(request, "pull_request_id")
    visible = await visible_installations(request)
    row = await pull_requests.find_visible(conn, pull_request_id, sorted(visible))
    if row is None:
        raise not_found()
    await require_installation(request, row["installation_id"], minimum_role=minimum_role)
    return row


async def _stages(conn: asyncpg.Connection, pr: asyncpg.Record) -> dict[str, Any] | None:
    """The merged PR's cycle time and stages (hours), from the same service and rules as
    /api/metrics/cycle-time: the metric over the instant it was merged, explained."""
    merged_at = pr["merged_at"]
    if merged_at is None:
        return None
    scope = service.Scope(installation_id=pr["installation_id"],
                          period=Period(merged_at, merged_at + MERGE_INSTANT),
                          repository_ids=(pr["repository_id"],))
    report = to_json(await computed(service.cycle_time(conn, scope, explain=True)), explain=True)
    figures = {"cycle_time": report["cycle_time"], **report["stages"]}
    stages = {name: _value_for(figure, pr["id"]) for name, figure in figures.items()}
    if stages.pop("cycle_time") is None:
        # Left out of the metric (a bot's PR, a disconnected repository, not yet computed).
        reasons = [e["reason"] for e in report["cycle_time"]["excluded"]
                   if any(i["id"] == pr["id"] for i in e.get("items", []))]
        return {"counted": False, "excluded": reasons or ["not in the computed metric yet"]}
    return {"counted": True, "unit": report["cycle_time"]["unit"],
            "cycle_time": _value_for(report["cycle_time"], pr["id"]), **stages}


def _value_for(figure: dict[str, Any], pull_request_id: int) -> float | None:
    return next((item["value"] for item in figure.get("items", []) if item["id"] == pull_request_id),
                None)


@routes.get("/api/pull-requests/{pull_request_id}")
async def get_pull_request(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        pr = await visible_pull_request(request, conn)
        timeline = await pull_requests.timeline(conn, pr["id"], pr["installation_id"])
        reviews = await pull_requests.reviews(conn, pr["id"], pr["installation_id"])
        stages = await _stages(conn, pr)
    return responses.json({**dict(pr), "timeline": [dict(r) for r in timeline],
                           "reviews": [dict(r) for r in reviews], "stages": stages})


@routes.get("/api/pull-requests/{pull_request_id}/ai-insights")
async def ai_insights(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        pr = await visible_pull_request(request, conn)
        row = await ai_reviews.latest_for(conn, pr["id"], pr["installation_id"])
    if row is None:
        return responses.json({"pull_request": pr["id"], "status": "none"})
    insight = dict(row)
    insight["cost_usd"] = float(insight["cost_usd"])
    return responses.json({"pull_request": pr["id"], "current_head": insight["head_sha"] == pr["head_sha"],
                           **insight})


@routes.post("/api/pull-requests/{pull_request_id}/reanalyze")
async def reanalyze(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        pr = await visible_pull_request(request, conn, minimum_role="DEVELOPER")
    await request.app[SEND](ANALYSE_ACTOR, pull_request_id=pr["id"], reason="api")
    return responses.json({"pull_request": pr["id"], "analysis": "queued"}, status=202)
