"""`devmetrics serve` runs its workers in a child process: restarted when it dies, stopped with
serve, and nothing accepted while it is down is lost."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import pytest
from conftest import wait_for
from processes import PrivateRedis, app_env, devmetrics, free_port, healthy
from test_resilience import post_all, processed

from devmetrics_app.worker_child import WorkerChild, exit_with_parent

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


async def test_a_dead_child_is_restarted_and_stop_ends_it() -> None:
    child = WorkerChild(SLEEPER, dict(os.environ), backoff_first=0.05)
    child.start()
    try:
        await wait_for(lambda: child.process is not None, timeout=10)
        first = child.process.pid
        os.kill(first, signal.SIGKILL)
        await wait_for(lambda: child.process.pid != first and child.process.poll() is None,
                       timeout=10)
        assert child.restarts == 1
    finally:
        child.stop(timeout=5)
    child.join(timeout=5)
    assert not child.is_alive()
    assert child.process.poll() is not None  # stopped, and not started again


def test_the_child_stops_when_its_parent_is_gone() -> None:
    stop = threading.Event()
    exit_with_parent(os.getppid() + 1_000_000, stop)  # a pid that is not our parent
    assert stop.wait(10)


def _child_pid(serve_pid: int) -> int | None:
    """serve's live child process (started by its worker-child thread), if any."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == serve_pid and fields[0] != "Z":
            return int(entry.name)
    return None


@pytest.fixture
def process_env(settings, data_dir: Path, tmp_path: Path, private_key_pem: str):
    from conftest import WEBHOOK_SECRET

    redis = PrivateRedis(data_dir / f"redis-wc-{os.getpid()}", tmp_path)
    redis.start()
    yield app_env(settings, redis_url=redis.url, private_key_pem=private_key_pem,
                  webhook_secret=WEBHOOK_SECRET, WORKER_THREADS="2")
    redis.stop()


async def test_serve_restarts_its_worker_process_and_loses_nothing(pool, process_env,
                                                                   tmp_path) -> None:
    port = free_port()
    serve = devmetrics("serve", "serve", "--worker", "--port", str(port), env=process_env,
                       log_dir=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_for(lambda: healthy(url, serve), timeout=60)
        first = await wait_for(lambda: _child_pid(serve.proc.pid), timeout=30)
        assert await post_all(url, range(10)) == [202] * 10
        await wait_for(lambda: _processed_at_least(pool, 10), timeout=60)

        os.kill(first, signal.SIGKILL)
        # Accepted while no worker runs: stored, and processed once the new one is up.
        assert await post_all(url, range(10, 30)) == [202] * 20
        second = await wait_for(lambda: _other_child(serve.proc.pid, first), timeout=30)
        await wait_for(lambda: _processed_at_least(pool, 30), timeout=90)
        assert "worker process" in serve.output() and "restarting it" in serve.output()
    finally:
        serve.stop()
    await wait_for(lambda: not _alive(second), timeout=30)
    assert await pool.fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE status <> 'processed'") == 0


async def _processed_at_least(pool, count: int) -> bool:
    return await processed(pool) >= count


def _other_child(serve_pid: int, first: int) -> int | None:
    pid = _child_pid(serve_pid)
    return pid if pid and pid != first else None

