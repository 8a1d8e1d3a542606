"""`devmetrics serve | worker | scheduler | migrate | demo | replay | import | token | embedded stop`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import signal
import sys
import threading

from devmetrics_app.config import SERVE_HOST, SERVE_PORT, ConfigError

log = logging.getLogger("devmetrics")

DEFAULT_HOST = SERVE_HOST
DEFAULT_PORT = SERVE_PORT
REPLAY_BATCH = 500  # deliveries stored per statement


def listen_url(host: str, port: int) -> str:
    """The URL a browser on this machine opens to reach `serve --host HOST --port PORT`."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 (every interface: this machine is one of them)
        host = SERVE_HOST
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


class HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, where it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.option_strings and "%(default)" not in text
                and action.default not in (None, False, argparse.SUPPRESS)):
            text += " (default: %(default)s)"
        return text


def subcommand_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below `parser` (subcommands of subcommands included)."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += [child, *subcommand_parsers(child)]
    return found


def _serve(args: argparse.Namespace) -> int:
    _prometheus_multiprocess()
    from devmetrics_app.embedded_supervisor import supervise
    from devmetrics_app.services import boot
    from devmetrics_app.web import server
    from devmetrics_app.web.app import create_app
    from devmetrics_app.web.health import SUPERVISOR

    services = boot()
    if not os.environ.get("PUBLIC_URL"):  # unset (nor in .env): browsers come where serve listens
        services = dataclasses.replace(services, settings=dataclasses.replace(
            services.settings, public_url=listen_url(args.host, args.port)))
    embedded = not (services.settings.database_url and services.settings.redis_url)
    run_worker = embedded if args.worker is None else args.worker
    board = _ingest_board(services.settings) if run_worker else None
    worker = (_start_worker(services, in_process=args.in_process_worker, board=board)
              if run_worker else None)
    app = create_app(services.settings, database_url=services.endpoints.database_url,
                     redis_url=services.endpoints.redis_url, ingest_board=board)
    supervisor = supervise(services.settings.data_dir, services.endpoints)
    if supervisor:
        app[SUPERVISOR] = supervisor
    try:
        _use_uvloop()
        log.info("DevMetrics listening on http://%s:%d (public URL %s)%s", args.host, args.port,
                 services.settings.public_url, " with workers" if worker else "")
        server.run(app, settings=services.settings, host=args.host, port=args.port,
                   reuse_port=args.reuse_port)
    finally:
        if supervisor:
            supervisor.stop()
        if worker:
            worker.stop()
        if board:
            board.remove()
    return 0


def _ingest_board(settings):
    """Where serve's web process tells its workers it is busy (ingest_priority.py)."""
    from devmetrics_app.ingest_priority import Board

    return Board.create(settings.data_dir / "run") if settings.ingest_priority_rate else None


def _start_worker(services, *, in_process: bool, board=None):
    """serve's workers: a child process of their own (worker_child.py), or threads here."""
    from devmetrics_app.ingest_priority import BOARD_ENV
    from devmetrics_app.services import InProcessWorker
    from devmetrics_app.worker_child import WorkerChild, child_environment, worker_command

    if board:
        os.environ[BOARD_ENV] = str(board.path)  # the workers' pacer reads it (threads or child)
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

    try:
        queues = parse_queues(args.queues)  # a typo fails before anything starts
    except ValueError as exc:
        raise SystemExit(f"devmetrics worker: {exc}") from None
    lower_priority(args.nice)
    # serve's worker child: serve has migrated already, and each restart should be quick.
    services = boot(run_migrations=args.parent_pid is None)
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


def _demo(args: argparse.Namespace) -> int:
    from devmetrics_app import demo
    from devmetrics_app.config import load_settings
    from devmetrics_app.jobs import broker as broker_module
    from devmetrics_app.logs import configure_logging
    from devmetrics_app.services import InProcessWorker, Services, apply_migrations
    from devmetrics_app.simulation import generate_org
    from devmetrics_app.web.app import create_app

    settings = load_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    settings = demo.demo_settings(settings, public_url=f"http://{SERVE_HOST}:{args.port}")
    endpoints = demo.demo_endpoints(settings)
    asyncio.run(apply_migrations(endpoints.database_url))
    try:
        asyncio.run(demo.ensure_demo_only(endpoints.database_url))
    except demo.DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    broker = broker_module.configure(endpoints.redis_url, namespace=demo.DEMO_NAMESPACE)
    worker = InProcessWorker(Services(settings, endpoints), queues=sorted(demo.DEMO_QUEUES))
    worker.start()
    app = create_app(settings, database_url=endpoints.database_url, redis_url=endpoints.redis_url)
    deliveries = generate_org(seed=args.seed, scale=args.scale, weeks=args.weeks)
    try:
        _use_uvloop()
        asyncio.run(demo.serve_and_load(app, port=args.port, deliveries=deliveries, broker=broker))
    except demo.DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
    return 0


