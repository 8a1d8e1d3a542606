"""One sticky comment per pull request, found again by a hidden marker and edited in place.

We list the pull request's issue comments (every page) and take the first one that both carries
the marker and was written by our app's bot: anybody can paste the marker into their own comment,
and we must neither edit theirs (we could not) nor be fooled into posting a second one of ours.
Below the threshold we post nothing; if our comment already exists, it is edited to say the risk
dropped, because a silent deletion would look like the concern had never been raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gidgethub.abc import GitHubAPI

from devmetrics_app.review import render
from devmetrics_app.review.result import ReviewResult

MARKER = "<!-- devmetrics:risk -->"
PER_PAGE = 100


def is_ours(comment: Mapping[str, Any], bot_login: str | None) -> bool:
    user = comment.get("user") or {}
    if MARKER not in str(comment.get("body") or ""):
        return False
    if bot_login:
        return str(user.get("login", "")).lower() == bot_login.lower()
    return user.get("type") == "Bot"


async def find(gh: GitHubAPI, repository: str, number: int,
               bot_login: str | None) -> Mapping[str, Any] | None:
    async for comment in gh.getiter(f"/repos/{repository}/issues/{number}/comments?per_page={PER_PAGE}"):
        if is_ours(comment, bot_login):
            return comment
    return None


async def publish(gh: GitHubAPI, repository: str, number: int, result: ReviewResult, *, head_sha: str,
                  threshold: int, bot_login: str | None) -> int | None:
    """Post, edit or leave alone; returns the comment's id when one exists afterwards."""
    existing = await find(gh, repository, number, bot_login)
    if result.score >= threshold:
        body = render.render(render.COMMENT_TEMPLATE, marker=MARKER, r=result, head_sha=head_sha,
                             threshold=threshold)
    elif existing is not None:
        body = render.render(render.COMMENT_BELOW_TEMPLATE, marker=MARKER, r=result, head_sha=head_sha,
                             threshold=threshold)
    else:
        return None
    if existing is None:
        created = await gh.post(f"/repos/{repository}/issues/{number}/comments", data={"body": body})
        return int(created["id"])
    if existing.get("body") != body:
        await gh.patch(f"/repos/{repository}/issues/comments/{existing['id']}", data={"body": body})
    return int(existing["id"])
