"""A daemon thread running one coroutine on its own event loop until asked to stop: the shape
of the delivery dispatcher and the sweeper, which run beside Dramatiq's worker threads."""

from __future__ import annotations

import asyncio
import threading


class BackgroundLoop(threading.Thread):
    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._stop_event = threading.Event()

    @property
    def stopping(self) -> bool:
        return self._stop_event.is_set()

    def stop(self) -> None:
        self._stop_event.set()

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake at once when stopped."""
        await asyncio.to_thread(self._stop_event.wait, seconds)

    def run(self) -> None:
        asyncio.run(self.main())

    async def main(self) -> None:
        raise NotImplementedError
