"""People's flow: throughput, review load and cycle-time stages — a coaching view, not a ranking.

One person's page is shown to the person themself and to managers (MANAGER or ADMIN) of the
installation; anyone else gets the same 404 as for a person who does not exist, so the page
reveals nothing. The People table (everyone, alphabetical) is for managers; others are sent to
their own page.
"""

from __future__ import annotations

from aiohttp import web

from devmetrics_app.metrics import service
from devmetrics_app.web.api.analytics import _known_user
from devmetrics_app.web.api.params import path_id
from devmetrics_app.web.api.query import computed
from devmetrics_app.web.dashboard import charts
from devmetrics_app.web.dashboard.common import (
    filter_options,
    filters_of,
    installation_context,
    page,
    pool,
    render,
    signed_in,
)
from devmetrics_app.web.dashboard.export import csv_response, wants_csv
from devmetrics_app.web.dashboard.figures import STAGE_WORDS
from devmetrics_app.web.tenancy import not_found, role_at_least

routes = web.RouteTableDef()

PEOPLE_CSV = ("login", "prs_opened", "prs_merged", "reviews_given", "commits", "average_cycle_time_hours",
              "work_in_progress", "open_review_requests")


@routes.get("/orgs/{installation_id}/people")
@page
async def people(request: web.Request) -> web.Response:
    """Everyone's flow in one table for managers (alphabetical: a coaching view, not a ranking);
    anyone else is sent to their own page."""
    async with pool(request).acquire() as conn:
        context = await installation_context(request, conn)
        installation = context["installation"]
        if not role_at_least(installation["role"], "MANAGER"):
            raise web.HTTPFound(f"/orgs/{installation['id']}/people/{signed_in(request).user_id}")
        filters = await filters_of(request, conn, installation["id"])
        result = await computed(service.team_analytics(conn, filters.scope()))
        options = await filter_options(conn, installation["id"])
    if wants_csv(request):
        return csv_response("people.csv", PEOPLE_CSV,
                            ([getattr(p, column) for column in PEOPLE_CSV] for p in result.people))
    return render(request, "people.html", {**context, **options, "filters": filters, "team": result,
                                           "live_rooms": [f"org:{installation['id']}"]})


@routes.get("/orgs/{installation_id}/people/{user_id}")
@page
async def individual(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    async with pool(request).acquire() as conn:
        context = await installation_context(request, conn)
        installation = context["installation"]
        if user_id != signed_in(request).user_id and not role_at_least(installation["role"], "MANAGER"):
            raise not_found()
        await _known_user(conn, installation["id"], user_id)
        filters = await filters_of(request, conn, installation["id"])
        result = await computed(service.individual_analytics(conn, filters.scope(), user_id))
        options = await filter_options(conn, installation["id"])
    if result is None:
        raise not_found()
    stages = result.cycle_time.stages
    chart = charts.horizontal_bars(
        "Median hours per cycle-time stage",
        [(stage, figure.median) for stage, figure in stages.items() if figure.median is not None],
        unit="hours", label_header="Stage")
    return render(request, "person.html", {**context, "filters": filters, "person": result,
                                           "stage_chart": chart, "stage_words": STAGE_WORDS,
                                           "live_rooms": [f"org:{installation['id']}"],
                                           "repositories": options["repositories"],
                                           "self": user_id == signed_in(request).user_id})
