"""How long `devmetrics demo` takes from the command to a full dashboard (target: a minute).

Runs the real command in a subprocess and prints, beside the target:
  * up:        seconds until GET / answers the local browser with the demo dashboard;
  * processed: seconds until every simulated delivery is processed (the command says so);
  * figures:   seconds until the rollups behind the dashboard's figures are done too;
and, as the baseline measured in the same run, the same organisation's deliveries replayed
`--inline` into a fresh database (one process, no HTTP, no worker threads, no rollups).

    python benchmarks/demo_first_look.py [--scale 0.2]

With DATABASE_URL/REDIS_URL set, fresh databases are made on that server; without, everything runs
on embedded servers under a temporary data directory (their start-up is part of the figure, as
it is for a newcomer), stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

from devmetrics_app.demo import DEFAULT_SCALE, DEFAULT_SEED
from devmetrics_app.simulation import generate_org, write_jsonl

TARGET_SECONDS = 60.0
TIMEOUT_SECONDS = 600.0
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BENCH_DATABASES = ("devmetrics_bench_demo", "devmetrics_bench_base")


async def fresh_database(server_url: str, name: str, *, create: bool = True) -> str:
    """Drop `name` on the server of `server_url`, then (if `create`) make it again, empty."""
    parts = urlsplit(server_url)
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return urlunsplit(parts._replace(path=f"/{name}"))


async def wait_for_dashboard(url: str, deadline: float) -> None:
    async with aiohttp.ClientSession() as browser:
        while time.monotonic() < deadline:
            try:
                async with browser.get(url) as response:
                    if response.status == 200 and "Demo data" in await response.text():
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError("the demo never answered")


async def run_demo(env: dict[str, str], scale: float) -> tuple[float, float, float]:
    port = free_port()
    began = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devmetrics_app.cli", "demo", "--port", str(port), "--scale", str(scale),
        env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        await wait_for_dashboard(f"http://127.0.0.1:{port}/", began + TIMEOUT_SECONDS)
        up = time.monotonic() - began
        assert process.stdout is not None
        processed = None
        while True:
            line = await asyncio.wait_for(process.stdout.readline(), TIMEOUT_SECONDS)
            if not line:
                raise RuntimeError("the demo stopped before loading its organisation")
            if b"processed in" in line:
                processed = time.monotonic() - began
            if b"loaded in" in line:
                assert processed is not None
                return up, processed, time.monotonic() - began
    finally:
        process.send_signal(subprocess.signal.SIGINT)
        await process.wait()


def run_baseline(env: dict[str, str], scale: float, work: Path) -> float:
    source = work / "org.jsonl"
    source.write_text(write_jsonl(generate_org(seed=DEFAULT_SEED, scale=scale)))
    began = time.monotonic()
    subprocess.run([sys.executable, "-m", "devmetrics_app.cli", "replay", str(source), "--inline"],
                   env=env, cwd=ROOT, check=True, capture_output=True)
    return time.monotonic() - began


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=DEFAULT_SCALE, help="the demo's --scale")
    args = parser.parse_args()
    deliveries = len(generate_org(seed=DEFAULT_SEED, scale=args.scale))
    with tempfile.TemporaryDirectory(prefix="devmetrics-demo-bench-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "DEVMETRICS_ENV": "development", "DEVMETRICS_DATA_DIR": str(work / "data"),
               "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
        demo_env, base_env = dict(env), dict(env)
        server = os.environ.get("DATABASE_URL")
        if server:
            demo_env["DATABASE_URL"] = await fresh_database(server, BENCH_DATABASES[0])
            base_env["DATABASE_URL"] = await fresh_database(server, BENCH_DATABASES[1])
        try:
            up, processed, loaded = await run_demo(demo_env, args.scale)
            baseline = await asyncio.to_thread(run_baseline, base_env, args.scale, work)
        finally:
            for name in BENCH_DATABASES if server else ():
                await fresh_database(server, name, create=False)
            if not server:  # the embedded servers under the temporary directory
                await (await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "devmetrics_app.cli", "embedded", "stop", env=env, cwd=ROOT,
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)).wait()
    print(f"devmetrics demo, {deliveries} deliveries (scale {args.scale}):")
    print(f"  dashboard up            {up:6.1f} s")
    print(f"  deliveries processed    {processed:6.1f} s")
    print(f"  figures computed        {loaded:6.1f} s   (target {TARGET_SECONDS:.0f} s)")
    print(f"  baseline: replay --inline of the same deliveries {baseline:6.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
