"""`devmetrics serve`'s workers give way to webhook ingest while a burst arrives.

serve runs the web process and its workers on one machine. Niced, the worker process itself
yields the CPU, but the PostgreSQL backends that work for it do not, and its threads mostly queue
on the same advisory locks anyway (one repository, the same users in every payload). Processing
one delivery at a time while a burst arrives took serve from ~3,200-3,400 to ~3,700-3,800
webhooks/s, and its p99 at 1,000/s from 13-16 ms to 11-12 ms (benchmarks/README.md), for GitHub
wants an answer within 10 seconds and counts a slow one as failed.

So the web process counts the webhooks it answers and, while that is more than
INGEST_PRIORITY_RATE a second, marks itself busy on a `Board`: eight bytes in a shared file,
the CLOCK_MONOTONIC time until which it is busy (clock and file are shared by every process on
the machine). serve hands the file to its worker process in DEVMETRICS_INGEST_BOARD.

While the board says busy, the workers' core jobs take turns (`Pacer`): one at a time, and each
followed by a rest in proportion to its length, so that the worker is busy for at most
BUSY_DUTY of the time. That bounds everything a job costs, the PostgreSQL backend and Redis
work it causes included, which no CPU priority of the worker process reaches. One at a time
alone was not enough: at 1,000 webhooks/s the worker still took 0.7 of a core for ~100
deliveries/s (each one's follow-up jobs, Dramatiq's Redis round trips), the two cores were
full, and the webhook p99 rose to 50-110 ms (benchmarks/README.md). Each delivery of a batch
takes its own turn (jobs/actors.py), every other core job one per message (`PacingMiddleware`);
outbound jobs are not paced: they mostly wait on GitHub or Claude, and one holding the only
turn would stop processing while it waits.

Nothing waits unstored and nothing is refused: the deliveries are durable in PostgreSQL,
processing goes on, slower, during the burst and at full speed after it. Workers started on
their own (`devmetrics worker`, usually on other machines) have no board and never slow down.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import os
import struct
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from dramatiq.common import q_name
from dramatiq.middleware import Middleware

BOARD_ENV = "DEVMETRICS_INGEST_BOARD"
TICK_SECONDS = 0.1
# Busy lasts this long past the last busy tick, so a burst's short gaps do not let every
# worker thread in and out again.
HOLD_SECONDS = 0.5
BUSY_CONCURRENCY = 1
# While busy, the share of the time the worker process may spend in jobs (see Pacer). At a
# quarter, the web process of serve still waited 0.1-0.2 s of each second for a CPU while 0.4
# of a core stood idle (it did not wait with the worker stopped); the worker's threads at
# SCHED_IDLE changed nothing, and its PostgreSQL backends took only ~0.05 of a core, so the
# cause is not pinned down, but it scales with the worker's activity. At a tenth, serve took
# 0.94x the webhooks of `real` (the web alone) at saturation in one run, against 0.86x at a
# quarter in another, and processes 10-12 deliveries/s during a burst instead of ~19
# (benchmarks/README.md).
BUSY_DUTY = 0.1
WAIT_SECONDS = TICK_SECONDS / 2
_DEADLINE = struct.Struct("d")


class Board:
    """The shared deadline; written by the web process, read by the workers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with open(path, "r+b") as file:
            self._map = mmap.mmap(file.fileno(), _DEADLINE.size)

    @classmethod
    def create(cls, directory: Path) -> Board:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="ingest-board-", dir=directory)
        with os.fdopen(fd, "wb") as file:
            file.write(_DEADLINE.pack(0.0))
        return cls(Path(name))

    @classmethod
    def from_environment(cls) -> Board | None:
        path = os.environ.get(BOARD_ENV, "")
        if not path:
            return None
        try:
            return cls(Path(path))
        except (OSError, ValueError):
            return None  # gone (serve stopped) or not ours: process at full speed

    def mark_busy(self, until: float) -> None:
        _DEADLINE.pack_into(self._map, 0, until)

    def busy(self, now: float | None = None) -> bool:
        (until,) = _DEADLINE.unpack_from(self._map, 0)
        return until > (time.monotonic() if now is None else now)

    def remove(self) -> None:
        self._map.close()
        self.path.unlink(missing_ok=True)


