"""Processing throughput with 1, 2 and 4 `devmetrics worker` processes, against an inline baseline.

A batch of `--deliveries` signed-shape `pull_request.opened` deliveries (distinct pull requests,
spread over `--installations` installations) is stored in one statement while the workers are
already up and idle, exactly as the web process stores webhooks; the clock runs from that
commit to the moment every delivery is processed. Between runs every table is emptied.

* inline   -- one process, one connection, `process_delivery` in a loop: no Dramatiq, no
              dispatcher. The cost of the handlers and the commit alone.
* workers  -- N real `devmetrics worker` processes (WORKER_THREADS each) with their dispatcher
              and sweeper, on Redis (or RabbitMQ with BROKER_URL=amqp://...).

Follow-up jobs the handlers enqueue (rollups, notifications) are left to run after the clock
stops; the figure is delivery processing. DATABASE_URL and REDIS_URL must be set: a scratch
database `devmetrics_bench_scale` is created beside the given one and dropped at the end.

The machine's cores are shared by the workers and PostgreSQL: compare the rows with each other
(the speed-up over one worker), not with other machines.

    python benchmarks/scale_workers.py [--deliveries 2000] [--workers 1,2,4] [--threads 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import orjson  # noqa: E402
from ingest import _scratch_database, _with_database  # noqa: E402 -- shared scratch helpers

from devmetrics_app.db import create_pool, migrate  # noqa: E402
from devmetrics_app.events import router  # noqa: E402
from devmetrics_app.events.dispatch import process_delivery  # noqa: E402
from devmetrics_app.simulation import shapes  # noqa: E402
from devmetrics_app.store.deliveries import IncomingDelivery, insert_batch  # noqa: E402

BENCH_DATABASE = "devmetrics_bench_scale"
REDIS_NAMESPACE = "devmetrics"  # devmetrics_app.jobs.broker.DEFAULT_NAMESPACE
READY_TIMEOUT_SECONDS = 120.0
RUN_TIMEOUT_SECONDS = 900.0
POLL_SECONDS = 0.1
AUTHORS = 50


@contextlib.asynccontextmanager
async def scratch_database(admin_url: str, name: str) -> AsyncIterator[str]:
    """A freshly migrated scratch database beside `admin_url`'s (its URL), dropped afterwards."""
    url = _with_database(admin_url, name)
    await _scratch_database(admin_url, name, create=True)
    try:
        conn = await asyncpg.connect(url)
        await migrate(conn)
        await conn.close()
        yield url
    finally:
        await _scratch_database(admin_url, name, create=False)


def make_batch(count: int, installations: int) -> list[IncomingDelivery]:
    """One repository per installation and many authors: pull requests of one repository and
    one author would all wait on the same repository and user rows."""
    repos = [shapes.repository(id=600_000 + i, name=f"repo-{i}") for i in range(installations)]
    authors = [shapes.user(f"dev-{i}", 700_000 + i) for i in range(AUTHORS)]
    batch = []
    for n in range(count):
        pr = shapes.pull_request(100_000 + n, repo=repos[n % installations],
                                 user=authors[n % AUTHORS], title=f"Change {n}",
                                 head_ref=f"change-{n}")
        payload = shapes.pull_request_event("opened", pr, installation_id=4242 + n % installations)
        batch.append(IncomingDelivery(
            delivery_id=str(uuid.uuid4()), event="pull_request", action="opened",
            installation_id=payload["installation"]["id"], hook_id=None,
            content_type="application/json", body=orjson.dumps(payload)))
    return batch


async def empty_tables(conn: asyncpg.Connection) -> None:
    tables = [r["tablename"] for r in await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        if r["tablename"] != "schema_migrations"]
    await conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY")


async def run_inline(url: str, batch: list[IncomingDelivery]) -> float:
    pool = await create_pool(url, max_size=1)  # the app's connection set-up (jsonb codec)
    try:
        async with pool.acquire() as conn:
            await empty_tables(conn)
            await insert_batch(conn, batch)
            started = time.perf_counter()
            for delivery in batch:
                outcome = await process_delivery(conn, router, delivery.delivery_id, max_attempts=3)
                assert outcome is not None and outcome.status == "processed", outcome
            return time.perf_counter() - started
    finally:
        await pool.close()


def flush_queues(redis_url: str) -> None:
    """Drop the previous run's follow-up jobs, so each run starts from empty queues."""
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{REDIS_NAMESPACE}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def start_workers(count: int, env: dict[str, str], log_dir: Path) -> list[tuple[subprocess.Popen, Path]]:
    workers = []
    for n in range(count):
        log_path = log_dir / f"worker-{count}-{n}.log"
        proc = subprocess.Popen([sys.executable, "-m", "devmetrics_app.cli", "worker"], env=env,
                                stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
        workers.append((proc, log_path))
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    for proc, log_path in workers:
        while b"worker started" not in log_path.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("worker did not start:\n" + log_path.read_text(errors="replace"))
            time.sleep(POLL_SECONDS)
    return workers


async def run_workers(url: str, batch: list[IncomingDelivery], count: int, env: dict[str, str],
                      log_dir: Path) -> float:
    conn = await asyncpg.connect(url)
    await empty_tables(conn)
    flush_queues(env["REDIS_URL"])
    workers = start_workers(count, env, log_dir)
    try:
        started = time.perf_counter()
        await insert_batch(conn, batch)
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        while await conn.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'processed'") \
                < len(batch):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{count} worker(s) did not finish within {RUN_TIMEOUT_SECONDS} s")
            await asyncio.sleep(POLL_SECONDS)
        elapsed = time.perf_counter() - started
        twice = await conn.fetchval("SELECT count(*) FROM webhook_deliveries WHERE attempts > 1")
        assert twice == 0, f"{twice} deliveries were attempted more than once"
        return elapsed
    finally:
        for proc, _ in workers:
            proc.terminate()
        for proc, _ in workers:
            proc.wait(30)
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--installations", type=int, default=20)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    admin_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not admin_url or not redis_url:
        sys.exit("set DATABASE_URL and REDIS_URL (a scratch database is created beside the first)")
    async with scratch_database(admin_url, BENCH_DATABASE) as url:
        batch = make_batch(args.deliveries, args.installations)
        log_dir = Path(tempfile.mkdtemp(prefix="dm-scale-"))
        env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT),
               "DEVMETRICS_DATA_DIR": str(log_dir), "SECRET_KEY": "bench-secret-key-0123456789",
               # INFO: the readiness line ("worker started") is logged at that level.
               "WORKER_THREADS": str(args.threads), "LOG_LEVEL": "INFO"}
        print(f"{args.deliveries} pull_request.opened deliveries, {args.installations} installations, "
              f"{args.threads} threads per worker; logs in {log_dir}", flush=True)
        inline = await run_inline(url, batch)
        print(f"{'inline (1 connection)':<24} {inline:7.2f} s {len(batch) / inline:8.0f} deliveries/s",
              flush=True)
        baseline = None
        for count in (int(n) for n in args.workers.split(",")):
            elapsed = await run_workers(url, batch, count, env, log_dir)
            rate = len(batch) / elapsed
            baseline = baseline or rate
            print(f"{f'{count} worker process(es)':<24} {elapsed:7.2f} s {rate:8.0f} deliveries/s"
                  f"  x{rate / baseline:.2f} of 1 worker", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
