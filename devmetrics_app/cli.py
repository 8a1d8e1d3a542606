"""`devmetrics serve | worker | scheduler | migrate | replay | import | token create | embedded stop`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading
from pathlib import Path

from devmetrics_app.config import SERVE_HOST, SERVE_PORT, ConfigError

log = logging.getLogger("devmetrics")

DEFAULT_HOST = SERVE_HOST
DEFAULT_PORT = SERVE_PORT


def _serve(args: argparse.Namespace) -> int:
    _prometheus_multiprocess()
    from devmetrics_app.embedded_supervisor import supervise
    from devmetrics_app.services import boot
    from devmetrics_app.web import server
    from devmetrics_app.web.app import create_app
    from devmetrics_app.web.health import SUPERVISOR

    services = boot()
    embedded = not (services.settings.database_url and services.settings.redis_url)
    run_worker = embedded if args.worker is None else args.worker
    worker = _start_worker(services, in_process=args.in_process_worker) if run_worker else None
    app = create_app(services.settings, database_url=services.endpoints.database_url,
                     redis_url=services.endpoints.redis_url)
    supervisor = supervise(services.settings.data_dir, services.endpoints)
    if supervisor:
        app[SUPERVISOR] = supervisor
    try:
        _use_uvloop()
        log.info("DevMetrics listening on http://%s:%d (public URL %s)%s", args.host, args.port,
                 services.settings.public_url, " with workers" if worker else "")
        server.run(app, settings=services.settings, host=args.host, port=args.port)
    finally:
        if supervisor:
            supervisor.stop()
        if worker:
            worker.stop()
    return 0


def _start_worker(services, *, in_process: bool):
    """serve's workers: a child process of their own (worker_child.py), or threads here."""
    import os

    from devmetrics_app.services import InProcessWorker
    from devmetrics_app.worker_child import WorkerChild, child_environment, worker_command

    if in_process:
        worker = InProcessWorker(services)
    else:
        worker = WorkerChild(worker_command(nice=services.settings.worker_child_nice,
                                            parent_pid=os.getpid()),
                             child_environment(services.endpoints))
    worker.start()
    return worker


def _worker(args: argparse.Namespace) -> int:
    _prometheus_multiprocess()
    from devmetrics_app.jobs.queue_groups import parse_queues
    from devmetrics_app.services import InProcessWorker, boot
    from devmetrics_app.worker_child import exit_with_parent, lower_priority

    queues = parse_queues(args.queues)  # a typo fails before anything starts
    lower_priority(args.nice)
    services = boot()
    worker = InProcessWorker(services, threads=args.threads, queues=queues)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if args.parent_pid:
        exit_with_parent(args.parent_pid, stop)
    worker.start()
    stop.wait()
    worker.stop()
    return 0


def _scheduler(args: argparse.Namespace) -> int:
    from devmetrics_app.notify.scheduler import run_scheduler
    from devmetrics_app.services import boot

    services = boot()
    run_scheduler(services.settings)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from devmetrics_app.services import apply_migrations, boot

    services = boot(run_migrations=False)
    applied = asyncio.run(apply_migrations(services.endpoints.database_url))
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


def _replay(args: argparse.Namespace) -> int:
    from devmetrics_app.replay import ReplayError, load_delivery
    from devmetrics_app.services import boot

    try:
        batch = [load_delivery(Path(p), event=args.event) for p in args.files]
    except ReplayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    services = boot()
    # Stored deliveries reach the workers like webhooks do: through the dispatcher's LISTEN.
    fresh = asyncio.run(_store_and_process(services, batch, inline=args.inline))
    print(f"{len(batch)} file(s): {len(fresh)} new, {len(batch) - len(fresh)} already stored"
          + ("; processed inline" if args.inline else "; queued for the workers"))
    return 0


async def _store_and_process(services, batch, *, inline: bool) -> set[str]:
    from devmetrics_app.db import create_pool
    from devmetrics_app.events import router
    from devmetrics_app.events.dispatch import process_delivery
    from devmetrics_app.store.deliveries import insert_batch

    pool = await create_pool(services.endpoints.database_url, max_size=2)
    try:
        async with pool.acquire() as conn:
            fresh = await insert_batch(conn, batch)
            if inline:
                for delivery in batch:
                    outcome = await process_delivery(
                        conn, router, delivery.delivery_id,
                        max_attempts=services.settings.delivery_max_attempts)
                    status = outcome.status if outcome else "already processed"
                    print(f"{delivery.delivery_id} {delivery.event}: {status}")
    finally:
        await pool.close()
    return fresh


