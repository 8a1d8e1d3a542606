"""`open_work_counts` / `open_work_builds`: one repository's open-work counts (the snapshot
`metrics.open_work.COUNTS_SQL` counts live), stored so the read side sums them instead of
counting every open pull request and issue on each request (`open_work.counts`)."""

from __future__ import annotations

import asyncpg

from devmetrics_app.store.sql import bind

from ..facts import settings_key
from ..open_work import COUNTS_SQL, snapshot_params
from ..settings import MetricsSettings

REFRESH_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtextextended('open_work:' || $1::bigint, 0))"
DELETE_COUNTS_SQL = "DELETE FROM open_work_counts WHERE repository_id = $1"
UPSERT_BUILD_SQL = """
INSERT INTO open_work_builds (repository_id, installation_id, settings_key, computed_at)
VALUES ($1, $2, $3, now())
ON CONFLICT (repository_id) DO UPDATE SET installation_id = EXCLUDED.installation_id,
    settings_key = EXCLUDED.settings_key, computed_at = EXCLUDED.computed_at
"""


async def refresh_open_work(
    conn: asyncpg.Connection, installation_id: int, repository_id: int, settings: MetricsSettings
) -> int:
    """Recount one repository's open work into open_work_counts (in the caller's transaction);
    returns the rows written. Concurrent refreshes of one repository take turns."""
    async with conn.transaction():
        await conn.execute(REFRESH_LOCK_SQL, repository_id)
        params = snapshot_params(installation_id, [repository_id], settings)
        rows = await conn.fetch(*bind(COUNTS_SQL, params))
        await conn.execute(DELETE_COUNTS_SQL, repository_id)
        records = [(installation_id, repository_id, r["section"], r["key"], r["n"]) for r in rows if r["n"]]
        if records:
            await conn.copy_records_to_table(
                "open_work_counts",
                records=records,
                columns=["installation_id", "repository_id", "section", "key", "n"],
            )
        await conn.execute(UPSERT_BUILD_SQL, repository_id, installation_id, settings_key(settings))
    return len(records)
