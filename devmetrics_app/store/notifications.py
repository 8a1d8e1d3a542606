"""In-app notifications as their recipient lists and marks them (channels/in_app.py writes them)."""

from __future__ import annotations

import asyncpg

NOTIFICATION_COLUMNS = "id, installation_id, rule_id, title, body, url, read_at, created_at"


async def list_for_user(db: asyncpg.Connection | asyncpg.Pool, *, user_id: int, installation_ids: list[int],
                        before: int | None, unread_only: bool, limit: int) -> list[asyncpg.Record]:
    """Newest first, keyset on id: `before` is the last id of the previous page."""
    return await db.fetch(
        f"SELECT {NOTIFICATION_COLUMNS} FROM notifications "  # noqa: S608 - constant column list
        """WHERE user_id = $1 AND installation_id = ANY($2::bigint[])
             AND ($3::bigint IS NULL OR id < $3) AND (NOT $4 OR read_at IS NULL)
           ORDER BY id DESC LIMIT $5""",
        user_id, installation_ids, before, unread_only, limit)


async def unread_count(db: asyncpg.Connection | asyncpg.Pool, *, user_id: int,
                       installation_ids: list[int]) -> int:
    return await db.fetchval(
        """SELECT count(*) FROM notifications
           WHERE user_id = $1 AND installation_id = ANY($2::bigint[]) AND read_at IS NULL""",
        user_id, installation_ids)


async def owner_of(db: asyncpg.Connection | asyncpg.Pool, notification_id: int) -> asyncpg.Record | None:
    """(installation_id, user_id) of a notification, so the caller can settle tenancy first."""
    return await db.fetchrow("SELECT installation_id, user_id FROM notifications WHERE id = $1",
                             notification_id)


async def set_read(db: asyncpg.Connection | asyncpg.Pool, notification_id: int, read: bool) -> asyncpg.Record:
    """Idempotent: marking read again keeps the first read time."""
    return await db.fetchrow(
        """UPDATE notifications
           SET read_at = CASE WHEN $2 THEN coalesce(read_at, now()) END
           WHERE id = $1
           RETURNING id, installation_id, rule_id, title, body, url, read_at, created_at""",
        notification_id, read)


async def set_read_if_owned(db: asyncpg.Connection | asyncpg.Pool, notification_id: int, *, user_id: int,
                            read: bool, installation_ids: list[int]) -> bool:
    """Ownership and visibility settled in the same statement; False: not the caller's (404)."""
    updated = await db.fetchval(
        """UPDATE notifications SET read_at = CASE WHEN $3 THEN coalesce(read_at, now()) END
           WHERE id = $1 AND user_id = $2 AND installation_id = ANY($4::bigint[]) RETURNING id""",
        notification_id, user_id, read, installation_ids)
    return updated is not None
