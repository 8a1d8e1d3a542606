"""Sprints: velocity bars for the closed sprints of the period, and one milestone's burndown."""

from __future__ import annotations

from aiohttp import web

from devmetrics_app.metrics import service
from devmetrics_app.store import issues
from devmetrics_app.web.api.query import computed, parse_id, single
from devmetrics_app.web.api.serialize import to_json
from devmetrics_app.web.dashboard import charts
from devmetrics_app.web.dashboard.common import (
    filter_options,
    filters_of,
    installation_context,
    page,
    pool,
    render,
)
from devmetrics_app.web.tenancy import not_found

routes = web.RouteTableDef()

MILESTONES_SHOWN = 50


@routes.get("/orgs/{installation_id}/sprints")
@page
async def sprints(request: web.Request) -> web.Response:
    async with pool(request).acquire() as conn:
        context = await installation_context(request, conn)
        installation_id = context["installation"]["id"]
        # Weighted velocity wants several sprints: a quarter unless the visitor picks a period.
        filters = await filters_of(request, conn, installation_id, default_period="90")
        options = await filter_options(conn, installation_id)
        # The page shows the API's numbers in the API's shape (the template reads `velocity.trend`).
        velocity = to_json(await computed(service.velocity(conn, filters.scope())))
        milestones = [dict(m) for m in await issues.recent_milestones(conn, installation_id,
                                                                      MILESTONES_SHOWN)]
        raw = single(request, "milestone")
        chosen = parse_id("milestone", raw) if raw else (milestones[0]["id"] if milestones else None)
        burndown = None
        if chosen is not None:
            report = await computed(service.burndown(conn, filters.scope(), chosen))
            if report is None and raw:
                raise not_found()
            burndown = to_json(report, explain=True)
    shown = list(reversed(velocity.get("sprints", [])))
    velocity_chart = charts.bars("Story points completed per sprint",
                                 [f"{s['title']} ({s['repository']})" for s in shown],
                                 [s["points"] for s in shown], unit="points", x_label="Sprint",
                                 y_label="Completed")
    burndown_chart = None
    if burndown is not None:
        days = burndown["days"]
        burndown_chart = charts.lines(
            f"Burndown of {burndown['milestone']['title']}", [d["day"][5:] for d in days],
            {"Remaining": [d["remaining"] for d in days], "Ideal": [d["ideal"] for d in days],
             "Scope": [d["scope"] for d in days]},
            unit="points", x_label="Day", y_label="Points left")
    return render(request, "sprints.html", {
        **context, "filters": filters, "velocity": velocity, "velocity_chart": velocity_chart,
        "milestones": milestones, "chosen": chosen, "burndown": burndown,
        "burndown_chart": burndown_chart, "live_rooms": [f"org:{installation_id}"],
        "repositories": options["repositories"]})
