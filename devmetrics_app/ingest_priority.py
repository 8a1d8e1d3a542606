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
the machine). serve hands the file to its worker process in DEVMETRICS_INGEST_BOARD. The
workers read it before each delivery (`Gate`): while the web is busy they process deliveries
one at a time instead of one per thread. Nothing waits unstored and nothing is refused: the
deliveries are durable in PostgreSQL, processing goes on one at a time during the burst and at
full speed after it. Workers started on their own (`devmetrics worker`, usually on other
machines) have no board and never slow down.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import os
import struct
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

BOARD_ENV = "DEVMETRICS_INGEST_BOARD"
TICK_SECONDS = 0.1
# Busy lasts this long past the last busy tick, so a burst's short gaps do not let every
# worker thread in and out again.
HOLD_SECONDS = 0.5
BUSY_CONCURRENCY = 1
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


class Gate:
    """In a worker process: each delivery takes a turn; while the web is busy, one at a time.

    The delivery actors share one event loop (Dramatiq's asyncio middleware), so a plain
    counter is enough; a waiting turn looks at the board again every half tick."""

    def __init__(self, board: Board | None) -> None:
        self.board = board
        self.active = 0

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if self.board is not None:
            # The board is another process's: nothing here could set an asyncio.Event.
            while self.active >= BUSY_CONCURRENCY and self.board.busy():  # noqa: ASYNC110
                await asyncio.sleep(TICK_SECONDS / 2)
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1


_gate: Gate | None = None


def gate() -> Gate:
    """This process's gate, on the board serve handed down (none: never waits)."""
    global _gate
    if _gate is None:
        _gate = Gate(Board.from_environment())
    return _gate
