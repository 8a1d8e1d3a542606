"""workflow_run, check_suite and check_run events: build outcomes per commit and PR."""

from __future__ import annotations

from collections.abc import Mapping

from gidgethub import routing
from gidgethub.sansio import Event

from devmetrics_app.events.context import (
    Context,
    Unprocessable,
    required_object,
    store_repository,
)
from devmetrics_app.store import ci
from devmetrics_app.timeutil import parse_ts

router = routing.Router()


@router.register("workflow_run")
async def on_workflow_run(event: Event, ctx: Context) -> None:
    """requested / in_progress / completed all carry the whole run: newest updated_at wins."""
    inst, repo_id = await store_repository(event, ctx)
    run = required_object(event, "workflow_run")
    await ci.upsert_workflow_run(ctx.conn, inst, repo_id, run)
    if run.get("status") == "completed":
        ctx.request_rollup(repo_id, run.get("created_at"), run.get("updated_at"))
        ctx.request_notifications(inst, "workflow_run.completed", int(run["id"]))


@router.register("check_suite")
async def on_check_suite(event: Event, ctx: Context) -> None:
    """requested / rerequested / completed: store the suite, newest updated_at wins."""
    inst, repo_id = await store_repository(event, ctx)
    await ci.upsert_check_suite(ctx.conn, inst, repo_id, required_object(event, "check_suite"))


@router.register("check_run")
async def on_check_run(event: Event, ctx: Context) -> None:
    """created / completed / rerequested / requested_action: store the run and its suite.

    The nested suite is stored too (newest wins), so a run never points at an unknown suite
    when its check_suite delivery is late or was never subscribed to.
    """
    inst, repo_id = await store_repository(event, ctx)
    run = required_object(event, "check_run")
    suite = run.get("check_suite")
    if isinstance(suite, Mapping) and suite.get("id") is not None:
        await ci.upsert_check_suite(ctx.conn, inst, repo_id, suite)
    version_at = ci.check_run_version(run) or parse_ts((suite or {}).get("updated_at"))
    if version_at is None:
        raise Unprocessable("check_run has no started_at, completed_at or suite updated_at")
    await ci.upsert_check_run(ctx.conn, inst, repo_id, run, version_at=version_at)
