"""One production deployment: what the change-failure and deployment-frequency explanations link
to, so "which deployment failed, and why" is one click from the figure.

A deployment is either a GitHub deployment or, for a repository that never deploys, a deploy
workflow run (metrics/dora.py's two release sources), each with its own path.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from devmetrics_app.digits import is_decimal
from devmetrics_app.web.dashboard.common import installation_context, page, pool, render
from devmetrics_app.web.tenancy import not_found

routes = web.RouteTableDef()

# Release source -> the path segment of its page.
SOURCES = {"deployment": "deployments", "workflow_run": "deploy-runs"}
DEPLOYMENT_SQL = """
SELECT d.id, d.repository_id, r.full_name AS repository, d.sha, d.ref, d.environment, d.description,
       d.latest_state AS state, d.github_created_at AS created_at, NULL::text AS html_url, NULL::text AS name
FROM deployments d JOIN repositories r ON r.id = d.repository_id
WHERE d.installation_id = $1 AND d.id = $2"""
RUN_SQL = """
SELECT w.id, w.repository_id, r.full_name AS repository, w.head_sha AS sha, w.head_branch AS ref,
       NULL::text AS environment, NULL::text AS description, w.conclusion AS state,
       w.github_created_at AS created_at, w.html_url, w.name
FROM workflow_runs w JOIN repositories r ON r.id = w.repository_id
WHERE w.installation_id = $1 AND w.id = $2"""
STATUSES_SQL = """
SELECT state, description, log_url, github_created_at AS at FROM deployment_statuses
WHERE deployment_id = $1 AND installation_id = $2 ORDER BY github_created_at, id"""
RELEASE_SQL = """
SELECT succeeded_at, failed_at, outcome_at, commits FROM releases
WHERE source = $1 AND id = $2 AND installation_id = $3"""


def deployment_path(installation_id: int, source: str, deployment_id: Any) -> str:
    return f"/orgs/{installation_id}/{SOURCES[source]}/{deployment_id}"


def _safe_url(url: str | None) -> str | None:
    """Only web links are rendered as links (a stored URL came from a webhook payload)."""
    return url if url and url.startswith(("https://", "http://")) else None


async def _load(conn: asyncpg.Connection, installation_id: int, source: str,
                deployment_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(DEPLOYMENT_SQL if source == "deployment" else RUN_SQL,
                              installation_id, deployment_id)
    if row is None:
        return None
    out = dict(row)
    out["html_url"] = _safe_url(out["html_url"])
    out["statuses"] = []
    if source == "deployment":
        out["statuses"] = [{**dict(s), "log_url": _safe_url(s["log_url"])}
                           for s in await conn.fetch(STATUSES_SQL, deployment_id, installation_id)]
    release = await conn.fetchrow(RELEASE_SQL, source, deployment_id, installation_id)
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
    if not is_decimal(raw_id) or not 0 < int(raw_id) < 2**63:
        raise not_found()
    async with pool(request).acquire() as conn:
        context = await installation_context(request, conn)
        found = await _load(conn, context["installation"]["id"], source, int(raw_id))
    if found is None:
        raise not_found()
    return render(request, "deployment.html", {**context, "source": source, "d": found})
