"""Issues and milestones (velocity and burndown read these)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from devmetrics_app.store.upsert import upsert
from devmetrics_app.store.users import upsert_user
from devmetrics_app.timeutil import parse_ts


def open_or_closed(obj: Mapping[str, Any]) -> str:
    """GitHub sends 'open'/'closed'; the schema stores upper case like pull requests do."""
    return "CLOSED" if obj.get("state") == "closed" else "OPEN"


async def upsert_milestone(
    conn: asyncpg.Connection, installation_id: int, repository_id: int, milestone: Mapping[str, Any]
) -> str:
    """Store a milestone object (from a milestone event or nested in an issue); newest wins.

    `deleted_at` is not part of the row, so a late, older payload can never undo a deletion.
    """
    creator_id = await upsert_user(conn, milestone.get("creator"))
    updated_at = milestone.get("updated_at") or milestone.get("created_at")
    return await upsert(
        conn,
        "milestones",
        {
            "id": milestone["id"],
            "installation_id": installation_id,
            "repository_id": repository_id,
            "number": milestone["number"],
            "title": milestone.get("title") or "",
            "description": milestone.get("description"),
            "state": open_or_closed(milestone),
            "creator_id": creator_id,
            "open_issues": milestone.get("open_issues"),
            "closed_issues": milestone.get("closed_issues"),
            "due_on": parse_ts(milestone.get("due_on")),
            "github_created_at": parse_ts(milestone.get("created_at")),
            "github_updated_at": parse_ts(updated_at),
            "closed_at": parse_ts(milestone.get("closed_at")),
        },
        version="github_updated_at",
    )


async def mark_milestone_deleted(conn: asyncpg.Connection, milestone_id: int, *, at: datetime) -> None:
    """A deletion is final; the first time we learnt of it stands (replays change nothing)."""
    await conn.execute(
        """UPDATE milestones SET deleted_at = $2, updated_at = now()
           WHERE id = $1 AND deleted_at IS NULL""",
        milestone_id, at,
    )


async def upsert_issue(
    conn: asyncpg.Connection, installation_id: int, repository_id: int, issue: Mapping[str, Any]
) -> str:
    """Store an issue object; newest `updated_at` wins. Returns 'inserted', 'updated' or 'stale'.

    `deleted_at` and `transferred_to` are terminal facts set by their own statements, never by
    this row, so an older delivery replayed after them cannot revive the issue.
    """
    author = issue.get("user")
    author_id = await upsert_user(conn, author)
    assignees = [a for a in issue.get("assignees") or [] if a]
    for assignee in sorted(assignees, key=lambda a: a.get("id") or 0):  # one lock order (lock_order)
        await upsert_user(conn, assignee)
    return await upsert(
        conn,
        "issues",
        {
            "id": issue["id"],
            "installation_id": installation_id,
            "repository_id": repository_id,
            "number": issue["number"],
            "title": issue.get("title") or "",
            "body": issue.get("body"),
            "state": open_or_closed(issue),
            "state_reason": issue.get("state_reason"),
            "author_id": author_id,
            "author_login": (author or {}).get("login"),
            "labels": sorted({lbl["name"] for lbl in issue.get("labels") or [] if lbl}),
            "assignee_ids": sorted({int(a["id"]) for a in assignees}),
            "milestone_id": (issue.get("milestone") or {}).get("id"),
            "html_url": issue.get("html_url"),
            "github_created_at": parse_ts(issue["created_at"]),
            "github_updated_at": parse_ts(issue.get("updated_at") or issue["created_at"]),
            "closed_at": parse_ts(issue.get("closed_at")),
        },
        version="github_updated_at",
    )


async def mark_issue_deleted(conn: asyncpg.Connection, issue_id: int, *, at: datetime) -> None:
    """Keep the row (history, metrics already computed) but flag it; first sighting stands."""
    await conn.execute(
        """UPDATE issues SET deleted_at = $2, updated_at = now()
           WHERE id = $1 AND deleted_at IS NULL""",
        issue_id, at,
    )


async def mark_issue_transferred(conn: asyncpg.Connection, issue_id: int, *, to: str) -> None:
    """The old issue id stops existing on GitHub once moved; the new one has a new id."""
    await conn.execute(
        """UPDATE issues SET transferred_to = $2, updated_at = now()
           WHERE id = $1 AND transferred_to IS DISTINCT FROM $2""",
        issue_id, to,
    )


async def has_live_milestone(db: asyncpg.Connection | asyncpg.Pool, installation_id: int,
                             milestone_id: int) -> bool:
    known = await db.fetchval(
        "SELECT 1 FROM milestones WHERE id = $1 AND installation_id = $2 AND deleted_at IS NULL",
        milestone_id, installation_id)
    return bool(known)


async def recent_milestones(db: asyncpg.Connection | asyncpg.Pool, installation_id: int,
                            limit: int) -> list[asyncpg.Record]:
    """Live milestones with their repository's name, latest due first."""
    return await db.fetch(
        """SELECT m.id, m.title, m.state, r.full_name FROM milestones m
           JOIN repositories r ON r.id = m.repository_id
           WHERE m.installation_id = $1 AND m.deleted_at IS NULL
           ORDER BY m.due_on DESC NULLS LAST, m.id DESC LIMIT $2""", installation_id, limit)
