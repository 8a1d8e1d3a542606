"""Commits, from pushes and from history import."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from devmetrics_app.timeutil import parse_ts

# Push payloads carry no parents: a merge commit is known by the message git and GitHub give
# it ("Merge pull request #N from ...", "Merge branch 'x'"). A squash or rebase merge is a
# single-parent change and keeps its own message, so it is not matched.
MERGE_MESSAGE = re.compile(r"^Merge (pull request #\d+ from |branch '|remote-tracking branch '|commit ')")

# A commit's content never changes; only the set of branches it was pushed to grows, and the
# moment it first reached the default branch only moves earlier (least() skips NULLs), so
# deliveries in any order give the same row.
INSERT_COMMITS = """
INSERT INTO commits AS stored (repository_id, sha, installation_id, author_login, author_name,
                     author_email, committer_name, committer_email, message, authored_at,
                     committed_at, branches, is_merge, default_branch_pushed_at)
SELECT $1, c.sha, $2, c.login, c.author_name, c.author_email, c.committer_name,
       c.committer_email, c.message, c.authored_at, c.committed_at, ARRAY[$3::text], c.is_merge, $14
FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
            $11::timestamptz[], $12::timestamptz[], $13::boolean[])
     AS c (sha, login, author_name, author_email, committer_name, committer_email, message,
           authored_at, committed_at, is_merge)
ON CONFLICT (repository_id, sha) DO UPDATE
    SET branches = ARRAY(SELECT DISTINCT b FROM unnest(stored.branches || EXCLUDED.branches) AS b
                         ORDER BY b),
        is_merge = stored.is_merge OR EXCLUDED.is_merge,
        default_branch_pushed_at = least(stored.default_branch_pushed_at,
                                         EXCLUDED.default_branch_pushed_at)
    WHERE NOT stored.branches @> EXCLUDED.branches
       OR (EXCLUDED.is_merge AND NOT stored.is_merge)
       OR EXCLUDED.default_branch_pushed_at < coalesce(stored.default_branch_pushed_at, 'infinity')
"""


def is_merge_message(message: str | None) -> bool:
    return bool(message and MERGE_MESSAGE.match(message))


async def insert_push_commits(
    conn: asyncpg.Connection,
    *,
    installation_id: int,
    repository_id: int,
    branch: str,
    commits: Sequence[Mapping[str, Any]],
    default_branch_pushed_at: datetime | None = None,
) -> None:
    """Store the commits of a push (push commits carry no user id: match the login we know);
    `default_branch_pushed_at` is the push's time when it went to the default branch."""
    if not commits:
        return
    authors = [c.get("author") or {} for c in commits]
    committers = [c.get("committer") or {} for c in commits]
    times = [parse_ts(c.get("timestamp")) for c in commits]
    await conn.execute(
        INSERT_COMMITS,
        repository_id,
        installation_id,
        branch,
        [c["id"] for c in commits],
        [a.get("username") for a in authors],
        [a.get("name") for a in authors],
        [a.get("email") for a in authors],
        [c.get("name") for c in committers],
        [c.get("email") for c in committers],
        [c.get("message") for c in commits],
        times,
        times,
        [is_merge_message(c.get("message")) for c in commits],
        default_branch_pushed_at,
    )
