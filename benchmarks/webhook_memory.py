"""Webhook memory under unverified bodies: the server's RSS while 40 unsigned 24 MB bodies arrive.

Starts `python -m devmetrics_app.cli serve --no-worker` as a subprocess, measures its idle RSS
(after a few small requests), then POSTs `--bodies` bodies of `--mb` MB each, all at once, with a
wrong signature (each must be answered 401), sampling the server's RSS (/proc/PID/status) every
few milliseconds. Prints the idle RSS (the baseline) beside the peak.

With `--compare-root DIR` the same is run first against the code in DIR (e.g. a checkout of
main before the change), so both figures come from the same run.

PostgreSQL and Redis: DATABASE_URL and REDIS_URL must be set; a scratch database
devmetrics_bench_memory is created beside the given one and dropped afterwards.

    python benchmarks/webhook_memory.py [--bodies 40] [--mb 24] [--compare-root /work/main]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import aiohttp
from ingest import (
    HOST,
    _free_port,
    _private_key_pem,
    _scratch_database,
    _stop,
    _wait_healthy,
    _with_database,
)

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DATABASE = "devmetrics_bench_memory"
SAMPLE_SECONDS = 0.005
CLIENT_TIMEOUT_SECONDS = 120.0


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class PeakSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(SAMPLE_SECONDS)


async def flood(port: int, bodies: int, size: int) -> Counter:
    body = b'{"pad": "' + b"x" * (size - 11) + b'"}'
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push",
               "X-GitHub-Delivery": "memory-bench", "X-Hub-Signature-256": "sha256=" + "0" * 64}
    url = f"http://{HOST}:{port}/api/webhooks/github"
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_SECONDS)
    connector = aiohttp.TCPConnector(limit=bodies)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        async def one() -> str:
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    return str(response.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                return type(exc).__name__
        return Counter(await asyncio.gather(*(one() for _ in range(bodies))))


async def warm(port: int) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(5):
            async with session.get(f"http://{HOST}:{port}/healthz") as response:
                await response.read()


def measure(code_root: Path, env: dict[str, str], args: argparse.Namespace) -> dict:
    port = _free_port()
    env = {**env, "PYTHONPATH": str(code_root)}
    proc = subprocess.Popen([sys.executable, "-m", "devmetrics_app.cli", "serve", "--no-worker",
                             "--host", HOST, "--port", str(port)], env=env, cwd=code_root)
    try:
        _wait_healthy(proc, port, str(code_root))
        asyncio.run(warm(port))
        time.sleep(0.5)
        idle = rss_mb(proc.pid)
        sampler = PeakSampler(proc.pid)
        sampler.start()
        began = time.monotonic()
        answers = asyncio.run(flood(port, args.bodies, int(args.mb * 1024 * 1024)))
        elapsed = time.monotonic() - began
        sampler.stopping.set()
        sampler.join()
        return {"idle": idle, "peak": sampler.peak, "answers": answers, "seconds": elapsed}
    finally:
        _stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", type=int, default=40)
    parser.add_argument("--mb", type=float, default=24.0)
    parser.add_argument("--compare-root", type=Path, help="also measure the code in this checkout")
    args = parser.parse_args()
    given_db = os.environ.get("DATABASE_URL", "").strip()
    given_redis = os.environ.get("REDIS_URL", "").strip()
    if not (given_db and given_redis):
        parser.error("set DATABASE_URL and REDIS_URL")
    asyncio.run(_scratch_database(given_db, SCRATCH_DATABASE, create=True))
    env = {**os.environ, "DEVMETRICS_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(32),
           "GITHUB_APP_ID": "123456", "GITHUB_PRIVATE_KEY": _private_key_pem(),
           "GITHUB_WEBHOOK_SECRET": secrets.token_hex(20), "LOG_LEVEL": "ERROR",
           "DATABASE_URL": _with_database(given_db, SCRATCH_DATABASE), "REDIS_URL": given_redis}
    roots = ([("compare", args.compare_root.resolve())] if args.compare_root else [])
    roots.append(("this", ROOT))
    print(f"{args.bodies} parallel unsigned bodies of {args.mb:g} MB; server RSS from /proc")
    try:
        for name, root in roots:
            r = measure(root, env, args)
            answers = ", ".join(f"{k}: {v}" for k, v in sorted(r["answers"].items()))
            print(f"{name:<8} {root!s:<24} idle RSS {r['idle']:7.1f} MB | peak RSS "
                  f"{r['peak']:7.1f} MB (+{r['peak'] - r['idle']:.1f}) | {r['seconds']:.1f} s | "
                  f"answers {answers}", flush=True)
    finally:
        asyncio.run(_scratch_database(given_db, SCRATCH_DATABASE, create=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
