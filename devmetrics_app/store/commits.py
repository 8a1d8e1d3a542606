"""Commits, from pushes and from history import."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from devmetrics_app.timeutil import parse_ts

# A commit's content never changes; only the set of branches it was pushed to grows.
INSERT_COMMITS = """
INSERT INTO commits AS stored (repository_id, sha, installation_id, author_login, author_name,
                     author_email, committer_name, committer_email, message, authored_at,
                     committed_at, branches)
SELECT $1, c.sha, $2, c.login, c.author_name, c.author_email, c.committer_name,
       c.committer_email, c.message, c.authored_at, c.committed_at, ARRAY[$3::text]
FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
            $11::timestamptz[], $12::timestamptz[])
     AS c (sha, login, author_name, author_email, committer_name, committer_email, message,
           authored_at, committed_at)
ON CONFLICT (repository_id, sha) DO UPDATE
    SET branches = ARRAY(SELECT DISTINCT b FROM unnest(stored.branches || EXCLUDED.branches) AS b
                         ORDER BY b)
    WHERE NOT stored.branches @> EXCLUDED.branches
"""


async def insert_push_commits(
    conn: asyncpg.Connection,
    *,
    installation_id: int,
    repository_id: int,
    branch: str,
    commits: Sequence[Mapping[str, Any]],
) -> None:
    """Store the commits of a push (push commits carry no user id: match the login we know)."""
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
    )
