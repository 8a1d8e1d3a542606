"""Hand stored deliveries to the workers without slowing the webhook endpoint.

Dramatiq's Redis client is synchronous, so each enqueue runs on a thread; a thread hop per
committed batch (hundreds a second) costs the event loop GIL hand-offs that show up as tail
latency. Ids are therefore gathered for a few milliseconds and sent as one message per window.
A failed send loses nothing: the deliveries are in PostgreSQL and the sweeper enqueues them.
"""

from __future__ import annotations

import asyncio
import logging

from devmetrics_app.web.keys import Enqueue

log = logging.getLogger(__name__)

ENQUEUE_WINDOW_SECONDS = 0.01
MAX_IDS_PER_MESSAGE = 500


class CoalescingEnqueuer:
    def __init__(self, enqueue: Enqueue, *, window: float = ENQUEUE_WINDOW_SECONDS) -> None:
        self._enqueue = enqueue
        self._window = window
        self._pending: list[str] = []
        self._task: asyncio.Task | None = None

    def __call__(self, delivery_ids: list[str]) -> None:
        self._pending.extend(delivery_ids)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(self._window)
        while self._pending:
            batch, self._pending = (self._pending[:MAX_IDS_PER_MESSAGE],
                                    self._pending[MAX_IDS_PER_MESSAGE:])
            try:
                await asyncio.get_running_loop().run_in_executor(None, self._enqueue, batch)
            except Exception as exc:
                log.warning("enqueue failed (%s); the sweeper will enqueue %d deliveries",
                            exc, len(batch))

    async def close(self) -> None:
        """Send what is pending (shutdown): not required for safety, but saves the sweeper work."""
        if self._task is not None:
            await self._task
