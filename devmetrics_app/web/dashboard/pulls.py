"""The pull request list (filters: state, author, risk, repository) and one pull request with
its timeline, reviews, cycle-time stages and AI insights.

Parsing, SQL and tenancy are the JSON API's (web/api/pull_requests.py, store/pull_request_list.py):
the page is another rendering of the same answers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from devmetrics_app.store import ai_reviews, pull_requests
from devmetrics_app.store.pull_request_list import RISK_BANDS, SORTS, STATES, PullRequestFilters, fetch_sorted
from devmetrics_app.web.api import pull_requests as api
from devmetrics_app.web.api.query import choice, encode_cursor, repositories_of
from devmetrics_app.web.dashboard import pull_detail
from devmetrics_app.web.dashboard.common import (
    bad_request,
    filter_options,
    installation_context,
    installation_path_id,
    page,
    pool,
    render,
)
from devmetrics_app.web.dashboard.export import csv_response, wants_csv
from devmetrics_app.web.tenancy import not_found

routes = web.RouteTableDef()

PAGE_SIZE = 50
# Sorting by anything but "opened" ranks the newest SORT_WINDOW matching pull requests (keyset
# paging only follows the creation order); the page says so when the window is full.
SORT_WINDOW = 5_000
CSV_ROWS = SORT_WINDOW
ORDERS = ("desc", "asc")
CSV_HEADERS = ("number", "title", "repository", "author", "state", "risk_score", "additions",
               "deletions", "changed_files", "opened_at", "merged_at", "closed_at", "age_hours",
               "cycle_time_hours", "url")


def _offset(request: web.Request) -> int:
    raw = request.query.get("offset", "0")
    if not raw.isdigit() or int(raw) > SORT_WINDOW:
        raise bad_request("offset", f"a number from 0 to {SORT_WINDOW}")
    return int(raw)


def risk_band(score: int | None) -> str | None:
    if score is None:
        return None
    return next((band for band, (low, high) in RISK_BANDS.items() if low <= score <= high), None)


@routes.get("/orgs/{installation_id}/pulls")
@page
async def pull_request_list(request: web.Request) -> web.Response:
    sort = choice(request, "sort", tuple(SORTS)) or "opened"
    order = choice(request, "order", ORDERS) or "desc"
    offset = _offset(request) if sort != "opened" else 0
    csv = wants_csv(request)
    async with pool(request).acquire() as conn:
        context = await installation_context(request, conn)
        installation_id = context["installation"]["id"]
        repository_ids = await repositories_of(request, conn, installation_id)
        filters = PullRequestFilters(
            installation_id=installation_id, states=api._states(request),
            author=api._author(request) or None, repository_ids=repository_ids,
            risk=choice(request, "risk", tuple(RISK_BANDS)),
            after=api._after(request) if sort == "opened" else None)
        size = CSV_ROWS if csv else PAGE_SIZE
        rows = await fetch_sorted(conn, filters, sort, order, limit=size, offset=offset, window=SORT_WINDOW)
        options = {} if csv else await filter_options(conn, installation_id)
    more = len(rows) > size
    rows = rows[:size]
    if csv:
        return csv_response("pull-requests.csv", CSV_HEADERS, (
            (r["number"], r["title"], r["repository"], r["author_login"], r["state"].lower(),
             r["risk_score"], r["additions"], r["deletions"], r["changed_files"], r["github_created_at"],
             r["merged_at"], r["closed_at"], r["age_hours"], r["cycle_time_hours"], r["html_url"])
            for r in rows))
    for row in rows:
        row["risk"] = risk_band(row["risk_score"])
    kept = [(k, v) for k, v in request.query.items() if k not in ("cursor", "offset")]
    next_query = None
    if more and sort == "opened":
        last = rows[-1]
        cursor = encode_cursor(request, api.CURSOR_KIND, last["github_created_at"], last["id"])
        next_query = [*kept, ("cursor", cursor)]
    elif more and offset + size < SORT_WINDOW:
        next_query = [*kept, ("offset", str(offset + size))]
    filter_query = [(k, v) for k, v in kept if k not in ("sort", "order", "format")]
    return render(request, "pulls.html", {
        **context, **options, "rows": rows, "states": STATES, "risks": tuple(RISK_BANDS),
        "selected": {"state": ",".join(filters.states), "author": filters.author or "",
                     "risk": filters.risk or "", "repository": repository_ids or ()},
        "sort": sort, "order": order, "filter_query": urlencode(filter_query),
        "csv_query": urlencode([*kept, ("format", "csv")]),
        "next_query": next_query, "live_rooms": [f"org:{installation_id}"]})


async def _insight(conn, pr) -> dict[str, Any] | None:
    row = await ai_reviews.latest_for(conn, pr["id"], pr["installation_id"])
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
        timeline = await pull_requests.timeline(conn, pr["id"], pr["installation_id"])
        reviews = await pull_requests.reviews(conn, pr["id"], pr["installation_id"])
        stages = await api._stages(conn, pr)
        insight = await _insight(conn, pr)
    return render(request, "pull.html", {
        **context, "pr": dict(pr), "timeline": pull_detail.timeline(pr, timeline, reviews),
        "stages": stages, "insight": insight,
        "stage_names": ("coding", "pickup", "review", "merge", "deploy"),
        # Its own events, and its repository's rollups (they recompute its stages).
        "live_rooms": [f"pr:{pr['id']}", f"repo:{pr['repository_id']}"]})
