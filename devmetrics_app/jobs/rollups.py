"""Rollup actors: a coalesced recompute per installation and a nightly full recompute.

A burst of webhooks (an organisation installing, a push of 20 commits, a PR with ten reviews)
asks for recomputes many times. `recompute_rollups` only records the (repository, days) as
pending for the installation (`pending_rollups`) and, if no run is scheduled yet, schedules one
`DEBOUNCE_SECONDS` later, so it sees the rest of the burst. `run_pending_rollups` takes the
installation's advisory lock, takes everything pending and recomputes it in one transaction: N
deliveries make O(1) recomputes, and two recomputes of one installation never overlap.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import dramatiq

from devmetrics_app.events.live_updates import publish_all
from devmetrics_app.jobs import pending_rollups, resources
from devmetrics_app.metrics import materialize
from devmetrics_app.timeutil import utc_days

log = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 5
NIGHTLY_DAYS = 3
ROLLUP_MAX_RETRIES = 5
ROLLUP_MIN_BACKOFF_MS = 5_000
NIGHTLY_TIME_LIMIT_MS = 60 * 60 * 1000

@dramatiq.actor(queue_name="rollups", max_retries=ROLLUP_MAX_RETRIES, min_backoff=ROLLUP_MIN_BACKOFF_MS)
async def recompute_rollups(repository_id: int, days: list[str]) -> None:
    """The follow-up handlers ask for: mark the days pending, schedule one run if none is."""
    pool = await resources.current().pool()
    installation_id = await pool.fetchval(
        "SELECT installation_id FROM repositories WHERE id = $1", repository_id)
    if installation_id is None:
        log.info("rollup for unknown repository %s dropped", repository_id)
        return
    if await pending_rollups.mark(resources.current().redis(), installation_id, repository_id, days):
        run_pending_rollups.send_with_options(args=(installation_id,), delay=DEBOUNCE_SECONDS * 1000)


@dramatiq.actor(queue_name="rollups", max_retries=ROLLUP_MAX_RETRIES, min_backoff=ROLLUP_MIN_BACKOFF_MS)
async def run_pending_rollups(installation_id: int) -> None:
    """Everything pending for the installation, under its lock; nothing pending: return at once."""
    redis = resources.current().redis()
    pool = await resources.current().pool()
    work: dict[int, list[str]] = {}
    try:
        async with pool.acquire() as conn, conn.transaction():
            await materialize.lock_installation(conn, installation_id)
            work = await pending_rollups.take(redis, installation_id)
            if not work:
                return
            done = await materialize.recompute_pending(conn, installation_id, work)
    except Exception:
        # Rolled back: the retry (or the next scheduled run) finds the work pending again.
        await pending_rollups.restore(redis, installation_id, work)
        raise
    # Open dashboards of this organisation and its repositories refresh their figures.
    days = sorted({day for repository_id in done for day in work[repository_id]})
    await publish_all(redis,
                      [f"org:{installation_id}", *(f"repo:{r}" for r in done)],
                      {"type": "rollup.recomputed", "repositories": done, "days": days})


@dramatiq.actor(queue_name="rollups", max_retries=ROLLUP_MAX_RETRIES, min_backoff=ROLLUP_MIN_BACKOFF_MS)
async def run_rollups(repository_id: int, days: list[str]) -> None:
    """Recompute one repository now, under the installation's lock (idempotent)."""
    res = resources.current()
    pool = await res.pool()
    async with pool.acquire() as conn:
        if not await materialize.recompute(conn, repository_id, days):
            log.info("rollup for unknown repository %s dropped", repository_id)
            return
        installation_id = await conn.fetchval(
            "SELECT installation_id FROM repositories WHERE id = $1", repository_id)
    # Open dashboards of this organisation and repository refresh their figures.
    await publish_all(res.redis(), [f"org:{installation_id}", f"repo:{repository_id}"],
                      {"type": "rollup.recomputed", "repository": repository_id, "days": days})


@dramatiq.actor(queue_name="rollups", max_retries=2, time_limit=NIGHTLY_TIME_LIMIT_MS)
async def nightly_rollups(days: int = NIGHTLY_DAYS) -> None:
    """Recompute the last `days` days of every installation fully (missed events, settings)."""
    pool = await resources.current().pool()
    today = datetime.now(UTC).date()
    wanted = [today - timedelta(days=i) for i in range(days)]
    async with pool.acquire() as conn:
        ids = [
            r["installation_id"]
            for r in await conn.fetch(
                "SELECT DISTINCT installation_id FROM repositories WHERE removed_at IS NULL"
            )
        ]
        for installation_id in ids:
            await materialize.recompute_installation(conn, installation_id, wanted)
    log.info("nightly rollups: %d installations, %d days", len(ids), days)


@dramatiq.actor(queue_name="rollups", max_retries=2, time_limit=NIGHTLY_TIME_LIMIT_MS)
async def recompute_installation_rollups(installation_id: int, days: int = NIGHTLY_DAYS) -> None:
    """Every repository of one installation for the last `days` days: after a repository is
    connected/disconnected (installation-wide rollups change) or the metric settings change."""
    pool = await resources.current().pool()
    today = datetime.now(UTC).date()
    async with pool.acquire() as conn:
        await materialize.recompute_installation(
            conn, installation_id, [today - timedelta(days=i) for i in range(days)]
        )


# Kept under its old name for callers that think of rollup days.
days_of = utc_days


__all__ = [
    "days_of",
    "nightly_rollups",
    "recompute_installation_rollups",
    "recompute_rollups",
    "run_pending_rollups",
    "run_rollups",
]
