"""Repositories an installation can see."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from devmetrics_app.store.upsert import upsert
from devmetrics_app.timeutil import parse_ts

# Small repository objects (installation events) lack these; never blank them out.
OPTIONAL_COLUMNS = ("owner_id", "node_id", "fork", "archived", "default_branch", "language",
                    "html_url", "github_created_at", "github_updated_at", "pushed_at")


def _owner_login(repo: Mapping[str, Any]) -> str:
    owner = repo.get("owner") or {}
    return owner.get("login") or repo["full_name"].split("/", 1)[0]


async def upsert_repository(
    conn: asyncpg.Connection, installation_id: int, repo: Mapping[str, Any]
) -> int:
    """Store a repository object from any payload shape (full, or the small installation one)."""
    owner = repo.get("owner") or {}
    row: dict[str, Any] = {
        "id": repo["id"],
        "installation_id": installation_id,
        "owner_id": owner.get("id"),
        "owner_login": _owner_login(repo),
        "name": repo["name"],
        "full_name": repo["full_name"],
        "node_id": repo.get("node_id"),
        "private": bool(repo.get("private", False)),
        "fork": repo.get("fork"),
        "archived": repo.get("archived"),
        "default_branch": repo.get("default_branch"),
        "language": repo.get("language"),
        "html_url": repo.get("html_url"),
        "github_created_at": parse_ts(repo.get("created_at")),
        "github_updated_at": parse_ts(repo.get("updated_at")),
        "pushed_at": parse_ts(repo.get("pushed_at")),
    }
    if row["github_updated_at"] is None:
        # A small object (installation events) has no version: it may create the row but never
        # overwrites what a full, versioned payload stored.
        await conn.execute(
            """INSERT INTO repositories (id, installation_id, owner_login, name, full_name, private,
                                         node_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING""",
            row["id"], installation_id, row["owner_login"], row["name"], row["full_name"],
            row["private"], row["node_id"],
        )
    else:
        await upsert(conn, "repositories", row, version="github_updated_at",
                     keep_existing=OPTIONAL_COLUMNS, greatest=("pushed_at",))
    return int(repo["id"])


async def mark_added(conn: asyncpg.Connection, installation_id: int, repository_ids: list[int]) -> None:
    await conn.execute(
        """UPDATE repositories SET removed_at = NULL, installation_id = $1, updated_at = now()
           WHERE id = ANY($2::bigint[])""",
        installation_id, repository_ids,
    )


async def mark_removed(
    conn: asyncpg.Connection, installation_id: int, repository_ids: list[int], *, at: datetime
) -> None:
    await conn.execute(
        """UPDATE repositories SET removed_at = $3, updated_at = now()
           WHERE installation_id = $1 AND id = ANY($2::bigint[])""",
        installation_id, repository_ids, at,
    )
