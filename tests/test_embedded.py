"""`devmetrics embedded stop` stops the embedded servers for real, and says so when it cannot."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devmetrics_app import embedded


def stop_command(data_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEVMETRICS_ENV": "test", "DEVMETRICS_DATA_DIR": str(data_dir)}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "devmetrics_app.cli", "embedded", "stop"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def own_data_dir() -> Iterator[Path]:
    # Short: PostgreSQL's and Redis's socket paths live under it.
    path = Path(f"/tmp/dmstop-{os.getpid()}")
    path.mkdir(exist_ok=True)
    yield path
    if embedded.postgres_pid(path) is not None:  # the command under test failed: clean up
        subprocess.run(["kill", str(embedded.postgres_pid(path))], check=False)
    embedded.stop_redis(path)
    shutil.rmtree(path, ignore_errors=True)


def test_stop_stops_both_servers(own_data_dir: Path) -> None:
    embedded.start_postgres(own_data_dir)
    embedded.start_redis(own_data_dir)
    assert embedded.postgres_pid(own_data_dir) is not None

    result = stop_command(own_data_dir)

    assert result.returncode == 0, result.stderr
    assert "stopped PostgreSQL, Redis" in result.stdout
    assert embedded.postgres_pid(own_data_dir) is None
    assert stop_command(own_data_dir).stdout.strip() == "stopped nothing (none running)"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the data directory away")
def test_a_failed_stop_exits_non_zero(own_data_dir: Path) -> None:
    pgdata = own_data_dir / embedded.POSTGRES_DIR
    pgdata.mkdir()
    shutil.chown(pgdata, "nobody")
    # A live process of root's in the pid file: pg_ctl, run as the directory's owner, may not
    # signal it, so the stop fails.
    sleeper = subprocess.Popen(["sleep", "120"])
    (pgdata / "postmaster.pid").write_text(f"{sleeper.pid}\n{pgdata}\n")
    try:
        result = stop_command(own_data_dir)
    finally:
        sleeper.kill()
        sleeper.wait()

    assert result.returncode == 1
    assert "could not stop PostgreSQL" in result.stderr
