"""What actors share inside a worker process: settings, a database pool, Redis and the GitHub
client factory.

Async actors run on Dramatiq's event-loop thread, so everything is created lazily, on that
loop, by the first actor that needs it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from devmetrics_app.config import Settings
from devmetrics_app.crypto import SecretBox
from devmetrics_app.db import create_pool
from devmetrics_app.github.client import GitHubClients
from devmetrics_app.github.provider import CredentialsProvider

OUTBOUND_TIMEOUT = aiohttp.ClientTimeout(total=60)


@dataclass
class WorkerResources:
    settings: Settings
    database_url: str
    redis_url: str = ""
    _pool: asyncpg.Pool | None = None
    _github: GitHubClients | None = None
    _redis: aioredis.Redis | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    # One connection per worker thread of both queue groups, and a spare.
                    threads = self.settings.worker_threads + self.settings.outbound_worker_threads
                    self._pool = await create_pool(self.database_url, max_size=threads + 2)
        return self._pool

    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            self._redis = aioredis.from_url(self.redis_url or self.settings.redis_url.get())
        return self._redis

    async def github(self) -> GitHubClients:
        if self._github is None:
            pool = await self.pool()
            async with self._lock:
                if self._github is None:
                    box = SecretBox(self.settings.secret_key.get())
                    self._github = GitHubClients(
                        session=aiohttp.ClientSession(timeout=OUTBOUND_TIMEOUT),
                        redis=self.redis(),
                        settings=self.settings,
                        credentials=CredentialsProvider(self.settings, pool, box))
        return self._github

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        if self._github is not None:
            await self._github.session.close()
            self._github = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


_current: WorkerResources | None = None


def install(resources: WorkerResources) -> None:
    global _current
    _current = resources


def current() -> WorkerResources:
    if _current is None:
        raise RuntimeError("worker resources not installed; start through `devmetrics worker`")
    return _current


def close_on_worker_loop() -> None:
    """Close the pool and HTTP session on Dramatiq's event loop, where they were created, before
    the worker stops that loop (else connections are dropped without a goodbye)."""
    from dramatiq.asyncio import get_event_loop_thread

    loop_thread = get_event_loop_thread()
    if _current is None or loop_thread is None or not loop_thread.loop.is_running():
        return
    loop_thread.run_coroutine(_current.close())
