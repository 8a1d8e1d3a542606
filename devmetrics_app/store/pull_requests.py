"""Pull requests, their timeline, reviews and review comments."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from devmetrics_app.store.upsert import upsert
from devmetrics_app.store.users import upsert_user
from devmetrics_app.timeutil import parse_ts

# The "simple" pull request object inside review and review-comment events lacks these counts;
# a missing value must not blank out what a pull_request event stored.
COUNT_COLUMNS = ("additions", "deletions", "changed_files", "commits_count", "comments_count",
                 "merged_by_id", "author_association")

REVIEW_STATES = {"approved", "changes_requested", "commented", "dismissed", "pending"}
# Review actions in the order they can happen to one review, for ties on the PR's clock.
REVIEW_ACTION_RANK = {"submitted": 0, "edited": 1, "dismissed": 2}


def pull_request_state(pr: Mapping[str, Any]) -> str:
    if pr.get("merged_at") or pr.get("merged"):
        return "MERGED"
    return "CLOSED" if pr.get("state") == "closed" else "OPEN"


def requested_reviewers(pr: Mapping[str, Any]) -> list[dict[str, Any]]:
    people = [{"id": u["id"], "login": u["login"], "kind": "user"}
              for u in pr.get("requested_reviewers") or [] if u]
    teams = [{"id": t["id"], "login": t.get("slug") or t.get("name"), "kind": "team"}
             for t in pr.get("requested_teams") or [] if t]
    return people + teams


async def upsert_pull_request(
    conn: asyncpg.Connection, installation_id: int, repository_id: int, pr: Mapping[str, Any]
) -> str:
    """Store a PR object; newest `updated_at` wins. Returns 'inserted', 'updated' or 'stale'."""
    author_id = await upsert_user(conn, pr.get("user"))
    merged_by_id = await upsert_user(conn, pr.get("merged_by"))
    head = pr.get("head") or {}
    base = pr.get("base") or {}
    head_repo = head.get("repo")
    base_repo = base.get("repo") or {}
    row: dict[str, Any] = {
        "id": pr["id"],
        "installation_id": installation_id,
        "repository_id": repository_id,
        "number": pr["number"],
        "node_id": pr.get("node_id"),
        "title": pr.get("title") or "",
        "body": pr.get("body"),
        "author_id": author_id,
        "author_login": (pr.get("user") or {}).get("login"),
        "author_association": pr.get("author_association"),
        "state": pull_request_state(pr),
        "draft": bool(pr.get("draft")),
        "locked": bool(pr.get("locked")),
        "base_ref": base.get("ref"),
        "base_sha": base.get("sha"),
        "head_ref": head.get("ref"),
        "head_sha": head.get("sha"),
        "head_repository_id": head_repo.get("id") if head_repo else None,
        # A deleted fork leaves head.repo null: it was still a fork.
        "is_fork": head_repo is None or head_repo.get("id") != base_repo.get("id", repository_id),
        "additions": pr.get("additions"),
        "deletions": pr.get("deletions"),
        "changed_files": pr.get("changed_files"),
        "commits_count": pr.get("commits"),
        "comments_count": pr.get("comments"),
        "labels": sorted({label["name"] for label in pr.get("labels") or []}),
        "requested_reviewers": requested_reviewers(pr),
        "assignee_ids": sorted({a["id"] for a in pr.get("assignees") or [] if a}),
        "milestone_id": (pr.get("milestone") or {}).get("id"),
        "merged_by_id": merged_by_id,
        "merge_commit_sha": pr.get("merge_commit_sha"),
        "html_url": pr.get("html_url"),
        "github_created_at": parse_ts(pr["created_at"]),
        "github_updated_at": parse_ts(pr["updated_at"]),
        "closed_at": parse_ts(pr.get("closed_at")),
        "merged_at": parse_ts(pr.get("merged_at")),
    }
    if "review_comments" in pr:
        row["review_comments_count"] = pr["review_comments"]
    return await upsert(conn, "pull_requests", row, version="github_updated_at",
                        keep_existing=COUNT_COLUMNS)


async def record_event(
    conn: asyncpg.Connection,
    *,
    pull_request_id: int,
    installation_id: int,
    kind: str,
    occurred_at: datetime,
    actor_id: int | None = None,
    subject: str = "",
    details: Mapping[str, Any] | None = None,
) -> None:
    """Add a timeline entry; the same entry twice (a redelivery) is one row."""
    await conn.execute(
        """INSERT INTO pull_request_events
               (pull_request_id, installation_id, kind, occurred_at, actor_id, subject, details)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT DO NOTHING""",
        pull_request_id, installation_id, kind, occurred_at, actor_id, subject, dict(details or {}),
    )


async def note_ready_for_review(conn: asyncpg.Connection, pull_request_id: int, at: datetime) -> None:
    """Keep the earliest moment the PR was ready for review, whatever order events arrive in."""
    await conn.execute(
        """UPDATE pull_requests SET ready_for_review_at = LEAST(ready_for_review_at, $2)
           WHERE id = $1""",
        pull_request_id, at,
    )


async def upsert_review(
    conn: asyncpg.Connection,
    installation_id: int,
    repository_id: int,
    pull_request_id: int,
    review: Mapping[str, Any],
    *,
    version_at: datetime,
    action: str = "submitted",
) -> str:
    state = str(review.get("state") or "commented").lower()
    if state not in REVIEW_STATES:
        state = "commented"
    reviewer = review.get("user")
    reviewer_id = await upsert_user(conn, reviewer)
    return await upsert(
        conn,
        "pull_request_reviews",
        {
            "id": review["id"],
            "installation_id": installation_id,
            "repository_id": repository_id,
            "pull_request_id": pull_request_id,
            "reviewer_id": reviewer_id,
            "reviewer_login": (reviewer or {}).get("login"),
            "state": state.upper(),
            "body": review.get("body"),
            "commit_id": review.get("commit_id"),
            "author_association": review.get("author_association"),
            "html_url": review.get("html_url"),
            "submitted_at": parse_ts(review.get("submitted_at")),
            "version_at": version_at,
            "version_rank": 2 if state == "dismissed" else REVIEW_ACTION_RANK.get(action, 0),
        },
        version=("version_at", "version_rank"),
        keep_existing=("submitted_at",),
    )


async def upsert_review_comment(
    conn: asyncpg.Connection,
    installation_id: int,
    pull_request_id: int,
    comment: Mapping[str, Any],
    *,
    deleted_at: datetime | None = None,
) -> None:
    """Store a review comment; a deletion is final whatever order the deliveries come in.

    The PR's `review_comments_count` comes only from full PR payloads (GitHub's own count at
    that version): counting here as well would depend on the order deliveries arrive in."""
    user_id = await upsert_user(conn, comment.get("user"))
    await upsert(
        conn,
        "pull_request_review_comments",
        {
            "id": comment["id"],
            "installation_id": installation_id,
            "pull_request_id": pull_request_id,
            "review_id": comment.get("pull_request_review_id"),
            "user_id": user_id,
            "path": comment.get("path"),
            "github_created_at": parse_ts(comment.get("created_at")),
            "github_updated_at": parse_ts(comment.get("updated_at") or comment.get("created_at")),
        },
        version="github_updated_at",
        touch=False,
    )
    if deleted_at is not None:
        await conn.execute(
            """UPDATE pull_request_review_comments SET deleted_at = COALESCE(deleted_at, $2)
               WHERE id = $1""",
            comment["id"], deleted_at,
        )


# --------------------------------------------------------------------------- reads for the API and pages

DETAIL_COLUMNS = """pr.id, pr.installation_id, pr.repository_id, repo.full_name AS repository,
    pr.number, pr.title, pr.body, pr.author_id, pr.author_login, pr.state, pr.draft, pr.base_ref,
    pr.head_ref, pr.head_sha, pr.is_fork, pr.additions, pr.deletions, pr.changed_files,
    pr.commits_count, pr.labels, pr.requested_reviewers, pr.milestone_id, pr.merge_commit_sha,
    pr.html_url, pr.github_created_at, pr.ready_for_review_at, pr.first_commit_at, pr.merged_at,
    pr.closed_at"""


async def find_visible(db: asyncpg.Connection | asyncpg.Pool, pull_request_id: int,
                       installation_ids: list[int]) -> asyncpg.Record | None:
    """The pull request with its repository's name, if it belongs to one of `installation_ids`."""
    return await db.fetchrow(
        f"SELECT {DETAIL_COLUMNS} FROM pull_requests pr "  # noqa: S608 - constant column list
        "JOIN repositories repo ON repo.id = pr.repository_id "
        "WHERE pr.id = $1 AND pr.installation_id = ANY($2::bigint[])",
        pull_request_id, installation_ids)


async def timeline(db: asyncpg.Connection | asyncpg.Pool, pull_request_id: int,
                   installation_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        """SELECT kind, occurred_at, actor_id, subject, details FROM pull_request_events
           WHERE pull_request_id = $1 AND installation_id = $2 ORDER BY occurred_at, kind""",
        pull_request_id, installation_id)


async def reviews(db: asyncpg.Connection | asyncpg.Pool, pull_request_id: int,
                  installation_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        """SELECT id, reviewer_id, reviewer_login, state, submitted_at, commit_id, html_url
           FROM pull_request_reviews WHERE pull_request_id = $1 AND installation_id = $2
           ORDER BY submitted_at NULLS LAST, id""",
        pull_request_id, installation_id)


async def installation_of(db: asyncpg.Connection | asyncpg.Pool, pull_request_id: int,
                          installation_ids: list[int]) -> int | None:
    """The pull request's installation if it is one of `installation_ids`, else None."""
    return await db.fetchval(
        "SELECT installation_id FROM pull_requests WHERE id = $1 AND installation_id = ANY($2::bigint[])",
        pull_request_id, installation_ids)