class IngestMeter:
    """In the web process: webhooks answered per tick; marks the board busy above the rate."""

    def __init__(self, board: Board, rate_per_second: float) -> None:
        self.board = board
        self.threshold = rate_per_second * TICK_SECONDS
        self.answered = 0

    def count(self) -> None:
        self.answered += 1

    def tick(self, now: float) -> bool:
        busy = self.answered >= self.threshold
        self.answered = 0
        if busy:
            self.board.mark_busy(now + HOLD_SECONDS)
        return busy

    async def run(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            self.tick(time.monotonic())


class Pacer:
    """In a worker process: each job takes a turn; while the web is busy, the turns are paced.

    Busy, one job runs at a time, and after a turn of t seconds the next may start only
    t * (1 - BUSY_DUTY) / BUSY_DUTY seconds later: the worker, and the PostgreSQL backend and
    Redis work it causes, are active for at most BUSY_DUTY of the time, whatever its jobs cost.
    Turns are taken by the delivery loop on Dramatiq's event-loop thread and by `PacingMiddleware`
    on the worker threads, hence a lock; a waiting turn looks at the board again every
    WAIT_SECONDS (the board is another process's: nothing here could be woken by it)."""

    def __init__(self, board: Board | None, *, duty: float = BUSY_DUTY) -> None:
        self.board = board
        self.duty = duty
        self.active = 0
        self._rest_until = 0.0
        self._lock = threading.Lock()

    def try_begin(self, now: float | None = None) -> bool:
        with self._lock:
            if self.board is not None and self.board.busy(now):
                now = time.monotonic() if now is None else now
                if self.active >= BUSY_CONCURRENCY or now < self._rest_until:
                    return False
            self.active += 1
            return True

    def end(self, elapsed: float, now: float | None = None) -> None:
        with self._lock:
            self.active -= 1
            if self.board is not None and self.board.busy(now):
                now = time.monotonic() if now is None else now
                self._rest_until = max(self._rest_until,
                                       now + elapsed * (1 - self.duty) / self.duty)

    def wait_turn(self) -> None:
        """Blocking: for worker threads."""
        while not self.try_begin():
            time.sleep(WAIT_SECONDS)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        # The board is another process's: nothing here could set an asyncio.Event.
        while not self.try_begin():  # noqa: ASYNC110
            await asyncio.sleep(WAIT_SECONDS)
        started = time.monotonic()
        try:
            yield
        finally:
            self.end(time.monotonic() - started)


class PacingMiddleware(Middleware):
    """Jobs on `queues` take a turn each (the delivery batches are left out: their loop takes
    one per delivery). Only the core queues' jobs are paced: their cost is this machine's CPU
    and PostgreSQL. Outbound jobs mostly wait on GitHub, Claude or a chat service, and one
    holding the only turn while busy would stop processing for as long as it waits."""

    def __init__(self, pacer: Callable[[], Pacer], *, queues: frozenset[str]) -> None:
        self._pacer = pacer
        self._queues = queues
        self._started: dict[str, tuple[Pacer, float]] = {}
        self._lock = threading.Lock()

    def before_process_message(self, broker: Any, message: Any) -> None:
        if q_name(message.queue_name) not in self._queues:
            return
        pacer = self._pacer()
        if pacer.board is None:
            return
        pacer.wait_turn()
        with self._lock:
            self._started[message.message_id] = (pacer, time.monotonic())

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        with self._lock:
            turn = self._started.pop(message.message_id, None)
        if turn is not None:  # only a turn this middleware began, and only once
            pacer, started = turn
            pacer.end(time.monotonic() - started)

    after_skip_message = after_process_message


_pacer: Pacer | None = None
_pacer_lock = threading.Lock()


def pacer() -> Pacer:
    """This process's pacer, on the board serve handed down (none: never waits). One only:
    worker threads ask for it at once, and a turn begun on one must end on the same."""
    global _pacer
    with _pacer_lock:
        if _pacer is None:
            _pacer = Pacer(Board.from_environment())
        return _pacer


def web_busy() -> bool:
    """Whether serve's web process, if this is its worker, is taking a burst now."""
    board = pacer().board
    return board is not None and board.busy()