def _replay(args: argparse.Namespace) -> int:
    from devmetrics_app.replay import ReplayError, load_source
    from devmetrics_app.services import boot

    try:
        batch = [d for source in args.sources for d in load_source(source, event=args.event)]
    except ReplayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    services = boot()
    # Stored deliveries reach the workers like webhooks do: through the dispatcher's LISTEN.
    fresh = asyncio.run(_store_and_process(services, batch, inline=args.inline))
    print(f"{len(batch)} deliveries: {len(fresh)} new, {len(batch) - len(fresh)} already stored"
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
            fresh: set[str] = set()
            for start in range(0, len(batch), REPLAY_BATCH):  # a JSON Lines file may be large
                fresh |= await insert_batch(conn, batch[start:start + REPLAY_BATCH])
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

    from devmetrics_app.config import load_env_file
    from devmetrics_app.observability import ensure_multiproc_dir, mark_process_dead

    load_env_file()  # DEVMETRICS_DATA_DIR / PROMETHEUS_MULTIPROC_DIR may be set there
    ensure_multiproc_dir()
    atexit.register(mark_process_dead)


def _ai_resume(args: argparse.Namespace) -> int:
    from devmetrics_app.review.pauses import resume
    from devmetrics_app.services import boot

    services = boot()
    lifted = asyncio.run(resume(services.endpoints.database_url, args.installation))
    print("AI reviews resumed" if lifted else "AI reviews were not paused for that installation")
    return 0


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
    serve.add_argument("--host", default=DEFAULT_HOST,
                       help="address to listen on (0.0.0.0 for every interface)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")
    serve.add_argument("--worker", dest="worker", action="store_true", default=None,
                       help="also run the workers, in a child process (default with embedded "
                            "servers)")
    serve.add_argument("--no-worker", dest="worker", action="store_false", default=None,
                       help="web only: `devmetrics worker` processes run the jobs")
    serve.add_argument("--in-process-worker", action="store_true",
                       help="run the workers as threads of the web process instead of a child "
                            "process (slower ingest: they share one interpreter lock)")
    serve.add_argument("--reuse-port", action="store_true",
                       help="SO_REUSEPORT: several serve processes share one port, the kernel "
                            "spreading connections among them")
    serve.set_defaults(func=_serve)

    worker = commands.add_parser("worker", help="run the Dramatiq workers and the sweeper")
    worker.add_argument("--threads", type=int, default=None,
                        help="worker threads (default: WORKER_THREADS, 8 unless set)")
    worker.add_argument("--nice", type=int, default=0, choices=range(20), metavar="0-19",
                        help="lower this process's CPU priority by this much")
    worker.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    worker.add_argument("--queues", default=None,
                        help="comma-separated queues to consume (default all): core "
                             "deliveries,rollups,live; outbound reviews,notifications,imports,maintenance")
    worker.set_defaults(func=_worker)

    scheduler = commands.add_parser(
        "scheduler", help="time-based jobs: notification rules every minute, nightly rollups")
    scheduler.set_defaults(func=_scheduler)

    migrate = commands.add_parser("migrate", help="apply pending sql/NNN_*.sql migrations")
    migrate.set_defaults(func=_migrate)

    from devmetrics_app.demo import DEFAULT_SCALE, DEFAULT_SEED, DEFAULT_WEEKS

    demo = commands.add_parser(
        "demo", help="the dashboard of a simulated organisation, no GitHub needed (local browser only)")
    demo.add_argument("--port", type=int, default=DEFAULT_PORT, help="port on 127.0.0.1")
    demo.add_argument("--seed", type=int, default=DEFAULT_SEED,
                      help="the same seed gives the same organisation")
    demo.add_argument("--scale", type=float, default=DEFAULT_SCALE,
                      help="amount of work (1.0 is about 5,000 deliveries)")
    demo.add_argument("--weeks", type=int, default=DEFAULT_WEEKS, help="weeks of history")
    demo.set_defaults(func=_demo)

    replay = commands.add_parser("replay", help="feed stored webhook deliveries through the pipeline")
    replay.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="a JSON file, a JSON Lines file (one {event, delivery_id, payload} per "
                             "line), a directory of them, or - for standard input")
    replay.add_argument("--event", help="event name, when a document does not say (a bare payload)")
    replay.add_argument("--inline", action="store_true",
                        help="process here and now instead of queueing for the workers")
    replay.set_defaults(func=_replay)

    history = commands.add_parser("import", help="import a repository's history from GitHub")
    history.add_argument("repository", metavar="OWNER/REPO", help="the repository to import")
    history.add_argument("--days", type=int, default=90, help="how far back to import")
    history.set_defaults(func=_import)

    token = commands.add_parser("token", help="API tokens for automation")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser(
        "create", help="print a token granting LOGIN the installation with ROLE")
    create.add_argument("--login", required=True, help="GitHub login the token acts as")
    create.add_argument("--installation", type=int, required=True,
                        help="installation id the token is limited to")
    create.add_argument("--role", default="VIEWER", choices=["VIEWER", "DEVELOPER", "MANAGER", "ADMIN"],
                        help="role the token grants on that installation")
    create.add_argument("--days", type=int, default=30, help="days until the token expires")
    create.set_defaults(func=_token_create)

    emb = commands.add_parser("embedded", help="manage the embedded PostgreSQL and Redis")
    emb_commands = emb.add_subparsers(dest="embedded_command", required=True)
    emb_stop = emb_commands.add_parser("stop", help="stop the embedded servers")
    emb_stop.set_defaults(func=_embedded_stop)

    ai_resume = commands.add_parser(
        "ai-resume", help="call Claude again for an installation paused by an Anthropic billing refusal")
    ai_resume.add_argument("installation", type=int, metavar="INSTALLATION_ID",
                           help="the installation whose AI reviews were paused")
    ai_resume.set_defaults(func=_ai_resume)
    for child in subcommand_parsers(parser):
        child.formatter_class = HelpFormatter
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
