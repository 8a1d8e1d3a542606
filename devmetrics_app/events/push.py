"""push events: commits per branch."""

from __future__ import annotations

from datetime import datetime

from gidgethub import routing
from gidgethub.sansio import Event

from devmetrics_app.events.context import Context, store_repository
from devmetrics_app.store.commits import insert_push_commits
from devmetrics_app.timeutil import parse_ts

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
    branch = ref.removeprefix(BRANCH_PREFIX)
    reached_at = _default_branch_push_time(data, branch)
    await insert_push_commits(ctx.conn, installation_id=inst, repository_id=repo_id,
                              branch=branch, commits=commits, default_branch_pushed_at=reached_at)
    ctx.request_rollup(repo_id, reached_at, *(commit.get("timestamp") for commit in commits))


def _default_branch_push_time(data: dict, branch: str) -> datetime | None:
    """When this push's commits reached the default branch (None for other branches): the
    push's own time (`repository.pushed_at`, unix seconds in push payloads), else its head
    commit's time. For a PR's commits this is the merge, for a direct push the push."""
    repo = data.get("repository") or {}
    if branch != (repo.get("default_branch") or repo.get("master_branch")):
        return None
    return parse_ts(repo.get("pushed_at")) or parse_ts((data.get("head_commit") or {}).get("timestamp"))
