"""Group commit for incoming webhooks.

Each request must be durable before it is answered, but a transaction per request spends most
of its time waiting on commits. Requests that arrive while a write is in flight queue up and the
next write stores them all in one statement and one commit. Under light load a request is
written at once (no timer, no added latency); under heavy load batches grow by themselves.
"""

from __future__ import annotations

import asyncio

import asyncpg

from devmetrics_app.store.deliveries import IncomingDelivery, insert_batch

MAX_BATCH = 500
# Two writes in flight lets one batch fill while the other commits.
MAX_CONCURRENT_WRITES = 2

class DeliveryWriter:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._pending: list[tuple[IncomingDelivery, asyncio.Future[bool]]] = []
        self._writers = 0

    async def write(self, delivery: IncomingDelivery) -> bool:
        """Store `delivery` durably; True if it is new (or re-armed), False for a duplicate."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((delivery, future))
        if self._writers < MAX_CONCURRENT_WRITES:
            self._writers += 1
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                await self._write_batch(batch)
        finally:
            self._writers -= 1

    async def _write_batch(self, batch: list[tuple[IncomingDelivery, asyncio.Future[bool]]]) -> None:
        # The same delivery twice in one batch (a fast redelivery) is one row.
        unique = list({d.delivery_id: d for d, _ in reversed(batch)}.values())
        try:
            async with self._pool.acquire() as conn:
                fresh = await insert_batch(conn, unique)
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        claimed: set[str] = set()
        for delivery, future in batch:
            is_new = delivery.delivery_id in fresh and delivery.delivery_id not in claimed
            claimed.add(delivery.delivery_id)
            if not future.done():
                future.set_result(is_new)
