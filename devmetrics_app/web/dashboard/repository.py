"""The repository list and one repository's page: its totals, cycle time, build success,
deployments and recent pull requests for the period in the URL."""

from __future__ import annotations

from aiohttp import web

from devmetrics_app.importer.runner import progress_for
from devmetrics_app.metrics import service
from devmetrics_app.metrics.service import Scope
from devmetrics_app.store import repositories as store_repositories
from devmetrics_app.store.pull_request_list import PullRequestFilters, fetch_page
from devmetrics_app.web.api.query import computed
from devmetrics_app.web.api.repositories import visible_repository
from devmetrics_app.web.api.serialize import to_json
from devmetrics_app.web.dashboard import charts, repository_status
from devmetrics_app.web.dashboard.common import (
    Filters,
    installation_context,
    installation_path_id,
    page,
    period_filter,
    pool,
    render,
)
from devmetrics_app.web.dashboard.export import csv_response, wants_csv
from devmetrics_app.web.dashboard.overview import buckets, slice_label
from devmetrics_app.web.dashboard.pulls import risk_band
from devmetrics_app.web.tenancy import not_found

routes = web.RouteTableDef()

RECENT_PULLS = 10
REPOSITORIES_CSV = ("repository", "in_metrics", "prs_merged", "average_cycle_time_hours",
                    "build_success_percent", "workflow_runs", "deployments", "failed_deployments",
                    "history_import", "import_errors")


@routes.get("/orgs/{installation_id}/repositories")
@page
async def repository_list(request: web.Request) -> web.Response:
    async with pool(request).acquire() as conn:
        context = await installation_context(request, conn)
        installation_id = context["installation"]["id"]
        period_choice, period = period_filter(request)
        rows = await store_repositories.list_for_page(conn, installation_id)
        repositories = await repository_status.annotate(conn, installation_id, period,
                                                        [dict(r) for r in rows])
    if wants_csv(request):
        return csv_response("repositories.csv", REPOSITORIES_CSV, (
            (r["full_name"], r["connected"], r["figures"]["prs_merged"], r["figures"]["average_cycle_time"],
             r["figures"]["build_success"], r["figures"]["workflow_runs"], r["figures"]["deployments"],
             r["figures"]["failed_deployments"], r["history"]["state"], r["history"].get("errors"))
            for r in repositories))
    return render(request, "repositories.html", {
        **context, "repositories": repositories,
        "filters": Filters(installation_id, period_choice, period, None, None)})


@routes.get("/orgs/{installation_id}/repositories/{repository_id}")
@page
async def repository(request: web.Request) -> web.Response:
    repo = await visible_repository(request)
    if repo["installation_id"] != installation_path_id(request):
        raise not_found()
    async with pool(request).acquire() as conn:
        context = await installation_context(request, conn)
        installation_id = context["installation"]["id"]
        period_choice, period = period_filter(request)
        filters = Filters(installation_id, period_choice, period, (repo["id"],), None)
        result = await computed(service.repository_analytics(conn, filters.scope(), repo["id"]))
        if result is None:
            raise not_found()
        slices = buckets(period)
        merged = [(await service.throughput(conn, Scope(installation_id, p, (repo["id"],))))
                  .pull_requests_merged.value for p in slices]
        recent = (await fetch_page(conn, PullRequestFilters(installation_id=installation_id,
                                                            repository_ids=(repo["id"],)),
                                   RECENT_PULLS))[:RECENT_PULLS]
        progress = await progress_for(conn, repo["id"])
        imported = await repository_status.history(conn, installation_id, repo["id"])
    for row in recent:
        row["risk"] = risk_band(row["risk_score"])
    chart = charts.bars("Pull requests merged", [slice_label(p) for p in slices], merged,
                        unit="pull requests", x_label="Merged in", y_label="Merged", integer=True)
    return render(request, "repository.html", {
        **context, "repo": dict(repo), "filters": filters, "result": to_json(result), "chart": chart,
        "recent": recent, "progress": progress,
        "history": imported.get(repo["id"], repository_status.NOT_STARTED),
        "live_rooms": [f"repo:{repo['id']}"]})
