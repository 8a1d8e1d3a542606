"""Pushes within a few seconds of each other produce one analysis.

Each request bumps a per-pull-request counter in Redis and schedules a delayed job carrying the
counter's new value. When the job wakes, it runs only if no later request bumped the counter in
the meantime; the survivor reads the pull request's head from the API, so it analyses the newest
head whatever order the deliveries arrived in. An analysis already running for an older head is
cancelled by the newer one when it starts (see `ledger.supersede`).
"""

from __future__ import annotations

import asyncio
import weakref

import redis.asyncio as aioredis

from devmetrics_app.config import Settings

DEFAULT_DEBOUNCE_SECONDS = 5.0
KEY_TTL_SECONDS = 24 * 3600
KEY = "devmetrics:review:debounce:{pull_request_id}"

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]] = (
    weakref.WeakKeyDictionary())


def debounce_seconds(settings: Settings) -> float:
    return max(0.0, settings.ai_debounce_seconds)


def redis_for(url: str) -> aioredis.Redis:
    """One client per URL and event loop: Dramatiq's async actors share one loop per worker."""
    by_url = _clients.setdefault(asyncio.get_running_loop(), {})
    if url not in by_url:
        by_url[url] = aioredis.from_url(url)
    return by_url[url]


async def register(redis: aioredis.Redis, pull_request_id: int) -> int:
    """A new request for this pull request; returns its token."""
    key = KEY.format(pull_request_id=pull_request_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, KEY_TTL_SECONDS)
        token, _ = await pipe.execute()
    return int(token)


async def is_latest(redis: aioredis.Redis, pull_request_id: int, token: int) -> bool:
    """Was `token` the last request? A vanished key (expired after a day, flushed) means the
    request is older than anything we remember: the job is dropped, and the next push asks again."""
    value = await redis.get(KEY.format(pull_request_id=pull_request_id))
    return value is not None and int(value) == token
