"""The organisation overview: DORA tiles, cycle-time stages over time, throughput, build
success and review load, for the period and filters in the URL.

The figures come from metrics/service.py (the same calls as /api/metrics/*), in groups each on
its own pooled connection (the DORA keys of both periods one connection each), so the page costs
about as long as its slowest group rather than the sum of a dozen queries. No group holds a
connection while it waits for another, so a busy pool makes pages wait, never deadlock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import asyncpg
from aiohttp import web

from devmetrics_app.metrics import service
from devmetrics_app.metrics.calc.dora import ELITE_MAX_LEAD_TIME_HOURS
from devmetrics_app.metrics.explain import Period
from devmetrics_app.metrics.service import Scope
from devmetrics_app.store import installations
from devmetrics_app.web.api.query import computed
from devmetrics_app.web.api.serialize import to_json
from devmetrics_app.web.dashboard import charts
from devmetrics_app.web.dashboard.common import (
    Filters,
    filter_options,
    filters_of,
    installation_context,
    page,
    pool,
    render,
)
from devmetrics_app.web.dashboard.figures import COUNTED, DORA_THRESHOLDS, change

routes = web.RouteTableDef()

STAGE_BUCKETS = 6
CHART_STAGES = ("coding", "pickup", "review", "merge", "deploy")
# Shown in the stage table beside the chart's stages (they overlap pickup and review).
REVIEW_WAITS = ("time_to_first_review", "time_to_approval")
DORA_KEYS = ("deployment_frequency", "lead_time", "change_failure_rate", "time_to_restore")
T = TypeVar("T")


async def on_connection(db: asyncpg.Pool, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    async with db.acquire() as conn:
        return await computed(work(conn))


def buckets(period: Period, count: int = STAGE_BUCKETS) -> list[Period]:
    """Up to `count` consecutive whole-day slices of the period (fewer for short periods)."""
    days = max(1, round(period.days))
    size = max(1, -(-days // count))
    out, start = [], period.start
    while start < period.end:
        end = min(start + timedelta(days=size), period.end)
        out.append(Period(start, end))
        start = end
    return out


def slice_label(p: Period) -> str:
    last = p.end - timedelta(seconds=1)
    return p.start.strftime("%d %b") if p.start.date() == last.date() else (
        f"{p.start:%d %b}\u2013{last:%d %b}")


async def _dora(db: asyncpg.Pool, filters: Filters) -> dict[str, Any]:
    # The tiles show the API's figures in the API's shape (templates read `figure.benchmark`).
    current, previous = (to_json(report) for report in await asyncio.gather(
        computed(service.dora_concurrently(db, filters.scope())),
        computed(service.dora_concurrently(db, filters.previous()))))
    tiles = []
    for key in DORA_KEYS:
        figure, before = current[key], previous[key]
        value = (figure.get("deployment_days_per_week") if key == "deployment_frequency"
                 else figure["value"])
        old = (before.get("deployment_days_per_week") if key == "deployment_frequency"
               else before["value"])
        tiles.append({"key": key, "figure": figure, "value": value, "previous": old,
                      "change": change(value, old, key), "thresholds": DORA_THRESHOLDS[key],
                      "counted": COUNTED[key],
                      "unit": "deploy days/week" if key == "deployment_frequency" else figure["unit"]})
    return {"tiles": tiles, "source": current["benchmark_source"]}


async def _stage_medians(conn: asyncpg.Connection, filters: Filters,
                         slices: list[Period]) -> list[dict[str, float | None]]:
    out = []
    for p in slices:
        report = await service.cycle_time(conn, _sub(filters, p))
        out.append({stage: report.stages[stage].value for stage in CHART_STAGES})
    return out


def _cycle_chart(slices: list[Period], medians: list[dict[str, float | None]]) -> charts.Chart:
    stacks = {stage: [m[stage] for m in medians] for stage in CHART_STAGES}
    return charts.stacked_bars(
        "Median PR cycle-time stages over time", [slice_label(p) for p in slices], stacks,
        unit="hours", x_label="Merged in", y_label="Median stage time")


def _sub(filters: Filters, period: Period) -> Scope:
    return Scope(filters.installation_id, period, filters.repository_ids, filters.team_id)


async def _flow(conn: asyncpg.Connection, filters: Filters) -> dict[str, Any]:
    scope = filters.scope()
    # The page shows the API's numbers in the API's shape (templates read `figure.p95`).
    return to_json({"cycle": await service.cycle_time(conn, scope),
                    "throughput": await service.throughput(conn, scope),
                    "builds": await service.build_success(conn, scope),
                    "load": await service.review_load(conn, scope)})


async def _flow_series(conn: asyncpg.Connection, filters: Filters,
                       slices: list[Period]) -> list[tuple[float | None, float | None, float | None]]:
    """Throughput, build success and DORA lead time per slice (the stages' slices, with the
    same team and repository filters as every other figure on the page)."""
    out = []
    for p in slices:
        scope = _sub(filters, p)
        merged = (await service.throughput(conn, scope)).pull_requests_merged.value
        out.append((merged, (await service.build_success(conn, scope)).value,
                    (await service.lead_time(conn, scope)).value))
    return out


@routes.get("/orgs/{installation_id}")
@page
async def overview(request: web.Request) -> web.Response:
    db = pool(request)
    async with db.acquire() as conn:
        context = await installation_context(request, conn)
        filters = await filters_of(request, conn, context["installation"]["id"])
        options = await filter_options(conn, filters.installation_id)
    slices = buckets(filters.period)
    half = len(slices) // 2
    dora, flow, early, late, series = await asyncio.gather(
        _dora(db, filters),
        on_connection(db, lambda c: _flow(c, filters)),
        on_connection(db, lambda c: _stage_medians(c, filters, slices[:half])),
        on_connection(db, lambda c: _stage_medians(c, filters, slices[half:])),
        on_connection(db, lambda c: _flow_series(c, filters, slices)))
    labels = [slice_label(p) for p in slices]
    reviewers = list(flow["load"].get("per_reviewer", {}).items())[:15]
    cycle = {"overall": flow["cycle"], "chart": _cycle_chart(slices, early + late)}
    dora["lead_chart"] = charts.lines(
        "Lead time for changes", labels, {"Median lead time": [lead for _, _, lead in series]},
        unit="hours", x_label="Deployed in", y_label="Commit to production",
        band=charts.Band(0, ELITE_MAX_LEAD_TIME_HOURS, "DORA elite: under a day"))
    flow.update(
        throughput_chart=charts.bars("Pull requests merged", labels, [m for m, _, _ in series],
                                     unit="pull requests", x_label="Merged in", y_label="Merged",
                                     integer=True),
        build_chart=charts.lines("Build success", labels, {"Build success": [b for _, b, _ in series]},
                                 unit="%", x_label="Completed in", y_label="Successful runs", top=100),
        load_chart=charts.horizontal_bars("Open review requests per reviewer", reviewers,
                                          unit="review requests", label_header="Reviewer",
                                          integer=True))
    installation_id = filters.installation_id
    return render(request, "overview.html", {
        **context, **options, "filters": filters, "dora": dora, "cycle": cycle, "flow": flow,
        "stages": (*CHART_STAGES, *REVIEW_WAITS),
        "live_rooms": [f"org:{installation_id}"]})


@routes.get("/dashboard")
@page
async def dashboard(request: web.Request) -> web.Response:
    """Where sign-in lands: the only installation's overview, or a choice among several."""
    from devmetrics_app.web.tenancy import visible_installations

    visible = await visible_installations(request)
    if len(visible) == 1:
        raise web.HTTPFound(f"/orgs/{next(iter(visible))}")
    rows = await installations.list_by_ids(pool(request), sorted(visible))
    return render(request, "installations.html",
                  {"installations": [{**dict(r), "role": visible[r["id"]]} for r in rows]})
