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


# The five-field repository of installation events has no updated_at. It only creates rows, or
# adopts a repository from another (older) installation of the same account; a repository this
# installation already has is left to the versioned `repository` events and to removals.
ADOPT_SMALL_REPOSITORY = """
INSERT INTO repositories (id, installation_id, owner_login, name, full_name, node_id, private)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (id) DO UPDATE SET
    installation_id = EXCLUDED.installation_id,
    owner_login = EXCLUDED.owner_login,
    name = EXCLUDED.name,
    full_name = EXCLUDED.full_name,
    node_id = COALESCE(EXCLUDED.node_id, repositories.node_id),
    private = EXCLUDED.private,
    removed_at = NULL,
    updated_at = now()
WHERE repositories.installation_id <> EXCLUDED.installation_id
"""


def _owner_login(repo: Mapping[str, Any]) -> str:
    owner = repo.get("owner") or {}
    return owner.get("login") or repo["full_name"].split("/", 1)[0]


async def upsert_repository(
    conn: asyncpg.Connection, installation_id: int, repo: Mapping[str, Any]
) -> int:
    """Store a repository object from any payload shape. A full object (it has `updated_at`)
    is versioned: the newest wins. The small installation-event object only creates rows."""
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
        await _adopt(conn, installation_id, repo)
    else:
        await upsert(conn, "repositories", row, version="github_updated_at",
                     keep_existing=OPTIONAL_COLUMNS, greatest=("pushed_at",))
    return int(repo["id"])


async def _adopt(conn: asyncpg.Connection, installation_id: int, repo: Mapping[str, Any]) -> None:
    await conn.execute(
        ADOPT_SMALL_REPOSITORY, repo["id"], installation_id, _owner_login(repo), repo["name"],
        repo["full_name"], repo.get("node_id"), bool(repo.get("private", False)),
    )


async def adopt_repositories(
    conn: asyncpg.Connection, installation_id: int, repos: list[Mapping[str, Any]]
) -> None:
    """installation.created: record the repositories it grants, without undoing newer removals."""
    for repo in sorted(repos, key=lambda r: r["id"]):  # one lock order (store/lock_order.py)
        await _adopt(conn, installation_id, repo)


async def add_repositories(
    conn: asyncpg.Connection, installation_id: int, repos: list[Mapping[str, Any]]
) -> None:
    """installation_repositories.added: the repositories are (again) part of the installation."""
    await adopt_repositories(conn, installation_id, repos)
    await conn.execute(
        """UPDATE repositories SET removed_at = NULL, updated_at = now()
           WHERE installation_id = $1 AND id = ANY($2::bigint[]) AND removed_at IS NOT NULL""",
        installation_id, [int(repo["id"]) for repo in repos],
    )


async def remove_repositories(
    conn: asyncpg.Connection, installation_id: int, repository_ids: list[int] | None, *, at: datetime
) -> None:
    """Mark repositories removed (all of the installation's when ids is None); first sighting wins,
    so a replay does not move the moment."""
    await conn.execute(
        """UPDATE repositories SET removed_at = $3, updated_at = now()
           WHERE installation_id = $1 AND removed_at IS NULL
             AND ($2::bigint[] IS NULL OR id = ANY($2::bigint[]))""",
        installation_id, repository_ids, at,
    )


async def mark_repository_deleted(conn: asyncpg.Connection, repository_id: int, *, at: datetime) -> None:
    await conn.execute(
        """UPDATE repositories SET removed_at = $2, updated_at = now()
           WHERE id = $1 AND removed_at IS NULL""",
        repository_id, at,
    )


# --------------------------------------------------------------------------- reads for the API

REPOSITORY_COLUMNS = """id, installation_id, full_name, name, owner_login, private, fork, archived,
    default_branch, language, html_url, connected, removed_at, pushed_at"""


async def find_visible(db: asyncpg.Connection | asyncpg.Pool, repository_id: int,
                       installation_ids: list[int]) -> asyncpg.Record | None:
    """The repository, if it belongs to one of the installations the caller sees."""
    return await db.fetchrow(
        f"SELECT {REPOSITORY_COLUMNS} FROM repositories "  # noqa: S608 - constant column list
        "WHERE id = $1 AND installation_id = ANY($2::bigint[])",
        repository_id, installation_ids)


async def list_page(db: asyncpg.Connection | asyncpg.Pool, installation_id: int, *, include_removed: bool,
                    connected: bool | None, after_name: str, after_id: int,
                    limit: int) -> list[asyncpg.Record]:
    """By full name, then id (keyset after (after_name, after_id))."""
    return await db.fetch(
        f"SELECT {REPOSITORY_COLUMNS} FROM repositories "  # noqa: S608 - constant column list
        """WHERE installation_id = $1 AND ($2 OR removed_at IS NULL)
             AND ($3::boolean IS NULL OR connected = $3)
             AND (full_name, id) > ($4, $5)
           ORDER BY full_name, id LIMIT $6""",
        installation_id, include_removed, connected,
        after_name, after_id, limit)


async def set_connected(db: asyncpg.Connection | asyncpg.Pool, repository_id: int, installation_id: int,
                        connected: bool) -> bool:
    """True when the flag actually changed (the caller then recomputes installation rollups)."""
    changed = await db.fetchval(
        """UPDATE repositories SET connected = $1, updated_at = now()
           WHERE id = $2 AND installation_id = $3 AND connected IS DISTINCT FROM $1 RETURNING id""",
        connected, repository_id, installation_id)
    return changed is not None


async def count_in_installation(db: asyncpg.Connection | asyncpg.Pool, installation_id: int,
                                ids: list[int]) -> int:
    """How many of `ids` belong to the installation (fewer than asked means a foreign id)."""
    return await db.fetchval(
        "SELECT count(*) FROM repositories WHERE installation_id = $1 AND id = ANY($2::bigint[])",
        installation_id, ids)


async def names_for_select(db: asyncpg.Connection | asyncpg.Pool, installation_id: int, *,
                           connected_only: bool) -> list[asyncpg.Record]:
    """id, full_name of the repositories a page offers in a select (at most 500)."""
    if connected_only:
        return await db.fetch(
            """SELECT id, full_name FROM repositories WHERE installation_id = $1 AND connected
               AND removed_at IS NULL ORDER BY lower(full_name) LIMIT 500""", installation_id)
    return await db.fetch(
        """SELECT id, full_name FROM repositories WHERE installation_id = $1 AND removed_at IS NULL
           ORDER BY lower(full_name) LIMIT 500""", installation_id)


async def list_for_page(db: asyncpg.Connection | asyncpg.Pool, installation_id: int) -> list[asyncpg.Record]:
    """The repositories page's rows (at most 1000), by name."""
    return await db.fetch(
        """SELECT id, full_name, private, archived, connected, language, pushed_at FROM repositories
           WHERE installation_id = $1 AND removed_at IS NULL ORDER BY lower(full_name) LIMIT 1000""",
        installation_id)


async def installation_of(db: asyncpg.Connection | asyncpg.Pool, repository_id: int,
                          installation_ids: list[int]) -> int | None:
    """The repository's installation if it is one of `installation_ids`, else None."""
    return await db.fetchval(
        "SELECT installation_id FROM repositories WHERE id = $1 AND installation_id = ANY($2::bigint[])",
        repository_id, installation_ids)
