"""Keep the embedded PostgreSQL and Redis that `devmetrics serve` started running.

They are plain background processes: killed (OOM killer, a stray `kill -9`), nothing would
start them again and every DevMetrics process would wait on them forever. The supervisor looks
every `interval` seconds; a dead server is started again, with exponential back-off while that
keeps failing, each step logged. Its state is part of `/readyz`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devmetrics_app import embedded
from devmetrics_app.runtime import Endpoints

log = logging.getLogger(__name__)

CHECK_INTERVAL_SECONDS = 1.0
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0


@dataclass
class ServerState:
    alive: Callable[[], bool]
    start: Callable[[], object]
    status: str = "running"  # running | restarting | down
    restarts: int = 0
    last_error: str | None = None
    backoff: float = BACKOFF_FIRST_SECONDS
    next_attempt: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "restarts": self.restarts, "last_error": self.last_error}


class EmbeddedSupervisor(threading.Thread):
    def __init__(self, data_dir: Path, *, postgres: bool, redis: bool,
                 interval: float = CHECK_INTERVAL_SECONDS) -> None:
        super().__init__(name="embedded-supervisor", daemon=True)
        self._interval = interval
        self._stop_event = threading.Event()
        self.servers: dict[str, ServerState] = {}
        if postgres:
            self.servers["postgresql"] = ServerState(
                alive=lambda: embedded.postgres_pid(data_dir) is not None,
                start=lambda: embedded.start_postgres(data_dir))
        if redis:
            self.servers["redis"] = ServerState(
                alive=lambda: embedded.redis_alive(data_dir),
                start=lambda: embedded.start_redis(data_dir))

    def stop(self) -> None:
        self._stop_event.set()

    def states(self) -> dict[str, dict[str, Any]]:
        return {name: state.as_dict() for name, state in self.servers.items()}

    def all_running(self) -> bool:
        return all(state.status == "running" for state in self.servers.values())

    def run(self) -> None:
        while not self._stop_event.wait(self._interval):
            for name, state in self.servers.items():
                try:
                    self.check(name, state)
                except Exception:  # the watcher itself must never die
                    log.exception("supervising embedded %s failed", name)

    def check(self, name: str, state: ServerState) -> None:
        if state.alive():
            if state.status != "running":
                log.warning("embedded %s is running again", name)
            state.status, state.backoff, state.next_attempt = "running", BACKOFF_FIRST_SECONDS, 0.0
            return
        now = time.monotonic()
        if now < state.next_attempt:
            return
        log.warning("embedded %s is not running: starting it again", name)
        state.status = "restarting"
        try:
            state.start()
        except Exception as exc:
            state.status, state.last_error = "down", f"{type(exc).__name__}: {exc}"[:500]
            state.next_attempt = now + state.backoff
            log.error("embedded %s did not start (next try in %.0f s): %s", name, state.backoff,
                      state.last_error)
            state.backoff = min(state.backoff * 2, BACKOFF_MAX_SECONDS)
            return
        state.restarts += 1
        state.status, state.last_error = "running", None
        state.backoff, state.next_attempt = BACKOFF_FIRST_SECONDS, 0.0
        log.warning("embedded %s restarted (restart %d)", name, state.restarts)


def supervise(data_dir: Path, endpoints: Endpoints) -> EmbeddedSupervisor | None:
    """A started supervisor for the embedded servers in use, or None when there are none."""
    if not (endpoints.embedded_postgres or endpoints.embedded_redis):
        return None
    supervisor = EmbeddedSupervisor(data_dir, postgres=endpoints.embedded_postgres,
                                    redis=endpoints.embedded_redis)
    supervisor.start()
    return supervisor
