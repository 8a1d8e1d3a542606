"""Publishing a stored review: the sticky comment, then the completed check run.

A separate, idempotent step, because the result is paid for and stored before GitHub is told:
when the completing PATCH fails (a 502 the client's own retries did not outlast), the
`publish_review` job publishes the *stored* result again until GitHub has it, and never asks
the model twice. `published_at` on the row says it is done; the row lock (`ledger.current`)
keeps two publishers from racing.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import dramatiq
from gidgethub.abc import GitHubAPI

from devmetrics_app.review import checks, comment, ledger
from devmetrics_app.review.result import from_row

PUBLISHED = "published"
NOTHING_TO_PUBLISH = "nothing to publish"
COMPLETED = ("completed",)


@dataclass(frozen=True)
class Destination:
    """Where and how a pull request's review is shown."""

    gh: GitHubAPI
    repository: str
    number: int
    threshold: int
    blocking: bool
    bot_login: str | None
    installation_id: int
    pull_request_id: int


async def publish(pool: asyncpg.Pool, to: Destination, review_id: int) -> str:
    """Publish review `review_id` unless it is published already (or not completed)."""
    async with ledger.current(pool, review_id, statuses=COMPLETED) as conn:
        if conn is None:
            return NOTHING_TO_PUBLISH
        row = await conn.fetchrow("SELECT * FROM ai_reviews WHERE id = $1", review_id)
        if row["published_at"] is not None:
            return NOTHING_TO_PUBLISH
        result = from_row(row)
        head_sha = row["head_sha"]
        # The comment goes first, so a completed check run means everything is published.
        if await ledger.newest_for_pull_request(conn, review_id):
            comment_id = await comment.publish(to.gh, to.repository, to.number, result, head_sha=head_sha,
                                               threshold=to.threshold, bot_login=to.bot_login)
            if comment_id is not None:
                await ledger.set_comment(conn, review_id, comment_id)
        run_id = await checks.complete(to.gh, to.repository, row["check_run_id"], result,
                                       head_sha=head_sha, external_id=review_id, blocking=to.blocking,
                                       reused=result.reused)
        await ledger.mark_published(conn, review_id, run_id)
    # pr_high_risk notification rules look at every completed analysis; open pages refresh.
    broker = dramatiq.get_broker()
    broker.get_actor("notify_event").send(to.installation_id, "ai_review.completed", review_id)
    broker.get_actor("publish_live").send(
        [f"org:{to.installation_id}", f"pr:{to.pull_request_id}"],
        {"type": "analysis.completed", "pull_request": to.pull_request_id, "analysis": review_id})
    return PUBLISHED
