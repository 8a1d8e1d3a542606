"""Group commit for incoming webhooks.

Each request must be durable before it is answered, but a transaction per request spends most
of its time waiting on commits. Requests that arrive while a write is in flight queue up and the
next write stores them all in one statement and one commit. Under light load a request is
written at once (no timer, no added latency); under heavy load batches grow by themselves.

Under heavy load the round trips around each batch count too, so a writer keeps its pooled
connection while batches keep coming (the pool resets a connection on every release: one more
round trip).

The dispatchers (store/wakeup.py) hear of new rows at most once per WAKE_INTERVAL_SECONDS: the
first rows after a quiet spell are announced at once, on the writer's connection, and rows
committed within the interval after a wake are announced together when it ends, through a pooled
connection. Waking after every batch cost a second round trip per request at moderate rates:
at 1,000 deliveries/s most batches hold one row, and each NOTIFY also woke every listening
backend and dispatcher. A wake is sent after the batch's requests are answered: they wait for
their commit, never for the notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time

import asyncpg

from devmetrics_app.store import wakeup
from devmetrics_app.store.deliveries import DELIVERY_CHANNEL, IncomingDelivery, insert_batch

MAX_BATCH = 500
# Two writes in flight lets one batch fill while the other commits.
MAX_CONCURRENT_WRITES = 2
# Under a steady stream the dispatchers hear of new rows at least this often.
WAKE_INTERVAL_SECONDS = 0.05


class DeliveryWriter:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._pending: list[tuple[IncomingDelivery, asyncio.Future[bool]]] = []
        self._writers = 0
        self._unannounced = 0  # rows committed that no notification has told the dispatchers of
        self._last_wake = -math.inf
        self._wake_timer: asyncio.TimerHandle | None = None
        self._deferred_wakes: set[asyncio.Task[None]] = set()

    async def write(self, delivery: IncomingDelivery) -> bool:
        """Store `delivery` durably; True if it is new (or re-armed), False for a duplicate."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((delivery, future))
        if self._writers < MAX_CONCURRENT_WRITES:
            self._writers += 1
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        conn: asyncpg.Connection | None = None
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                if conn is None:
                    try:
                        conn = await self._pool.acquire()
                    except Exception as exc:
                        self._fail(batch, exc)  # pool timeout, PostgreSQL gone
                        continue
                fresh, lost = await self._write_batch(batch, conn)
                if lost:
                    await self._pool.release(conn)  # the pool discards a broken connection
                    conn = None
                if fresh:
                    await self._announce(fresh, conn)
        finally:
            self._writers -= 1
            if conn is not None:
                await self._pool.release(conn)

    async def _announce(self, fresh: int, conn: asyncpg.Connection | None) -> None:
        """Wake the dispatchers now if the last wake is WAKE_INTERVAL_SECONDS old, else when it
        will be; a wake that is already due carries these rows too."""
        self._unannounced += fresh
        if self._wake_timer is not None:
            return
        delay = self._last_wake + WAKE_INTERVAL_SECONDS - time.monotonic()
        if delay <= 0 and conn is not None:
            await self._wake(conn)
        else:
            self._wake_timer = asyncio.get_running_loop().call_later(
                max(delay, 0.0), self._wake_later)

    def _wake_later(self) -> None:
        self._wake_timer = None
        task = asyncio.get_running_loop().create_task(self._wake_through_pool())
        self._deferred_wakes.add(task)
        task.add_done_callback(self._deferred_wakes.discard)

    async def _wake_through_pool(self) -> None:
        # No connection: the dispatchers' fallback poll finds the rows a little later.
        with contextlib.suppress(Exception):
            async with self._pool.acquire() as conn:
                await self._wake(conn)

    async def _wake(self, conn: asyncpg.Connection) -> None:
        count, self._unannounced = self._unannounced, 0
        if not count:
            return
        self._last_wake = time.monotonic()
        # A lost notification: the dispatchers' fallback poll finds the rows a little later.
        with contextlib.suppress(Exception):
            await wakeup.wake(conn, DELIVERY_CHANNEL, str(count))

    async def close(self) -> None:
        """Send the wake still waiting for its interval (before the pool closes)."""
        if self._wake_timer is not None:
            self._wake_timer.cancel()
            self._wake_timer = None
            await self._wake_through_pool()
        if self._deferred_wakes:
            await asyncio.gather(*self._deferred_wakes, return_exceptions=True)

    @staticmethod
    def _fail(batch: list[tuple[IncomingDelivery, asyncio.Future[bool]]],
              exc: BaseException) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(exc)

    async def _write_batch(self, batch: list[tuple[IncomingDelivery, asyncio.Future[bool]]],
                           conn: asyncpg.Connection) -> tuple[int, bool]:
        """Store and answer `batch`; return (rows newly stored, whether `conn` is now unusable)."""
        # The same delivery twice in one batch (a fast redelivery) is one row.
        unique = list({d.delivery_id: d for d, _ in reversed(batch)}.values())
        failed: dict[str, BaseException] = {}
        lost = False
        try:
            fresh = await insert_batch(conn, unique, wake=False)
        except asyncpg.PostgresError as exc:
            # The statement was refused (by the server or asyncpg's encoder): one row may be to
            # blame, so each is written alone and only a bad one fails, never its neighbours.
            if len(unique) > 1:
                fresh, failed = await self._insert_each(conn, unique)
            else:
                fresh, failed = set(), {unique[0].delivery_id: exc}
        except Exception as exc:
            # A lost connection: every row would fail alike, so none is retried.
            fresh, failed, lost = set(), {d.delivery_id: exc for d in unique}, True
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
        return len(fresh), lost

    @staticmethod
    async def _insert_each(
        conn: asyncpg.Connection, deliveries: list[IncomingDelivery]
    ) -> tuple[set[str], dict[str, BaseException]]:
        fresh: set[str] = set()
        failed: dict[str, BaseException] = {}
        for delivery in deliveries:
            try:
                fresh |= await insert_batch(conn, [delivery], wake=False)
            except Exception as exc:
                failed[delivery.delivery_id] = exc
        return fresh, failed
