"""One production deployment: what the change-failure and deployment-frequency explanations link
to, so "which deployment failed, and why" is one click from the figure.

A deployment is either a GitHub deployment or, for a repository that never deploys, a deploy
workflow run (metrics/dora.py's two release sources), each with its own path.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from devmetrics_app.digits import bounded_int
from devmetrics_app.store import deployments
from devmetrics_app.web.api.params import MAX_ID
from devmetrics_app.web.dashboard.common import installation_context, page, pool, render
from devmetrics_app.web.tenancy import not_found

routes = web.RouteTableDef()

# Release source -> the path segment of its page.
SOURCES = {"deployment": "deployments", "workflow_run": "deploy-runs"}


def deployment_path(installation_id: int, source: str, deployment_id: Any) -> str:
    return f"/orgs/{installation_id}/{SOURCES[source]}/{deployment_id}"


def _safe_url(url: str | None) -> str | None:
    """Only web links are rendered as links (a stored URL came from a webhook payload)."""
    return url if url and url.startswith(("https://", "http://")) else None


async def _load(conn: asyncpg.Connection, installation_id: int, source: str,
                deployment_id: int) -> dict[str, Any] | None:
    row = await deployments.release_subject(conn, installation_id, source, deployment_id)
    if row is None:
        return None
    out = dict(row)
    out["html_url"] = _safe_url(out["html_url"])
    out["statuses"] = []
    if source == "deployment":
        out["statuses"] = [{**dict(s), "log_url": _safe_url(s["log_url"])}
                           for s in await deployments.statuses(conn, deployment_id, installation_id)]
    release = await deployments.release(conn, source, deployment_id, installation_id)
    out["release"] = dict(release) if release else None
    return out


@routes.get("/orgs/{installation_id}/deployments/{deployment_id}")
@page
async def deployment(request: web.Request) -> web.Response:
    return await _page(request, "deployment", request.match_info["deployment_id"])


@routes.get("/orgs/{installation_id}/deploy-runs/{run_id}")
@page
async def deploy_run(request: web.Request) -> web.Response:
    return await _page(request, "workflow_run", request.match_info["run_id"])


async def _page(request: web.Request, source: str, raw_id: str) -> web.Response:
    deployment_id = bounded_int(raw_id, MAX_ID)
    if not deployment_id:
        raise not_found()
    async with pool(request).acquire() as conn:
        context = await installation_context(request, conn)
        found = await _load(conn, context["installation"]["id"], source, deployment_id)
    if found is None:
        raise not_found()
    return render(request, "deployment.html", {**context, "source": source, "d": found})
