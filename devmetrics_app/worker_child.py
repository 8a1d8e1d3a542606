"""`devmetrics serve`'s workers, run as a child process (`devmetrics worker`) it starts and watches.

Run as threads of the web process, the Dramatiq workers, the dispatcher and the sweeper shared
its interpreter lock: under load the webhook endpoint and the handlers took turns on one core,
so ingest fell to a third of `serve --no-worker` and the workers processed a few dozen
deliveries a second. A child process has its own interpreter and can use another core.

* It runs at a lower CPU priority (WORKER_CHILD_NICE), so when the cores are short the web
  process answers webhooks first and the workers catch up once the burst is over: nothing is
  lost by that, since every accepted delivery is already committed in PostgreSQL.
* It is restarted when it dies, after a back-off that doubles while it keeps dying early.
* It is stopped (SIGTERM, then SIGKILL after STOP_TIMEOUT_SECONDS) when serve stops; a killed
  worker's unfinished deliveries stay `received` in PostgreSQL and the sweeper hands them out
  again. It runs in its own session, so a terminal's Ctrl-C reaches serve only, which then stops
  it (and a restart cannot race the shutdown), and it exits by itself if serve is killed.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping

from devmetrics_app.runtime import Endpoints

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 30.0
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
# A child that ran this long before dying is restarted after the first back-off again.
HEALTHY_RUN_SECONDS = 60.0
PARENT_CHECK_SECONDS = 1.0


def worker_command(*, nice: int, parent_pid: int) -> list[str]:
    return [sys.executable, "-m", "devmetrics_app.cli", "worker", "--nice", str(nice),
            "--parent-pid", str(parent_pid)]


def child_environment(endpoints: Endpoints, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The parent's environment with the endpoints it resolved, so the child uses the same
    PostgreSQL and Redis (embedded ones included) instead of starting its own."""
    return {**environ, "DATABASE_URL": endpoints.database_url, "REDIS_URL": endpoints.redis_url}


class WorkerChild(threading.Thread):
    def __init__(self, command: list[str], env: dict[str, str], *,
                 backoff_first: float = BACKOFF_FIRST_SECONDS) -> None:
        super().__init__(name="worker-child", daemon=True)
        self._command = command
        self._env = env
        self._backoff_first = backoff_first
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.restarts = 0

    def run(self) -> None:
        backoff = self._backoff_first
        while not self._stop_event.is_set():
            with self._lock:
                if self._stop_event.is_set():
                    return
                self.process = subprocess.Popen(self._command, env=self._env,
                                                start_new_session=True)
            started = time.monotonic()
            code = self.process.wait()
            if self._stop_event.is_set():
                return
            if time.monotonic() - started >= HEALTHY_RUN_SECONDS:
                backoff = self._backoff_first
            log.error("worker process %d exited with %s; restarting it in %.0f s",
                      self.process.pid, code, backoff)
            if self._stop_event.wait(backoff):
                return
            backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)
            self.restarts += 1

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        with self._lock:
            self._stop_event.set()
            process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("worker process %d did not stop within %.0f s; killing it",
                        process.pid, timeout)
            process.kill()
            process.wait()


def exit_with_parent(parent_pid: int, stop: threading.Event) -> None:
    """In the child: set `stop` once the serve process that started it is gone (even SIGKILLed,
    when it could not stop us), so no orphaned worker outlives it."""

    def watch() -> None:
        while not stop.wait(PARENT_CHECK_SECONDS):
            if os.getppid() != parent_pid:
                log.warning("serve (pid %d) is gone; stopping this worker", parent_pid)
                stop.set()
                return

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def lower_priority(nice: int) -> None:
    if nice > 0:
        os.nice(nice)
