"""Which open dashboard pages a webhook should refresh, as a router of its own.

Handlers run inside the delivery's transaction, before its rows are committed: publishing there
would let a page refetch figures that do not include the change yet. So a handler only asks for
a follow-up job (`LIVE_ACTOR`, enqueued after commit, like the rollup and notify follow-ups);
the job (jobs/actors.py) calls `publish_all`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from gidgethub.routing import Router
from gidgethub.sansio import Event

from devmetrics_app.events.context import Context
from devmetrics_app.web.dashboard.live import publish

LIVE_ACTOR = "publish_live"
router = Router()


def rooms_for(event: Event) -> tuple[list[str], dict[str, Any]] | None:
    """(rooms, message) for an activity event; None when it names no installation."""
    data: Mapping[str, Any] = event.data
    installation = (data.get("installation") or {}).get("id")
    if not installation:
        return None
    rooms = [f"org:{installation}"]
    repository = (data.get("repository") or {}).get("id")
    if repository:
        rooms.append(f"repo:{repository}")
    pull_request = (data.get("pull_request") or {}).get("id")
    if pull_request:
        rooms.append(f"pr:{pull_request}")
    message = {"type": f"{event.event}.{data.get('action', '')}".rstrip("."),
               "installation": installation, "repository": repository, "pull_request": pull_request}
    return rooms, message


@router.register("pull_request")
@router.register("pull_request_review")
@router.register("workflow_run", action="completed")
@router.register("deployment_status")
@router.register("issues")
async def page_refresh(event: Event, ctx: Context, *args: Any, **kwargs: Any) -> None:
    found = rooms_for(event)
    if found is not None:
        rooms, message = found
        ctx.followups.append((LIVE_ACTOR, {"rooms": rooms, "event": message}))


async def publish_all(redis: aioredis.Redis, rooms: list[str], event: dict[str, Any]) -> None:
    """The body of the LIVE_ACTOR job: one message per room."""
    for room in rooms:
        await publish(redis, room, event)
