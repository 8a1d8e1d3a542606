"""Convergence under an install burst: how long until an organisation's figures are final.

After an organisation installs the app, GitHub sends thousands of deliveries at once. This
generates such a burst with `generate_org` (pull requests with reviews and commits, CI runs,
deployments and statuses, issues in milestones, Dependabot; >= 5,000 deliveries at scale 1),
then:

* quiet   -- the baseline, in this process: every delivery processed inline, one after the other,
             in a scratch database, then the rollups the handlers asked for, once. Its figures
             are what a slow trickle of the same deliveries gives: the *final* figures.
* burst   -- `devmetrics serve --worker` (the real app with its in-process Dramatiq workers) in
             a subprocess, on its own scratch database, with a fake GitHub (tests/fakes) for the
             AI review's check runs and comments (paced at 80 content writes a minute, as GitHub
             demands). Every delivery is POSTed signed at once over `--concurrency` connections.

Printed: time to all deliveries processed, time until the rollup tables equal the quiet run's
(row for row, stamps aside), and the trouble counted on the way: deadlocks (PostgreSQL's
pg_stat_database), unique-key conflicts and deadlocks in the app's log, dead-lettered Dramatiq
messages per queue, deliveries that failed or were retried. Target: final figures within 2x the
processing time, 0 dead letters, 0 deadlocks.

Needs DATABASE_URL (scratch databases are created beside it and dropped after) and REDIS_URL
(the app's `devmetrics*` keys in that Redis database are removed before and after).

    python benchmarks/convergence.py [--scale 1.0] [--seed 1] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from fakes.github.state import FakeGitHubState  # noqa: E402
from ingest import (  # noqa: E402 -- the serving, scratch-database and fake GitHub helpers are shared
    HOST,
    FakeGitHubThread,
    _free_port,
    _private_key_pem,
    _public_key_pem,
    _scratch_database,
    _stop,
    _wait_healthy,
    _with_database,
    github_state,
)

from devmetrics_app.db import create_pool, migrate  # noqa: E402
from devmetrics_app.events import router  # noqa: E402
from devmetrics_app.events.context import FULL_RECOMPUTE_DAYS  # noqa: E402
from devmetrics_app.events.dispatch import process_delivery  # noqa: E402
from devmetrics_app.metrics import materialize  # noqa: E402
from devmetrics_app.simulation import INSTALLATION_ID, generate_org  # noqa: E402
from devmetrics_app.simulation.delivery import Delivery  # noqa: E402
from devmetrics_app.store.deliveries import IncomingDelivery, insert_batch  # noqa: E402
from devmetrics_app.web.signature import sign  # noqa: E402

QUIET_DATABASE = "devmetrics_conv_quiet"
BURST_DATABASE = "devmetrics_conv_burst"
APP_ID = 4242
WEBHOOK_SECRET = "convergence-benchmark-secret"
# The derived tables a dashboard reads; stamps (computed_at, built_at) differ by nature.
FIGURE_TABLES = (
    "pull_request_cycle", "releases", "release_commits", "sprint_facts", "repository_stats",
    "installation_stats", "developer_metrics", "team_metrics", "metric_histograms",
    "developer_totals",
)
STAMP_COLUMNS = ("computed_at", "built_at")
KEY_COLUMNS = frozenset({"day", "repository_id", "installation_id", "user_id", "team_id", "series",
                         "settings_key", "id", "pull_request_id", "milestone_id"})
POLL_SECONDS = 1.0
LOG_PATTERNS = {
    "unique-key conflicts": re.compile(r"UniqueViolation"),
    "deadlocks logged": re.compile(r"DeadlockDetected|deadlock detected"),
    "retries exceeded (dead letters)": re.compile(r"Retries exceeded"),
}


def incoming(delivery: Delivery) -> IncomingDelivery:
    installation = delivery.payload.get("installation") or {}
    return IncomingDelivery(delivery_id=delivery.delivery_id, event=delivery.event,
                            action=delivery.payload.get("action"),
                            installation_id=installation.get("id"), hook_id=None,
                            content_type="application/json", body=delivery.body())


def _normal(value: object) -> object:
    # Sums of floats differ in the last bits with the order they were added in.
    return round(value, 6) if isinstance(value, float) else value


async def figures(conn: asyncpg.Connection) -> dict[str, str]:
    """One digest per figure table: its rows without stamps, floats rounded, in a stable order.
    An all-zero rollup row reads exactly like a missing one (every figure sums rows), so both
    count as absent: a recompute window that covered a quiet day leaves such a row behind."""
    out = {}
    for table in FIGURE_TABLES:
        rows = set()
        for record in await conn.fetch(f"SELECT * FROM {table}"):  # noqa: S608 -- our constant names
            row = {k: _normal(v) for k, v in dict(record).items() if k not in STAMP_COLUMNS}
            if all(v in (0, None, []) for k, v in row.items() if k not in KEY_COLUMNS):
                continue
            rows.add(repr(sorted(row.items())))
        digest = hashlib.md5("\n".join(sorted(rows)).encode(), usedforsecurity=False).hexdigest()
        out[table] = f"{digest}:{len(rows)}"
    return out


async def quiet_replay(url: str, deliveries: list[Delivery]) -> tuple[float, float, dict[str, str]]:
    """Process inline, in order; then the rollups asked for, once. (seconds, seconds, figures)"""
    pool = await create_pool(url, max_size=1)  # the app's connection set-up (JSON codecs)
    try:
        async with pool.acquire() as conn:
            return await _quiet_replay(conn, deliveries)
    finally:
        await pool.close()


async def _quiet_replay(conn: asyncpg.Connection, deliveries: list[Delivery]) -> tuple[float, float, dict]:
    await migrate(conn)
    began = time.perf_counter()
    work: dict[int, set[str]] = {}
    whole_installation = False
    for delivery in deliveries:
        await insert_batch(conn, [incoming(delivery)])
        outcome = await process_delivery(conn, router, delivery.delivery_id, max_attempts=3)
        for name, kwargs in outcome.followups if outcome else []:
            if name == "recompute_rollups":
                work.setdefault(kwargs["repository_id"], set()).update(kwargs["days"])
            elif name == "recompute_installation_rollups":
                whole_installation = True
    processed = time.perf_counter() - began
    today = datetime.now(UTC).date()
    if whole_installation:
        await materialize.recompute_installation(
            conn, INSTALLATION_ID, [today - timedelta(days=i) for i in range(FULL_RECOMPUTE_DAYS)])
    async with conn.transaction():
        await materialize.lock_installation(conn, INSTALLATION_ID)
        await materialize.recompute_pending(conn, INSTALLATION_ID, {r: sorted(d) for r, d in work.items()})
    return processed, time.perf_counter() - began, await figures(conn)


def fake_github_state(deliveries: list[Delivery], public_key_pem: str) -> FakeGitHubState:
    """A GitHub that knows the installation, its repositories and pull requests: the AI review
    gets tokens and diffs and writes its check runs and comments."""
    return github_state(((d.event, d.payload) for d in deliveries), app_id=APP_ID,
                        installation_id=INSTALLATION_ID, public_key_pem=public_key_pem,
                        webhook_secret=WEBHOOK_SECRET)


async def fire(port: int, deliveries: list[Delivery], concurrency: int) -> Counter:
    """POST every delivery signed, `concurrency` at a time; count the answers."""
    queue: asyncio.Queue[Delivery] = asyncio.Queue()
    for delivery in deliveries:
        queue.put_nowait(delivery)
    answers: Counter = Counter()
    url = f"http://{HOST}:{port}/api/webhooks/github"

    async def sender(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            delivery = queue.get_nowait()
            body = delivery.body()
            headers = {"Content-Type": "application/json", "X-GitHub-Event": delivery.event,
                       "X-GitHub-Delivery": delivery.delivery_id, "X-GitHub-Hook-ID": "1",
                       "X-Hub-Signature-256": sign(WEBHOOK_SECRET, body),
                       "User-Agent": "GitHub-Hookshot/bench"}
            async with session.post(url, data=body, headers=headers) as response:
                answers[response.status] += 1
                await response.read()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(sender(session) for _ in range(concurrency)))
    return answers


async def watch_burst(url: str, quiet: dict[str, str], total: int, began: float,
                      limit_seconds: float) -> tuple[float | None, float | None, dict[str, str]]:
    """Seconds (from the first POST) to all processed and to figures equal to quiet's."""
    processed_at = final_at = None
    conn = await asyncpg.connect(url)
    now: dict[str, str] = {}
    try:
        while time.perf_counter() - began < limit_seconds:
            if processed_at is None:
                done = await conn.fetchval("SELECT count(*) FROM webhook_deliveries "
                                           "WHERE status IN ('processed', 'ignored', 'failed')")
                if done >= total:
                    processed_at = time.perf_counter() - began
                    print(f"  all {total:,} deliveries processed after {processed_at:.1f} s", flush=True)
            now = await figures(conn)
            if processed_at is not None and now == quiet:
                final_at = time.perf_counter() - began
                break
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await conn.close()
    return processed_at, final_at, now


