"""Group commit for incoming webhooks.

Each request must be durable before it is answered, but a transaction per request spends most
of its time waiting on commits. Requests that arrive while a write is in flight queue up and the
next write stores them all in one statement and one commit. Under light load a request is
written at once (no timer, no added latency); under heavy load batches grow by themselves.

The round trips around each batch count too. The pool resets a connection on every release
(a round trip of four statements), so the writer keeps its connections between batches and
between requests, and gives them back after IDLE_RELEASE_SECONDS without a write: at 1,000
deliveries/s, where most batches hold one row, the reset was a tenth of the web process's time.

The dispatchers (store/wakeup.py) hear of new rows at most once per WAKE_INTERVAL_SECONDS: the
first rows after a quiet spell are announced at once, on the writer's connection, and rows
committed within the interval after a wake are announced together when it ends, on a
connection of their own. Waking after every batch cost a second round trip per request at moderate rates:
at 1,000 deliveries/s most batches hold one row, and each NOTIFY also woke every listening
backend and dispatcher. A wake is sent after the batch's requests are answered: they wait for
their commit, never for the notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Coroutine
from typing import Any

import asyncpg

from devmetrics_app.store import wakeup
from devmetrics_app.store.deliveries import DELIVERY_CHANNEL, IncomingDelivery, insert_batch

MAX_BATCH = 500
# Two writes in flight lets one batch fill while the other commits.
MAX_CONCURRENT_WRITES = 2
# Under a steady stream the dispatchers hear of new rows at least this often.
WAKE_INTERVAL_SECONDS = 0.05
# A connection the writer has not used for this long goes back to the pool.
IDLE_RELEASE_SECONDS = 2.0


class DeliveryWriter:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._pending: list[tuple[IncomingDelivery, asyncio.Future[bool]]] = []
        self._writers = 0
        self._unannounced = 0  # rows committed that no notification has told the dispatchers of
        self._last_wake = -math.inf
        self._wake_timer: asyncio.TimerHandle | None = None
        self._background: set[asyncio.Task[None]] = set()  # writes, deferred wakes, releases
        self._closed = False
        self._kept: list[tuple[asyncpg.Connection, float]] = []  # idle, with when last used
        self._release_timer: asyncio.TimerHandle | None = None

    async def write(self, delivery: IncomingDelivery) -> bool:
        """Store `delivery` durably; True if it is new (or re-armed), False for a duplicate."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((delivery, future))
        if self._writers < MAX_CONCURRENT_WRITES:
            self._writers += 1
            self._track(self._drain())
        return await future

    async def _drain(self) -> None:
        conn: asyncpg.Connection | None = None
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                if conn is None:
                    try:
                        conn = await self._take()
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
                self._keep(conn)

    async def _take(self) -> asyncpg.Connection:
        while self._kept:
            conn = self._kept.pop()[0]
            if _open(conn):
                return conn
            self._track(self._pool.release(conn))  # the server closed it: the pool replaces it
        return await self._pool.acquire()

    def _keep(self, conn: asyncpg.Connection) -> None:
        if self._closed:
            self._track(self._pool.release(conn))
            return
        self._kept.append((conn, time.monotonic()))
        if self._release_timer is None:
            self._release_timer = asyncio.get_running_loop().call_later(
                IDLE_RELEASE_SECONDS, self._release_idle)

    def _release_idle(self) -> None:
        self._release_timer = None
        cutoff = time.monotonic() - IDLE_RELEASE_SECONDS
        idle = [conn for conn, used in self._kept if used <= cutoff]
        self._kept = [(conn, used) for conn, used in self._kept if used > cutoff]
        for conn in idle:
            self._track(self._pool.release(conn))
        if self._kept:
            self._release_timer = asyncio.get_running_loop().call_later(
                IDLE_RELEASE_SECONDS, self._release_idle)

    def _track(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

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
        self._track(self._wake_apart())

    async def _wake_apart(self) -> None:
        """A wake of its own, on a kept connection if one is idle."""
        try:
            conn = await self._take()
        except Exception:
            return  # no connection: the dispatchers' fallback poll finds the rows a little later
        try:
            await self._wake(conn)
        finally:
            self._keep(conn)

    async def _wake(self, conn: asyncpg.Connection) -> None:
        count, self._unannounced = self._unannounced, 0
        if not count:
            return
        self._last_wake = time.monotonic()
        # A lost notification: the dispatchers' fallback poll finds the rows a little later.
        with contextlib.suppress(Exception):
            await wakeup.wake(conn, DELIVERY_CHANNEL, str(count))

    async def close(self) -> None:
        """Send the wake still waiting for its interval and give the kept connections back:
        before the pool closes, which waits for every connection it lent."""
        self._closed = True
        while self._background:  # writes finishing, wakes and releases under way
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._wake_timer is not None:
            self._wake_timer.cancel()
            self._wake_timer = None
            await self._wake_apart()
        if self._release_timer is not None:
            self._release_timer.cancel()
            self._release_timer = None
        kept, self._kept = self._kept, []
        for conn, _ in kept:
            await self._pool.release(conn)

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


def _open(conn: asyncpg.Connection) -> bool:
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:  # the pool took it back already, when the server closed it
        return False
