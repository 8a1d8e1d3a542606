"""push events: commits per branch."""

from __future__ import annotations

from gidgethub import routing
from gidgethub.sansio import Event

from devmetrics_app.events.context import Context, store_repository
from devmetrics_app.store.commits import insert_push_commits

router = routing.Router()

BRANCH_PREFIX = "refs/heads/"


@router.register("push")
async def on_push(event: Event, ctx: Context) -> None:
    data = event.data
    inst, repo_id = await store_repository(event, ctx)
    ref = str(data.get("ref") or "")
    # A deleted branch brings no commits; tags are not development work.
    if data.get("deleted") or not ref.startswith(BRANCH_PREFIX):
        return
    commits = data.get("commits") or []
    await insert_push_commits(ctx.conn, installation_id=inst, repository_id=repo_id,
                              branch=ref.removeprefix(BRANCH_PREFIX), commits=commits)
    ctx.request_rollup(repo_id, *(commit.get("timestamp") for commit in commits))
