"""`devmetrics serve` brings the embedded servers it started back when they die."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from conftest import WEBHOOK_SECRET, wait_for
from processes import devmetrics, free_port

from devmetrics_app import embedded
from devmetrics_app.embedded_supervisor import BACKOFF_FIRST_SECONDS, EmbeddedSupervisor, ServerState


@pytest.fixture
def own_data_dir() -> Iterator[Path]:
    path = Path(f"/tmp/dmsup-{os.getpid()}")  # short: Redis's socket lives under it
    path.mkdir(exist_ok=True)
    yield path
    embedded.stop_redis(path)
    shutil.rmtree(path, ignore_errors=True)


async def test_killed_embedded_redis_is_restarted(settings, private_key_pem, own_data_dir,
                                                  tmp_path) -> None:
    env = {**os.environ, "DEVMETRICS_ENV": "test", "DEVMETRICS_DATA_DIR": str(own_data_dir),
           "DATABASE_URL": settings.database_url.get(), "SECRET_KEY": settings.secret_key.get(),
           "GITHUB_APP_ID": "12345", "GITHUB_PRIVATE_KEY": private_key_pem,
           "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET, "WORKER_THREADS": "1", "LOG_LEVEL": "INFO"}
    env.pop("REDIS_URL", None)  # so serve starts (and supervises) an embedded Redis
    port = free_port()
    serve = devmetrics("serve", "serve", "--port", str(port), env=env, log_dir=tmp_path)
    url = f"http://127.0.0.1:{port}/readyz"
    try:
        async with aiohttp.ClientSession() as session:
            async def readiness() -> dict | None:
                assert serve.alive(), serve.output()
                try:
                    async with session.get(url) as response:
                        return await response.json() if response.status == 200 else None
                except aiohttp.ClientConnectionError:
                    return None

            first = await wait_for(readiness, timeout=60)
            assert first["embedded"]["redis"] == {"status": "running", "restarts": 0,
                                                  "last_error": None}
            pid = int((own_data_dir / embedded.REDIS_DIR / "redis.pid").read_text())
            os.kill(pid, signal.SIGKILL)

            async def restarted() -> dict | None:
                ready = await readiness()
                return ready if ready and ready["embedded"]["redis"]["restarts"] >= 1 else None

            again = await wait_for(restarted, timeout=60)
        assert again["embedded"]["redis"]["status"] == "running"
        assert embedded.redis_alive(own_data_dir)
        assert "embedded redis restarted" in serve.output()
    finally:
        serve.stop()


def test_a_failing_restart_backs_off(tmp_path: Path) -> None:
    attempts: list[int] = []

    def fail() -> None:
        attempts.append(1)
        raise RuntimeError("no room on the disk")

    supervisor = EmbeddedSupervisor(tmp_path, postgres=False, redis=False)
    state = ServerState(alive=lambda: False, start=fail)
    supervisor.servers["redis"] = state
    supervisor.check("redis", state)
    supervisor.check("redis", state)  # within the back-off: no second attempt
    assert len(attempts) == 1
    assert state.status == "down" and "no room" in state.last_error
    assert state.backoff == 2 * BACKOFF_FIRST_SECONDS
    assert not supervisor.all_running()


def test_killed_embedded_postgres_is_restarted(own_data_dir: Path) -> None:
    """The supervisor's step for PostgreSQL, on a real embedded server killed with SIGKILL."""
    url = embedded.start_postgres(own_data_dir)
    supervisor = EmbeddedSupervisor(own_data_dir, postgres=True, redis=False)
    state = supervisor.servers["postgresql"]
    try:
        first = embedded.postgres_pid(own_data_dir)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while embedded.postgres_pid(own_data_dir) is not None:
            assert time.monotonic() < deadline, "the killed postmaster is still there"
            time.sleep(0.05)
        # The killed postmaster's children notice its death and exit on their own; until they
        # all have, a start is refused (two servers on one directory) and the supervisor tries
        # again after its back-off, as it does in `serve`. (Checking once failed when a busy
        # machine kept one child alive a moment longer.)
        while True:
            supervisor.check("postgresql", state)
            if state.status == "running":
                break
            assert time.monotonic() < deadline, state.last_error
            time.sleep(0.1)
        assert state.restarts == 1, state.last_error
        assert embedded.postgres_pid(own_data_dir) not in (None, first)

        async def answers() -> int:
            conn = await asyncpg.connect(url)
            try:
                return await conn.fetchval("SELECT 1")
            finally:
                await conn.close()
        assert asyncio.run(answers()) == 1
    finally:
        embedded.stop_postgres(own_data_dir)
