"""What actors share inside a worker process: settings and a database pool.

Async actors run on Dramatiq's event-loop thread, so the pool is created lazily, on that loop,
by the first actor that needs it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg

from devmetrics_app.config import Settings
from devmetrics_app.db import create_pool


@dataclass
class WorkerResources:
    settings: Settings
    database_url: str
    _pool: asyncpg.Pool | None = None
    _lock: asyncio.Lock | None = None

    async def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self._pool is None:
                    self._pool = await create_pool(self.database_url,
                                                   max_size=self.settings.worker_threads + 2)
        return self._pool

    async def close(self) -> None:
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
