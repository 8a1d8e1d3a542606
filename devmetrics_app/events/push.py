"""push events: commits per branch."""

from __future__ import annotations

from gidgethub import routing
from gidgethub.sansio import Event

from devmetrics_app.events.context import Context, installation_id
from devmetrics_app.store.commits import insert_push_commits
from devmetrics_app.store.repositories import upsert_repository

router = routing.Router()

BRANCH_PREFIX = "refs/heads/"


@router.register("push")
async def on_push(event: Event, ctx: Context) -> None:
    data = event.data
    inst = installation_id(event)
    repo_id = await upsert_repository(ctx.conn, inst, data["repository"])
    ref = str(data.get("ref") or "")
    # A deleted branch brings no commits; tags are not development work.
    if data.get("deleted") or not ref.startswith(BRANCH_PREFIX):
        return
    await insert_push_commits(ctx.conn, installation_id=inst, repository_id=repo_id,
                              branch=ref.removeprefix(BRANCH_PREFIX),
                              commits=data.get("commits") or [])
