"""Fair share: how long a quiet installation's deliveries wait behind a noisy one's burst.

One `devmetrics serve` and one `devmetrics worker` process. A noisy installation posts
`--burst` signed pull_request.opened webhooks as fast as it can; right after, a quiet
installation posts `--quiet` of its own. Reported: the quiet installation's delivery lag
(stored → processed), median and worst, run twice in the same session:

* baseline -- WEBHOOK_RATE_LIMIT_PER_MINUTE=0 (no limit): the quiet deliveries queue behind the
              whole burst;
* limited  -- WEBHOOK_RATE_LIMIT_PER_MINUTE=`--limit`: the noisy installation's excess is stored
              and scheduled for later slots, so the quiet deliveries pass it.

Every delivery of both runs is answered 202 (checked); in the limited run the noisy excess is
still waiting for its slots when the quiet ones are done, which is the point. DATABASE_URL and
REDIS_URL must be set; a scratch database is created beside the first and dropped at the end.

    python benchmarks/fair_share.py [--burst 1500] [--quiet 20] [--limit 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ingest import _private_key_pem  # noqa: E402
from scale_workers import (  # noqa: E402
    empty_tables,
    flush_queues,
    scratch_database,
    start_workers,
)

from devmetrics_app.simulation import shapes  # noqa: E402
from devmetrics_app.web.signature import sign  # noqa: E402

BENCH_DATABASE = "devmetrics_bench_fair"
SECRET = "bench-webhook-secret"
NOISY, QUIET = 5001, 5002
CONCURRENCY = 32
TIMEOUT_SECONDS = 900.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def body(number: int, installation_id: int) -> bytes:
    repo = shapes.repository(id=800_000 + installation_id, name=f"repo-{installation_id}")
    author = shapes.user(f"dev-{number % 50}", 900_000 + number % 50)
    pr = shapes.pull_request(number, repo=repo, user=author, title=f"Change {number}",
                             head_ref=f"change-{number}")
    return orjson.dumps(shapes.pull_request_event("opened", pr, installation_id=installation_id))


async def post(url: str, items: list[tuple[int, int]]) -> list[int]:
    statuses: list[int] = []
    async with aiohttp.ClientSession() as session:
        async def sender() -> None:
            while items:
                number, installation_id = items.pop(0)
                data = body(number, installation_id)
                headers = {"Content-Type": "application/json", "X-GitHub-Event": "pull_request",
                           "X-GitHub-Delivery": f"fair-{installation_id}-{number}",
                           "X-Hub-Signature-256": sign(SECRET, data)}
                async with session.post(url + "/api/webhooks/github", data=data,
                                        headers=headers) as response:
                    statuses.append(response.status)
        await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
    return statuses


def start_web(port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "devmetrics_app.cli", "serve", "--no-worker",
                             "--port", str(port)], env=env, stdout=log_path.open("wb"),
                            stderr=subprocess.STDOUT)


async def wait_up(url: str, web: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    async with aiohttp.ClientSession() as session:
        while True:
            if web.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("web process did not start")
            try:
                async with session.get(url + "/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)


async def run(url_db: str, env: dict[str, str], log_dir: Path, args, limit: int) -> tuple[float, float, int]:
    conn = await asyncpg.connect(url_db)
    await empty_tables(conn)
    flush_queues(env["REDIS_URL"])
    env = {**env, "WEBHOOK_RATE_LIMIT_PER_MINUTE": str(limit)}
    port = free_port()
    web = start_web(port, env, log_dir / f"web-{limit}.log")
    workers = []
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_up(url, web)
        workers = start_workers(1, env, log_dir)
        noisy = [(n, NOISY) for n in range(args.burst)]
        quiet = [(100_000 + n, QUIET) for n in range(args.quiet)]
        statuses = await post(url, noisy) + await post(url, quiet)
        assert statuses == [202] * (args.burst + args.quiet), "a webhook was not accepted"
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while await conn.fetchval("""SELECT count(*) FROM webhook_deliveries
                                     WHERE installation_id = $1 AND status = 'processed'""",
                                  QUIET) < args.quiet:
            if time.monotonic() > deadline:
                raise RuntimeError("the quiet installation was not processed in time")
            await asyncio.sleep(0.1)
        lags = [r["lag"] for r in await conn.fetch(
            """SELECT extract(epoch FROM processed_at - received_at)::float8 AS lag
               FROM webhook_deliveries WHERE installation_id = $1""", QUIET)]
        noisy_done = await conn.fetchval("""SELECT count(*) FROM webhook_deliveries
                                            WHERE installation_id = $1 AND status = 'processed'""",
                                         NOISY)
        return statistics.median(lags), max(lags), noisy_done
    finally:
        for proc in [web, *(p for p, _ in workers)]:
            proc.terminate()
        for proc in [web, *(p for p, _ in workers)]:
            proc.wait(30)
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=1500)
    parser.add_argument("--quiet", type=int, default=20)
    parser.add_argument("--limit", type=int, default=300)
    args = parser.parse_args()
    admin_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not admin_url or not redis_url:
        sys.exit("set DATABASE_URL and REDIS_URL (a scratch database is created beside the first)")
    async with scratch_database(admin_url, BENCH_DATABASE) as url_db:
        key = _private_key_pem()
        log_dir = Path(tempfile.mkdtemp(prefix="dm-fair-"))
        env = {**os.environ, "DATABASE_URL": url_db, "PYTHONPATH": str(ROOT),
               "DEVMETRICS_DATA_DIR": str(log_dir), "SECRET_KEY": "bench-secret-key-0123456789",
               "GITHUB_APP_ID": "1", "GITHUB_PRIVATE_KEY": key, "GITHUB_WEBHOOK_SECRET": SECRET,
               "SWEEP_INTERVAL_SECONDS": "1", "WORKER_THREADS": "4", "LOG_LEVEL": "INFO"}
        print(f"noisy burst {args.burst}, then {args.quiet} from a quiet installation; one worker; "
              f"logs in {log_dir}", flush=True)
        for label, limit in (("baseline (no limit)", 0), (f"limited ({args.limit}/min)", args.limit)):
            median, worst, noisy_done = await run(url_db, env, log_dir, args, limit)
            print(f"{label:<22} quiet lag median {median:6.2f} s, worst {worst:6.2f} s "
                  f"(noisy processed by then: {noisy_done}/{args.burst})", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
