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
        failed: dict[str, BaseException] = {}
        try:
            fresh = await self._insert(unique)
        except asyncpg.PostgresError as exc:
            # The statement was refused (by the server or asyncpg's encoder): one row may be to
            # blame, so each is written alone and only a bad one fails, never its neighbours.
            if len(unique) > 1:
                fresh, failed = await self._insert_each(unique)
            else:
                fresh, failed = set(), {unique[0].delivery_id: exc}
        except Exception as exc:
            # A lost connection or pool timeout: every row would fail alike, so none is retried.
            fresh, failed = set(), {d.delivery_id: exc for d in unique}
        claimed: set[str] = set()
        for delivery, future in batch:
            if future.done():
                continue
            if delivery.delivery_id in failed:
                future.set_exception(failed[delivery.delivery_id])
                continue
            is_new = delivery.delivery_id in fresh and delivery.delivery_id not in claimed
            claimed.add(delivery.delivery_id)
            future.set_result(is_new)

    async def _insert(self, deliveries: list[IncomingDelivery]) -> set[str]:
        async with self._pool.acquire() as conn:
            return await insert_batch(conn, deliveries)

    async def _insert_each(
        self, deliveries: list[IncomingDelivery]
    ) -> tuple[set[str], dict[str, BaseException]]:
        fresh: set[str] = set()
        failed: dict[str, BaseException] = {}
        for delivery in deliveries:
            try:
                fresh |= await self._insert([delivery])
            except Exception as exc:
                failed[delivery.delivery_id] = exc
        return fresh, failed