async def burst_counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE status = 'failed') AS failed, "
            "count(*) FILTER (WHERE attempts > 1) AS retried FROM webhook_deliveries")
        return dict(row)
    finally:
        await conn.close()


async def deadlocks(admin_url: str, database: str) -> int:
    conn = await asyncpg.connect(admin_url)
    try:
        return await conn.fetchval("SELECT deadlocks FROM pg_stat_database WHERE datname = $1", database) or 0
    finally:
        await conn.close()


def dead_letters(redis_url: str) -> dict[str, int]:
    client = redis.Redis.from_url(redis_url)
    try:
        return {key.decode().split(":", 1)[1]: client.zcard(key)
                for key in client.scan_iter(match="devmetrics:*.XQ", count=1000)}
    finally:
        client.close()


def clear_redis(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match="devmetrics*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start:start + 500])
    finally:
        client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases to compare")
    args = parser.parse_args()
    admin_url = os.environ.get("DATABASE_URL", "").strip()
    redis_url = os.environ.get("REDIS_URL", "").strip()
    if not (admin_url and redis_url):
        parser.error("set DATABASE_URL and REDIS_URL (scratch databases are made beside it)")

    deliveries = generate_org(seed=args.seed, scale=args.scale)
    events = Counter(d.event for d in deliveries)
    print(f"burst: {len(deliveries):,} deliveries (seed {args.seed}, scale {args.scale:g}): "
          + ", ".join(f"{e} {n}" for e, n in events.most_common()), flush=True)

    quiet_url, burst_url = (_with_database(admin_url, QUIET_DATABASE),
                            _with_database(admin_url, BURST_DATABASE))
    for name in (QUIET_DATABASE, BURST_DATABASE):
        asyncio.run(_scratch_database(admin_url, name, create=True))
    clear_redis(redis_url)
    data_dir = Path(tempfile.mkdtemp(prefix="dmconv-", dir="/tmp"))
    log_path = data_dir / "serve.log"
    proc = None
    try:
        print("quiet replay (inline, in order) ...", flush=True)
        quiet_processed, quiet_total, quiet = asyncio.run(quiet_replay(quiet_url, deliveries))
        rows = ", ".join(f"{t} {quiet[t].rsplit(':', 1)[1]}" for t in FIGURE_TABLES)
        print(f"  processed in {quiet_processed:.1f} s, figures final after {quiet_total:.1f} s "
              f"(rows: {rows})", flush=True)

        key_pem = _private_key_pem()
        github = FakeGitHubThread(fake_github_state(deliveries, _public_key_pem(key_pem)))
        github.start()
        github.ready.wait(10)
        github_url = f"http://{HOST}:{github.port}"
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update({
            "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "DEVMETRICS_ENV": "production", "DEVMETRICS_DATA_DIR": str(data_dir),
            "DATABASE_URL": burst_url, "REDIS_URL": redis_url,
            "SECRET_KEY": "convergence-bench-secret-key-0123456789",
            "GITHUB_APP_ID": str(APP_ID), "GITHUB_PRIVATE_KEY": key_pem,
            "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET, "GITHUB_API_URL": github_url,
            "GITHUB_URL": github_url, "PUBLIC_URL": f"http://{HOST}:{port}", "LOG_LEVEL": "INFO",
            "ANTHROPIC_API_KEY": "",
        })
        print("burst replay (devmetrics serve --worker, signed POSTs) ...", flush=True)
        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen([sys.executable, "-m", "devmetrics_app.cli", "serve", "--worker",
                                     "--host", HOST, "--port", str(port)],
                                    env=env, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT)
        _wait_healthy(proc, port, "devmetrics")
        deadlocks_before = asyncio.run(deadlocks(admin_url, BURST_DATABASE))

        async def burst() -> tuple:
            began = time.perf_counter()
            watcher = asyncio.create_task(watch_burst(burst_url, quiet, len(deliveries), began, args.timeout))
            answers = await fire(port, deliveries, args.concurrency)
            print(f"  all POSTed after {time.perf_counter() - began:.1f} s: {dict(answers)}", flush=True)
            return answers, *(await watcher)

        answers, processed_at, final_at, last = asyncio.run(burst())
        deadlock_count = asyncio.run(deadlocks(admin_url, BURST_DATABASE)) - deadlocks_before
        counts = asyncio.run(burst_counts(burst_url))
        letters = dead_letters(redis_url)
        writes = len([r for r in github.state.requests if r.method in ("POST", "PATCH")])
    finally:
        if proc is not None:
            _stop(proc)
        clear_redis(redis_url)
        for name in () if args.keep else (QUIET_DATABASE, BURST_DATABASE):
            asyncio.run(_scratch_database(admin_url, name, create=False))
    log_text = log_path.read_text(errors="replace")
    logged = {name: len(pattern.findall(log_text)) for name, pattern in LOG_PATTERNS.items()}

    print()
    print(f"{'':<44}{'seconds':>10}")
    print(f"{'quiet baseline: processed inline':<44}{quiet_processed:>10.1f}")
    print(f"{'quiet baseline: + rollups once (final)':<44}{quiet_total:>10.1f}")
    print(f"{'burst: all processed':<44}{processed_at if processed_at else float('nan'):>10.1f}")
    print(f"{'burst: figures final (equal to quiet)':<44}{final_at if final_at else float('nan'):>10.1f}")
    if processed_at and final_at:
        print(f"final / processed = {final_at / processed_at:.2f}x (target <= 2x)")
    else:
        differ = [t for t in FIGURE_TABLES if last.get(t) != quiet[t]]
        print(f"figures NOT final within {args.timeout:g} s; tables differing: {differ}")
    print(f"POST answers: {dict(answers)}; GitHub writes by the AI review (POST/PATCH): {writes}")
    print(f"deadlocks (pg_stat_database): {deadlock_count}; "
          + "; ".join(f"{k}: {v}" for k, v in logged.items()))
    print(f"dead-lettered messages by queue: {letters or 'none'}; "
          f"deliveries failed: {counts['failed']}, retried: {counts['retried']}")
    print(f"app log: {log_path}")
    ok = (final_at is not None and processed_at is not None and final_at <= 2 * processed_at
          and not any(letters.values()) and deadlock_count == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
