"""Webhooks that start an AI risk review. These handlers write nothing: they only ask for jobs,
which run once the delivery's transaction (and the pull request row it stores) has committed."""

from __future__ import annotations

from gidgethub import routing
from gidgethub.sansio import Event

from devmetrics_app.events.context import Context
from devmetrics_app.review import triggers

router = routing.Router()


@router.register("pull_request")
async def on_pull_request(event: Event, ctx: Context) -> None:
    if (followup := triggers.for_pull_request(event.data)) is not None:
        ctx.followups.append(followup)


@router.register("check_run")
async def on_check_run(event: Event, ctx: Context) -> None:
    if (followup := triggers.for_check_run(event.data)) is not None:
        ctx.followups.append(followup)


@router.register("check_suite")
async def on_check_suite(event: Event, ctx: Context) -> None:
    if (followup := triggers.for_check_suite(event.data)) is not None:
        ctx.followups.append(followup)
