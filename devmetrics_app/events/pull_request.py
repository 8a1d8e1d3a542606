"""pull_request, pull_request_review and pull_request_review_comment events."""

from __future__ import annotations

from gidgethub import routing
from gidgethub.sansio import Event

from devmetrics_app.events.context import Context, store_repository
from devmetrics_app.store import pull_requests
from devmetrics_app.timeutil import parse_ts

router = routing.Router()

# Actions that event-driven notification rules look at (pr_opened, merged without review...).
NOTIFYING_ACTIONS = frozenset({"opened", "ready_for_review", "closed"})
# Actions whose moment is worth keeping on the PR's timeline (for cycle-time stages).
TIMELINE_ACTIONS = frozenset({
    "opened", "reopened", "closed", "ready_for_review", "converted_to_draft",
    "review_requested", "review_request_removed", "synchronize",
})


async def _store_pull_request(event: Event, ctx: Context) -> tuple[int, int, int, str]:
    """Upsert the repository and PR carried by any PR-family event."""
    inst, repo_id = await store_repository(event, ctx)
    pr = event.data["pull_request"]
    result = await pull_requests.upsert_pull_request(ctx.conn, inst, repo_id, pr)
    return inst, repo_id, int(pr["id"]), result


def _timeline_entry(event: Event) -> tuple[str, str, dict]:
    """(kind, subject, details) for a pull_request action."""
    data = event.data
    pr = data["pull_request"]
    action = data["action"]
    if action in {"review_requested", "review_request_removed"}:
        if data.get("requested_team"):
            return action, "team:" + str(data["requested_team"].get("slug")), {}
        return action, "user:" + str((data.get("requested_reviewer") or {}).get("login")), {}
    if action == "closed":
        return ("merged" if pr.get("merged") else "closed"), "", {}
    if action == "synchronize":
        return action, str(data.get("after") or pr["head"]["sha"]), {"before": data.get("before")}
    if action == "opened":
        return action, "", {"draft": bool(pr.get("draft"))}
    return action, "", {}


def _occurred_at(event: Event):
    pr = event.data["pull_request"]
    action = event.data["action"]
    if action == "opened":
        return parse_ts(pr["created_at"])
    if action == "closed":
        return parse_ts(pr.get("merged_at") or pr.get("closed_at") or pr["updated_at"])
    return parse_ts(pr["updated_at"])


@router.register("pull_request")
async def on_pull_request(event: Event, ctx: Context) -> None:
    """Every action carries the whole PR: store it (newest wins) and note the moment."""
    inst, repo_id, pr_id, _ = await _store_pull_request(event, ctx)
    pr = event.data["pull_request"]
    ctx.request_rollup(repo_id, pr["created_at"], pr.get("merged_at"), pr.get("closed_at"),
                       pr["updated_at"])
    action = event.data.get("action")
    if action not in TIMELINE_ACTIONS:
        return
    kind, subject, details = _timeline_entry(event)
    occurred_at = _occurred_at(event)
    sender_id = (event.data.get("sender") or {}).get("id")
    await pull_requests.record_event(ctx.conn, pull_request_id=pr_id, installation_id=inst,
                                     kind=kind, occurred_at=occurred_at, actor_id=sender_id,
                                     subject=subject, details=details)
    if (action == "opened" and not pr.get("draft")) or action == "ready_for_review":
        await pull_requests.note_ready_for_review(ctx.conn, pr_id, occurred_at)
    if action in NOTIFYING_ACTIONS:
        ctx.request_notifications(inst, f"pull_request.{action}", pr_id)


@router.register("pull_request_review")
async def on_review(event: Event, ctx: Context) -> None:
    inst, repo_id, pr_id, _ = await _store_pull_request(event, ctx)
    # The PR's updated_at moves with every review change: a per-PR clock for newest-wins.
    version_at = parse_ts(event.data["pull_request"]["updated_at"])
    await pull_requests.upsert_review(ctx.conn, inst, repo_id, pr_id, event.data["review"],
                                      version_at=version_at, action=event.data.get("action", ""))
    ctx.request_rollup(repo_id, event.data["review"].get("submitted_at"),
                       event.data["pull_request"].get("merged_at"))


@router.register("pull_request_review_comment")
async def on_review_comment(event: Event, ctx: Context) -> None:
    inst, repo_id, pr_id, _ = await _store_pull_request(event, ctx)
    comment = event.data["comment"]
    ctx.request_rollup(repo_id, comment.get("created_at"))
    deleted_at = None
    if event.data.get("action") == "deleted":
        deleted_at = parse_ts(event.data["pull_request"]["updated_at"]) or ctx.received_at
    await pull_requests.upsert_review_comment(ctx.conn, inst, pr_id, comment, deleted_at=deleted_at)
