"""Pending rollup work per installation, in Redis: what coalesces a burst into O(1) recomputes.

A handler's follow-up adds its (repository, day) pairs to the installation's pending set and
tries to claim the installation's `scheduled` key. Only the claimer enqueues a run; every other
request finds a run already scheduled that will see its pairs. The run, holding the
installation's advisory lock, first releases `scheduled` and then takes the whole pending set in
one MULTI: a request that lands after the release schedules the next run, one that lands before
the take is in this run -- nothing is lost and at most one run is queued per installation
besides the one running. The `scheduled` key expires so a lost job cannot block an installation
for ever.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis.asyncio as aioredis

PENDING_KEY = "devmetrics:rollup:pending:{installation_id}"
SCHEDULED_KEY = "devmetrics:rollup:scheduled:{installation_id}"
SCHEDULED_TTL_SECONDS = 300


def _keys(installation_id: int) -> tuple[str, str]:
    return (PENDING_KEY.format(installation_id=installation_id),
            SCHEDULED_KEY.format(installation_id=installation_id))


def _members(work: dict[int, Iterable[str]]) -> list[str]:
    return sorted({f"{repository_id}:{day}" for repository_id, days in work.items() for day in days})


async def mark(redis: aioredis.Redis, installation_id: int, repository_id: int, days: Iterable[str]) -> bool:
    """Record pending days of a repository; True when the caller must schedule the run."""
    pending, scheduled = _keys(installation_id)
    members = _members({repository_id: days})
    if not members:
        return False
    await redis.sadd(pending, *members)
    return bool(await redis.set(scheduled, "1", nx=True, ex=SCHEDULED_TTL_SECONDS))


async def take(redis: aioredis.Redis, installation_id: int) -> dict[int, list[str]]:
    """Release the schedule claim and take every pending pair (see the module docstring)."""
    pending, scheduled = _keys(installation_id)
    await redis.delete(scheduled)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.smembers(pending)
        pipe.delete(pending)
        members, _ = await pipe.execute()
    work: dict[int, list[str]] = {}
    for member in sorted(m.decode() if isinstance(m, bytes) else m for m in members):
        repository_id, day = member.split(":", 1)
        work.setdefault(int(repository_id), []).append(day)
    return work


async def restore(redis: aioredis.Redis, installation_id: int, work: dict[int, list[str]]) -> None:
    """Put taken work back after a failed run, so the retry (or the next run) does it."""
    members = _members(work)
    if members:
        await redis.sadd(_keys(installation_id)[0], *members)
