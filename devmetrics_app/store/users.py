"""GitHub users (people, bots, the `ghost` that stands in for deleted accounts)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from devmetrics_app.store.upsert import upsert


async def upsert_user(conn: asyncpg.Connection, user: Mapping[str, Any] | None) -> int | None:
    """Store a user object from a payload; return its id (None for a missing/deleted user)."""
    if not user or user.get("id") is None:
        return None
    await upsert(
        conn,
        "users",
        {
            "id": user["id"],
            "login": user["login"],
            "node_id": user.get("node_id"),
            "type": user.get("type") or "User",
            "name": user.get("name"),
            "email": user.get("email"),
            "avatar_url": user.get("avatar_url"),
            "html_url": user.get("html_url"),
        },
        keep_existing=("node_id", "name", "email", "avatar_url", "html_url"),
    )
    return int(user["id"])


async def mark_app_revoked(conn: asyncpg.Connection, user_id: int, *, at: object) -> None:
    """The user withdrew the app's authorization: drop their tokens' usefulness at once."""
    await conn.execute(
        "UPDATE users SET app_revoked_at = $2, updated_at = now() WHERE id = $1", user_id, at
    )
    await conn.execute(
        "UPDATE user_tokens SET revoked_at = $2, updated_at = now() WHERE user_id = $1", user_id, at
    )
    await conn.execute(
        "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL", user_id, at
    )


async def find(db: asyncpg.Connection | asyncpg.Pool, user_id: int) -> asyncpg.Record | None:
    """id, login of a stored user."""
    return await db.fetchrow("SELECT id, login FROM users WHERE id = $1", user_id)


async def clear_app_revoked(conn: asyncpg.Connection, user_id: int) -> None:
    """Signing in again is authorising the app again (undoes mark_app_revoked's flag)."""
    await conn.execute("UPDATE users SET app_revoked_at = NULL WHERE id = $1", user_id)


async def login_of(db: asyncpg.Connection | asyncpg.Pool, user_id: int) -> str | None:
    return await db.fetchval("SELECT login FROM users WHERE id = $1", user_id)


async def profile(db: asyncpg.Connection | asyncpg.Pool, user_id: int) -> asyncpg.Record | None:
    """id, login, name, avatar_url: what /api/auth/me says about the caller."""
    return await db.fetchrow("SELECT id, login, name, avatar_url FROM users WHERE id = $1", user_id)