def _import(args: argparse.Namespace) -> int:
    from devmetrics_app.import_command import ImportCommandError, run_import
    from devmetrics_app.services import boot

    services = boot()
    try:
        items = asyncio.run(run_import(services, args.repository, days=args.days))
    except ImportCommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(", ".join(f"{kind}: {count}" for kind, count in items.items()))
    return 0


def _token_create(args: argparse.Namespace) -> int:
    from devmetrics_app.operator_tokens import TokenError, mint_operator_token
    from devmetrics_app.services import boot

    services = boot()
    try:
        secret = asyncio.run(mint_operator_token(
            services.endpoints.database_url, login=args.login, installation_id=args.installation,
            role=args.role, days=args.days))
    except TokenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(secret)
    return 0


def _embedded_stop(args: argparse.Namespace) -> int:
    from devmetrics_app import embedded
    from devmetrics_app.config import load_settings

    data_dir = load_settings().data_dir
    stopped, failed = [], []
    for name, stop in (("PostgreSQL", embedded.stop_postgres), ("Redis", embedded.stop_redis)):
        try:
            if stop(data_dir):
                stopped.append(name)
        except embedded.StopFailed as exc:
            failed.append(name)
            print(f"could not stop {exc}", file=sys.stderr)
    print("stopped " + (", ".join(stopped) if stopped else "nothing")
          + ("" if stopped or failed else " (none running)"))
    return 1 if failed else 0


def _prometheus_multiprocess() -> None:
    """Before anything declares a metric: every process writes to one shared directory, and
    forgets its live gauges when it exits, so /metrics sums the web and worker processes."""
    import atexit

    from devmetrics_app.observability import ensure_multiproc_dir, mark_process_dead

    ensure_multiproc_dir()
    atexit.register(mark_process_dead)


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="devmetrics", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web app (webhooks, API, dashboard)")
    serve.add_argument("--host", default=DEFAULT_HOST)
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--worker", dest="worker", action="store_true", default=None,
                       help="also run the workers, in a child process (default with embedded "
                            "servers)")
    serve.add_argument("--no-worker", dest="worker", action="store_false")
    serve.add_argument("--in-process-worker", action="store_true",
                       help="run the workers as threads of the web process instead of a child "
                            "process (slower ingest: they share one interpreter lock)")
    serve.set_defaults(func=_serve)

    worker = commands.add_parser("worker", help="run the Dramatiq workers and the sweeper")
    worker.add_argument("--threads", type=int, default=None)
    worker.add_argument("--nice", type=int, default=0, choices=range(20), metavar="0-19",
                        help="lower this process's CPU priority by this much")
    worker.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    worker.add_argument("--queues", default=None,
                        help="comma-separated queues to consume (default all): core "
                             "deliveries,rollups,live; outbound reviews,notifications,imports")
    worker.set_defaults(func=_worker)

    scheduler = commands.add_parser(
        "scheduler", help="time-based jobs: notification rules every minute, nightly rollups")
    scheduler.set_defaults(func=_scheduler)

    migrate = commands.add_parser("migrate", help="apply pending sql/NNN_*.sql migrations")
    migrate.set_defaults(func=_migrate)

    replay = commands.add_parser("replay", help="feed stored payload files through the pipeline")
    replay.add_argument("files", nargs="+", metavar="FILE")
    replay.add_argument("--event", help="event name, when the file does not say")
    replay.add_argument("--inline", action="store_true",
                        help="process here and now instead of queueing for the workers")
    replay.set_defaults(func=_replay)

    history = commands.add_parser("import", help="import a repository's history from GitHub")
    history.add_argument("repository", metavar="OWNER/REPO")
    history.add_argument("--days", type=int, default=90)
    history.set_defaults(func=_import)

    token = commands.add_parser("token", help="API tokens for automation")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser(
        "create", help="print a token granting LOGIN the installation with ROLE")
    create.add_argument("--login", required=True)
    create.add_argument("--installation", type=int, required=True)
    create.add_argument("--role", default="VIEWER",
                        choices=["VIEWER", "DEVELOPER", "MANAGER", "ADMIN"])
    create.add_argument("--days", type=int, default=30)
    create.set_defaults(func=_token_create)

    emb = commands.add_parser("embedded", help="manage the embedded PostgreSQL and Redis")
    emb_commands = emb.add_subparsers(dest="embedded_command", required=True)
    emb_stop = emb_commands.add_parser("stop", help="stop the embedded servers")
    emb_stop.set_defaults(func=_embedded_stop)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
