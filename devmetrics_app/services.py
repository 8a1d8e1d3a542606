"""Start-up shared by every command: settings, logging, PostgreSQL, Redis, migrations, broker."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass

import asyncpg
import dramatiq

from devmetrics_app.config import Settings, load_settings
from devmetrics_app.db import migrate
from devmetrics_app.jobs import broker as broker_module
from devmetrics_app.jobs import resources
from devmetrics_app.jobs.dispatcher import DispatcherThread
from devmetrics_app.jobs.queue_groups import queue_groups
from devmetrics_app.jobs.sweeper import SweeperThread
from devmetrics_app.logs import configure_logging
from devmetrics_app.observability.errors import init_sentry
from devmetrics_app.runtime import Endpoints, resolve_endpoints

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    endpoints: Endpoints


def boot(*, run_migrations: bool = True) -> Services:
    settings = load_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    init_sentry(settings)  # before the broker exists: its integration hooks broker creation
    endpoints = resolve_endpoints(settings)
    if run_migrations:
        asyncio.run(apply_migrations(endpoints.database_url))
    broker_module.configure(endpoints.redis_url, broker_url=settings.broker_url.get())
    return Services(settings, endpoints)


async def apply_migrations(database_url: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


def enqueue_deliveries(delivery_ids: list[str]) -> None:
    from devmetrics_app.jobs.actors import process_deliveries

    process_deliveries.send(delivery_ids)


MODEL_CHECK_TIMEOUT_SECONDS = 15.0
# Stopping waits this long for running jobs; serve kills its worker child 30 s after asking
# (worker_child.STOP_TIMEOUT_SECONDS), and the rest of the stop needs a few of those.
PAUSE_TIMEOUT_SECONDS = 20.0


def check_anthropic_model(settings: Settings) -> None:
    """Say at start-up, not on the first pull request, whether ANTHROPIC_MODEL is usable."""
    if not settings.anthropic_api_key:
        log.info("ANTHROPIC_API_KEY is not set: pull requests get the deterministic risk floor only")
        return
    from devmetrics_app.ai.claude import check_model, make_client

    async def run():
        client = make_client(api_key=settings.anthropic_api_key.get(),
                             base_url=settings.anthropic_base_url or None)
        try:
            return await asyncio.wait_for(check_model(client, settings.anthropic_model),
                                          MODEL_CHECK_TIMEOUT_SECONDS)
        finally:
            await client.close()

    try:
        result = asyncio.run(run())
    except Exception as exc:  # the API unreachable must not stop the worker
        log.warning("could not check ANTHROPIC_MODEL %r: %s", settings.anthropic_model, exc)
        return
    level = logging.INFO if result.status == "available" else logging.WARNING
    log.log(level, "ANTHROPIC_MODEL %s: %s", settings.anthropic_model, result.message)


class InProcessWorker:
    """Dramatiq workers (one per queue group, each with its own threads), the delivery
    dispatcher and the sweeper, in this process."""

    def __init__(self, services: Services, *, threads: int | None = None,
                 queues: list[str] | None = None) -> None:
        settings = services.settings
        check_anthropic_model(settings)
        resources.install(resources.WorkerResources(settings, services.endpoints.database_url,
                                                    redis_url=services.endpoints.redis_url))
        groups = queue_groups(core_threads=threads or settings.worker_threads,
                              outbound_threads=settings.outbound_worker_threads, queues=queues)
        self.workers = [dramatiq.Worker(dramatiq.get_broker(), queues=set(group.queues),
                                        worker_threads=group.threads) for group in groups]
        self.groups = groups
        # Only a process that consumes deliveries hands them out (and re-enqueues lost ones).
        self.background = []
        if queues is None or "deliveries" in queues:
            self.background = [
                DispatcherThread(services.endpoints.database_url, enqueue_deliveries,
                                 lease_seconds=settings.sweep_grace_seconds),
                SweeperThread(services.endpoints.database_url, enqueue_deliveries,
                              interval=settings.sweep_interval_seconds,
                              grace_seconds=settings.sweep_grace_seconds),
            ]

    def start(self) -> None:
        for worker in self.workers:
            worker.start()
        for thread in self.background:
            thread.start()
        log.info("worker started: %s", "; ".join(
            f"{g.name} ({', '.join(sorted(g.queues))}) x{g.threads}" for g in self.groups))

    def stop(self) -> None:
        for thread in self.background:
            thread.stop()
        # Take no more jobs and let the running ones end before closing what they use. Closed
        # under them, every job still running or already fetched failed on "pool is closing":
        # hundreds of logged tracebacks when a busy worker stopped, and a retry spent on each.
        # The jobs fetched and not begun go back to Redis when the workers stop.
        _pause(self.workers, timeout=PAUSE_TIMEOUT_SECONDS)
        resources.close_on_worker_loop()
        for worker in self.workers:
            worker.stop()
        for thread in self.background:
            thread.join(timeout=5)
        log.info("worker stopped")


def _pause(workers: list[dramatiq.Worker], *, timeout: float) -> bool:
    """Pause every worker (each waits for its running jobs); False if that took too long, and
    stopping goes on regardless: a job hung on the network must not hold the process."""
    paused = threading.Event()

    def pause_all() -> None:
        for worker in workers:
            worker.pause()
        paused.set()

    threading.Thread(target=pause_all, name="worker-pause", daemon=True).start()
    if not paused.wait(timeout):
        log.warning("jobs still running after %g s; stopping anyway", timeout)
        return False
    return True
