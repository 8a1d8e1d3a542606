"""notification_logs: one row per attempt, so "why did (or didn't) this arrive?" has an answer."""

from __future__ import annotations

import asyncpg

STATUSES = ("sent", "failed", "retrying", "suppressed")
MAX_ERROR = 2000


async def record(conn: asyncpg.Connection | asyncpg.Pool, *, installation_id: int, rule_id: int,
                 channel: str, subject_key: str, status: str, attempt: int = 1,
                 error: str | None = None) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown notification log status {status!r}")
    await conn.execute(
        """INSERT INTO notification_logs (installation_id, rule_id, channel, subject_key, status,
                                          attempt, error)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        installation_id, rule_id, channel, subject_key, status, attempt,
        error[:MAX_ERROR] if error else None)
