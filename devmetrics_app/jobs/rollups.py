"""Rollup actors: a debounced recompute of (repository, days) and a nightly full recompute.

A burst of webhooks about one repository (a push of 20 commits, a PR with ten reviews) asks
for the same recompute many times. `request_recompute` claims a Redis key per
(repository, day) with SET NX EX: only the first request in `DEBOUNCE_SECONDS` enqueues, and
it enqueues with a delay of the same length, so the one recompute runs after the burst and
sees all of it. A request that loses the claim is covered by the pending recompute (it reads
whatever is committed when it runs). The keys expire by themselves: nothing to clean up.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import dramatiq
import redis.asyncio as aioredis

from devmetrics_app.events.live_updates import publish_all
from devmetrics_app.jobs import resources
from devmetrics_app.metrics import rollups
from devmetrics_app.timeutil import utc_days

log = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 5
DEBOUNCE_KEY = "devmetrics:rollup:{repository_id}:{day}"
NIGHTLY_DAYS = 3
ROLLUP_MAX_RETRIES = 5
ROLLUP_MIN_BACKOFF_MS = 5_000
NIGHTLY_TIME_LIMIT_MS = 60 * 60 * 1000

_redis: dict[str, aioredis.Redis] = {}


def _client(url: str) -> aioredis.Redis:
    """One client per URL for this worker's event loop (actors share Dramatiq's loop thread)."""
    if url not in _redis:
        _redis[url] = aioredis.from_url(url)
    return _redis[url]


async def claim_days(
    redis: aioredis.Redis, repository_id: int, days: list[str], *, seconds: int = DEBOUNCE_SECONDS
) -> list[str]:
    """The days no recompute is pending for; each is now claimed for `seconds`."""
    claimed = []
    for day in sorted(set(days)):
        key = DEBOUNCE_KEY.format(repository_id=repository_id, day=day)
        if await redis.set(key, "1", nx=True, ex=seconds):
            claimed.append(day)
    return claimed


@dramatiq.actor(queue_name="rollups", max_retries=ROLLUP_MAX_RETRIES, min_backoff=ROLLUP_MIN_BACKOFF_MS)
async def recompute_rollups(repository_id: int, days: list[str]) -> None:
    """The follow-up handlers ask for: debounce, then enqueue the real recompute once."""
    res = resources.current()
    claimed = await claim_days(_client(res.redis_url or res.settings.redis_url.get()), repository_id, days)
    if claimed:
        run_rollups.send_with_options(args=(repository_id, claimed), delay=DEBOUNCE_SECONDS * 1000)


@dramatiq.actor(queue_name="rollups", max_retries=ROLLUP_MAX_RETRIES, min_backoff=ROLLUP_MIN_BACKOFF_MS)
async def run_rollups(repository_id: int, days: list[str]) -> None:
    """Recompute now (idempotent: a retry or a duplicate does no harm)."""
    res = resources.current()
    pool = await res.pool()
    async with pool.acquire() as conn:
        if not await rollups.recompute(conn, repository_id, days):
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
            await rollups.recompute_installation(conn, installation_id, wanted)
    log.info("nightly rollups: %d installations, %d days", len(ids), days)


@dramatiq.actor(queue_name="rollups", max_retries=2, time_limit=NIGHTLY_TIME_LIMIT_MS)
async def recompute_installation_rollups(installation_id: int, days: int = NIGHTLY_DAYS) -> None:
    """Every repository of one installation for the last `days` days: after a repository is
    connected/disconnected (installation-wide rollups change) or the metric settings change."""
    pool = await resources.current().pool()
    today = datetime.now(UTC).date()
    async with pool.acquire() as conn:
        await rollups.recompute_installation(
            conn, installation_id, [today - timedelta(days=i) for i in range(days)]
        )


# Kept under its old name for callers that think of rollup days.
days_of = utc_days


__all__ = [
    "days_of",
    "nightly_rollups",
    "recompute_installation_rollups",
    "recompute_rollups",
    "run_rollups",
]
