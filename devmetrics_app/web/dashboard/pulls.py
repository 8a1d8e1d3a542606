"""The pull request list (filters: state, author, risk, repository) and one pull request with
its timeline, reviews, cycle-time stages and AI insights.

Parsing, SQL and tenancy are the JSON API's (web/api/pull_requests.py, pull_request_list.py):
the page is another rendering of the same answers.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from devmetrics_app.web.api import pull_requests as api
from devmetrics_app.web.api.pull_request_list import RISK_BANDS, STATES, PullRequestFilters, list_sql
from devmetrics_app.web.api.query import choice, encode_cursor, repositories_of
from devmetrics_app.web.dashboard import pull_detail
from devmetrics_app.web.dashboard.common import (
    filter_options,
    installation_context,
    installation_path_id,
    page,
    pool,
    render,
)
from devmetrics_app.web.tenancy import not_found

routes = web.RouteTableDef()

PAGE_SIZE = 50


def risk_band(score: int | None) -> str | None:
    if score is None:
        return None
    return next((band for band, (low, high) in RISK_BANDS.items() if low <= score <= high), None)


@routes.get("/orgs/{installation_id}/pulls")
@page
async def pull_request_list(request: web.Request) -> web.Response:
    async with pool(request).acquire() as conn:
        context = await installation_context(request, conn)
        installation_id = context["installation"]["id"]
        repository_ids = await repositories_of(request, conn, installation_id)
        filters = PullRequestFilters(
            installation_id=installation_id, states=api._states(request),
            author=api._author(request) or None, repository_ids=repository_ids,
            risk=choice(request, "risk", tuple(RISK_BANDS)), after=api._after(request))
        sql, args = list_sql(filters, PAGE_SIZE)
        rows = [dict(r) for r in await conn.fetch(sql, *args)]
        options = await filter_options(conn, installation_id)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    for row in rows:
        row["risk"] = risk_band(row["risk_score"])
    next_query = None
    if more:
        last = rows[-1]
        kept = [(k, v) for k, v in request.query.items() if k != "cursor"]
        cursor = encode_cursor(request, api.CURSOR_KIND, last["github_created_at"], last["id"])
        next_query = [*kept, ("cursor", cursor)]
    return render(request, "pulls.html", {
        **context, **options, "rows": rows, "states": STATES, "risks": tuple(RISK_BANDS),
        "selected": {"state": ",".join(filters.states), "author": filters.author or "",
                     "risk": filters.risk or "", "repository": repository_ids or ()},
        "next_query": next_query, "live_rooms": [f"org:{installation_id}"]})


async def _insight(conn, pr) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {api.INSIGHT_COLUMNS} FROM ai_reviews "  # noqa: S608 - constant column list
        "WHERE pull_request_id = $1 AND installation_id = $2 ORDER BY created_at DESC, id DESC LIMIT 1",
        pr["id"], pr["installation_id"])
    if row is None:
        return None
    insight = dict(row)
    insight["cost_usd"] = float(insight["cost_usd"] or 0)
    insight["current_head"] = insight["head_sha"] == pr["head_sha"]
    insight["risk"] = risk_band(insight["risk_score"])
    insight["coverage"] = pull_detail.coverage(insight["coverage"])
    insight["findings"] = pull_detail.findings(insight["findings"])
    return insight


@routes.get("/orgs/{installation_id}/pulls/{pull_request_id}")
@page
async def pull_request(request: web.Request) -> web.Response:
    async with pool(request).acquire() as conn:
        pr = await api.visible_pull_request(request, conn)
        if pr["installation_id"] != installation_path_id(request):
            raise not_found()
        context = await installation_context(request, conn)
        timeline = await conn.fetch(
            """SELECT kind, occurred_at, actor_id, subject, details FROM pull_request_events
               WHERE pull_request_id = $1 AND installation_id = $2 ORDER BY occurred_at, kind""",
            pr["id"], pr["installation_id"])
        reviews = await conn.fetch(
            """SELECT reviewer_login, state, submitted_at, html_url FROM pull_request_reviews
               WHERE pull_request_id = $1 AND installation_id = $2 ORDER BY submitted_at NULLS LAST, id""",
            pr["id"], pr["installation_id"])
        stages = await api._stages(conn, pr)
        insight = await _insight(conn, pr)
    return render(request, "pull.html", {
        **context, "pr": dict(pr), "timeline": pull_detail.timeline(pr, timeline, reviews),
        "stages": stages, "insight": insight,
        "stage_names": ("coding", "pickup", "review", "merge", "deploy"),
        # Its own events, and its repository's rollups (they recompute its stages).
        "live_rooms": [f"pr:{pr['id']}", f"repo:{pr['repository_id']}"]})
