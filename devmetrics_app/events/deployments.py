"""deployment and deployment_status events: what shipped where, and how it went."""

from __future__ import annotations

from gidgethub import routing
from gidgethub.sansio import Event

from devmetrics_app.events.context import Context, required_object, store_repository
from devmetrics_app.store import deployments

router = routing.Router()


async def _store_deployment(event: Event, ctx: Context) -> tuple[int, int, int]:
    """Upsert the repository and the deployment carried by either event."""
    inst, repo_id = await store_repository(event, ctx)
    deployment = required_object(event, "deployment")
    await deployments.upsert_deployment(ctx.conn, inst, repo_id, deployment)
    ctx.request_rollup(repo_id, deployment.get("created_at"))
    return inst, repo_id, int(deployment["id"])


@router.register("deployment")
async def on_deployment(event: Event, ctx: Context) -> None:
    """created: the start of a DORA deployment (its status arrives separately)."""
    await _store_deployment(event, ctx)


@router.register("deployment_status")
async def on_deployment_status(event: Event, ctx: Context) -> None:
    """created: keep every status, and move the deployment's latest state only forward in
    time. The deployment is stored from this payload too: a status can beat its deployment."""
    inst, repo_id, deployment_id = await _store_deployment(event, ctx)
    status = required_object(event, "deployment_status")
    await deployments.upsert_status(ctx.conn, inst, repo_id, deployment_id, status)
    await deployments.refresh_latest_status(ctx.conn, deployment_id)
    ctx.request_rollup(repo_id, status.get("created_at"))
    ctx.request_notifications(inst, "deployment_status.created", int(status["id"]))
