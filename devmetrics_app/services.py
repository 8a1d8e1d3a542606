"""Start-up shared by every command: settings, logging, PostgreSQL, Redis, migrations, broker."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import asyncpg
import dramatiq

from devmetrics_app.config import Settings, load_settings
from devmetrics_app.db import migrate
from devmetrics_app.jobs import broker as broker_module
from devmetrics_app.jobs import resources
from devmetrics_app.jobs.dispatcher import DispatcherThread
from devmetrics_app.jobs.sweeper import SweeperThread
from devmetrics_app.logs import configure_logging
from devmetrics_app.runtime import Endpoints, resolve_endpoints

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    endpoints: Endpoints


def boot(*, run_migrations: bool = True) -> Services:
    settings = load_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    _init_sentry(settings)
    endpoints = resolve_endpoints(settings)
    if run_migrations:
        asyncio.run(apply_migrations(endpoints.database_url))
    broker_module.configure(endpoints.redis_url)
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
    """Dramatiq worker threads, the delivery dispatcher and the sweeper, in this process."""

    def __init__(self, services: Services, *, threads: int | None = None,
                 queues: list[str] | None = None) -> None:
        settings = services.settings
        check_anthropic_model(settings)
        resources.install(resources.WorkerResources(settings, services.endpoints.database_url,
                                                    redis_url=services.endpoints.redis_url))
        self.worker = dramatiq.Worker(dramatiq.get_broker(),
                                      worker_threads=threads or settings.worker_threads,
                                      queues=set(queues) if queues is not None else None)
        self.dispatcher = DispatcherThread(services.endpoints.database_url, enqueue_deliveries,
                                           lease_seconds=settings.sweep_grace_seconds)
        self.sweeper = SweeperThread(services.endpoints.database_url, enqueue_deliveries,
                                     interval=settings.sweep_interval_seconds,
                                     grace_seconds=settings.sweep_grace_seconds)

    def start(self) -> None:
        self.worker.start()
        self.dispatcher.start()
        self.sweeper.start()
        log.info("worker started")

    def stop(self) -> None:
        self.dispatcher.stop()
        self.sweeper.stop()
        resources.close_on_worker_loop()
        self.worker.stop()
        self.dispatcher.join(timeout=5)
        self.sweeper.join(timeout=5)
        log.info("worker stopped")


def _init_sentry(settings: Settings) -> None:
    if not settings.sentry_dsn:
        return
    try:
        import sentry_sdk
    except ImportError:
        log.warning("SENTRY_DSN is set but sentry-sdk is not installed (pip install sentry-sdk)")
        return
    sentry_sdk.init(dsn=settings.sentry_dsn.get(), environment=settings.env)
