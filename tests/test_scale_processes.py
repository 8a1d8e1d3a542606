"""Two `devmetrics serve --reuse-port` processes on one port and two `devmetrics worker`s, all
real processes, take a burst with redeliveries: nothing lost, nothing processed twice, and
either web process's /metrics counts what all four did (Prometheus multiprocess mode)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import orjson
import payloads
from conftest import WEBHOOK_SECRET, signed_headers, wait_for
from processes import Process, app_env, devmetrics, free_port, healthy
from test_observability import sample

BURST = 160
REDELIVERED = 40  # GitHub's "redeliver" keeps the delivery id: stored once, processed once
CONCURRENCY = 16


def opened(number: int) -> bytes:
    pr = payloads.pull_request(20_000 + number, repo=payloads.REPO_API, user=payloads.ALICE,
                               title=f"Change {number}", head_ref=f"change-{number}")
    return orjson.dumps(payloads.pull_request_event("opened", pr))


async def send_burst(url: str, numbers: list[int]) -> list[int]:
    statuses: list[int] = []
    # A fresh connection per request, so the kernel spreads them over both web processes.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def sender() -> None:
            while numbers:
                number = numbers.pop()
                body = opened(number)
                headers = signed_headers("pull_request", body, delivery_id=f"scale-{number}")
                async with session.post(url + "/api/webhooks/github", data=body,
                                        headers=headers) as response:
                    statuses.append(response.status)
        await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
    return statuses


def pids_with_timings(metrics_dir: Path) -> set[int]:
    return {int(f.stem.rsplit("_", 1)[1]) for f in metrics_dir.glob("histogram_*.db")}


async def serving(url: str, metrics_dir: Path, pids: set[int]) -> bool:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        for _ in range(10):
            async with session.get(url + "/healthz") as response:
                assert response.status == 200
    return pids <= pids_with_timings(metrics_dir)


async def test_two_web_two_workers_burst(settings, pool, private_redis, private_key_pem,
                                         tmp_path: Path) -> None:
    metrics_dir = tmp_path / "prometheus"
    env = app_env(settings, redis_url=private_redis.url, private_key_pem=private_key_pem,
                  webhook_secret=WEBHOOK_SECRET, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    processes: list[Process] = []
    try:
        for n in (1, 2):  # the second bind succeeds only with SO_REUSEPORT
            web = devmetrics(f"web-{n}", "serve", "--no-worker", "--reuse-port", "--port", str(port),
                             env=env, log_dir=tmp_path)
            processes.append(web)
            await wait_for(lambda web=web: healthy(url, web), timeout=60)
        # Until both answer: each web process writes its request timings to a file named by pid.
        await wait_for(lambda: serving(url, metrics_dir, {p.proc.pid for p in processes}), timeout=60)
        processes += [devmetrics(f"worker-{n}", "worker", env=env, log_dir=tmp_path) for n in (1, 2)]
        numbers = list(range(BURST)) + list(range(REDELIVERED))
        statuses = await send_burst(url, numbers)
        assert statuses == [202] * (BURST + REDELIVERED)
        await wait_for(lambda: pool.fetchval(
            "SELECT count(*) = $1 FROM webhook_deliveries WHERE status = 'processed'", BURST),
            timeout=120)
        assert all(p.alive() for p in processes), [p.output() for p in processes if not p.alive()]
        async with aiohttp.ClientSession() as session, session.get(url + "/metrics") as response:
            text = await response.text()
    finally:
        for process in processes:
            process.stop()
    assert await pool.fetchval("SELECT count(*) FROM webhook_deliveries") == BURST
    assert await pool.fetchval("SELECT max(attempts) FROM webhook_deliveries") == 1  # once each
    assert await pool.fetchval("SELECT count(*) FROM pull_requests") == BURST
    # One scrape sums every process: both web processes' answers and both workers' processing.
    assert sample(text, "devmetrics_webhooks_received_total", event="pull_request",
                  outcome="stored") == BURST
    assert sample(text, "devmetrics_webhooks_received_total", event="pull_request",
                  outcome="duplicate") == REDELIVERED
    assert sample(text, "devmetrics_webhooks_processed_total", event="pull_request",
                  outcome="processed") == BURST
