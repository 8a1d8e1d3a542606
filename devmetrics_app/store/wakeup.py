"""NOTIFY sent after a commit, not inside it.

PostgreSQL serialises the commits of all transactions that sent a NOTIFY on one database-wide
lock, held through each commit's WAL flush. With the notification inside the write, the web's
group commits and every worker's delivery commit (its outbox rows notify too) queued behind one
another: ingest slowed down exactly when the workers were busy. Sent on its own once the write
has committed, a notification holds that lock for a moment only: its transaction has nothing to
make durable, so it does not wait for a flush (a lost notification is harmless: the dispatcher
also looks every FALLBACK_POLL_SECONDS).
"""

from __future__ import annotations

import asyncpg

# One statement, so one round trip; set_config(..., true) lasts for this statement's own
# transaction only.
WAKE = "SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, $2)"
WAKE_IN_TRANSACTION = "SELECT pg_notify($1, $2)"


async def wake(conn: asyncpg.Connection, channel: str, payload: str) -> None:
    """Notify `channel`; inside a caller's transaction the notification goes out with its
    commit, as usual (and that transaction's durability is left alone)."""
    if conn.is_in_transaction():
        await conn.execute(WAKE_IN_TRANSACTION, channel, payload)
    else:
        await conn.execute(WAKE, channel, payload)
