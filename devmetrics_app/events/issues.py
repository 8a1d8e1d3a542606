"""issues and milestone events: the raw material of velocity and burndown."""

from __future__ import annotations

from gidgethub import routing
from gidgethub.sansio import Event

from devmetrics_app.events.context import (
    Context,
    Unprocessable,
    required_object,
    store_repository,
)
from devmetrics_app.store import issues

router = routing.Router()

API_REPOS_PREFIX = "/repos/"


def _transfer_target(event: Event) -> str:
    """The repository the issue moved to: changes.new_repository, else the new issue's URL."""
    changes = event.data.get("changes") or {}
    full_name = (changes.get("new_repository") or {}).get("full_name")
    if full_name:
        return str(full_name)
    repository_url = str((changes.get("new_issue") or {}).get("repository_url") or "")
    if API_REPOS_PREFIX in repository_url:
        return repository_url.split(API_REPOS_PREFIX, 1)[1]
    raise Unprocessable("issues.transferred names no new repository")


@router.register("issues")
async def on_issues(event: Event, ctx: Context) -> None:
    """Every action carries the whole issue: store it (newest wins); deleted and transferred
    also record their terminal fact, which no later delivery can undo."""
    inst, repo_id = await store_repository(event, ctx)
    issue = required_object(event, "issue")
    if issue.get("pull_request"):
        return  # the issue side of a pull request: the pull_request handlers own PRs
    milestone = issue.get("milestone")
    if milestone:
        await issues.upsert_milestone(ctx.conn, inst, repo_id, milestone)
    await issues.upsert_issue(ctx.conn, inst, repo_id, issue)
    ctx.request_rollup(repo_id, issue.get("created_at"), issue.get("closed_at"), issue.get("updated_at"))
    action = event.data.get("action")
    if action == "deleted":
        # The payload holds the issue as it was; GitHub gives no deletion time.
        await issues.mark_issue_deleted(ctx.conn, int(issue["id"]), at=ctx.received_at)
    elif action == "transferred":
        await issues.mark_issue_transferred(ctx.conn, int(issue["id"]), to=_transfer_target(event))


@router.register("milestone")
async def on_milestone(event: Event, ctx: Context) -> None:
    """created/edited/closed/opened carry the whole milestone; deleted also flags the row."""
    inst, repo_id = await store_repository(event, ctx)
    milestone = required_object(event, "milestone")
    await issues.upsert_milestone(ctx.conn, inst, repo_id, milestone)
    ctx.request_rollup(repo_id, milestone.get("updated_at"))
    if event.data.get("action") == "deleted":
        await issues.mark_milestone_deleted(ctx.conn, int(milestone["id"]), at=ctx.received_at)
