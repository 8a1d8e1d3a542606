"""Webhook ingest: durable throughput and latency of POST /api/webhooks/github, against baselines.

Fires signed ~22 KB `pull_request.opened` deliveries over loopback at several servers, each started
as its own subprocess, one after the other:

* bare  -- an aiohttp handler that reads the body, checks X-Hub-Signature-256 and answers 202.
           The ceiling: nothing durable happens.
* real  -- `python -m devmetrics_app.cli serve --no-worker`, the app itself: every 202 means the
           delivery is committed in webhook_deliveries (checked afterwards by counting rows).
* serve -- `python -m devmetrics_app.cli serve --worker`: the app as the README runs it, with
           its workers processing what arrives (handlers, rollups, follow-ups) while it ingests.
           Also reported: deliveries processed per second during each phase and the backlog
           left at the end (counted from webhook_deliveries.processed_at).
* serve1 -- (only with --only serve1) serve fed the same PR every time, as this benchmark did
           before --prs: its workers all queue on that one PR's lock.
* base -- (only with --baseline-root DIR) serve run from another checkout (say, main before a
           change), on the same database, Redis and payloads: a before/after in one run.
* threads -- (only with --only threads) the same with `--in-process-worker`: the workers as
           threads of the web process, as serve ran them before they got a process of their own.
* naive -- one INSERT of the body as jsonb per request, each in its own transaction (asyncpg,
           a pool of the same size as the app's). Context for what group commit buys.

For each server two phases run from separate load-generator processes (aiohttp client,
keep-alive connections):

* throughput: closed loop, `--concurrency` connections, `--warmup` s then `--duration` s;
  reported as the median of the per-second counts of 202s;
* latency: open loop at a fixed `--rate` requests/s on a fixed timetable; latency is measured
  from each request's *scheduled* send time to its response, so a stalled server is charged
  for the requests it held up (no coordinated omission).

The deliveries cycle over `--prs` distinct PRs (default 500), as a real burst spreads over many.

Any answer other than 202 (or a client error) is counted and reported as an error.

PostgreSQL and Redis: DATABASE_URL / REDIS_URL from the environment when set -- then a scratch
database `devmetrics_bench_<run id>` is created beside the given one (the app migrates it on start) and
our Redis messages are removed afterwards -- else the app's embedded servers under a temporary
data directory, stopped and deleted at the end.

The machine's cores are shared by the server under test, the load generator and PostgreSQL:
compare the rows with each other, not with other machines.

    python benchmarks/ingest.py [--duration 10] [--concurrency 64] [--rate 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_PATH = "/api/webhooks/github"
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # tests/: the payloads and the fake GitHub
from devmetrics_app.web.signature import sign, verify  # noqa: E402 - needs ROOT on the path

if TYPE_CHECKING:
    from fakes.github.state import FakeGitHubState

HOST = "127.0.0.1"
BENCH_DATABASE = "devmetrics_bench"  # + the run id: two runs at once do not drop each other's
NAIVE_TABLE = "bench_naive_deliveries"
NAIVE_POOL_MAX = 10  # the app's WEB_POOL_MAX, so the naive baseline gets the same connections
BENCH_APP_ID = 123456
SCRATCH_REDIS_MARKER = "devmetrics-bench:scratch"
SCRATCH_REDIS_SECONDS = 3600
STARTUP_TIMEOUT_SECONDS = 120.0  # a first embedded start runs initdb and all migrations
STOP_TIMEOUT_SECONDS = 15.0
CLIENT_TIMEOUT_SECONDS = 30.0
LATENCY_WARMUP_SECONDS = 2.0
LATENCY_CONNECTIONS = 64  # connections per client process in the open-loop phase
MAX_CLIENTS = 8
WORKER_ROWS = ("serve", "serve1", "threads", "base")  # the app with its workers
APP_ROWS = ("real", *WORKER_ROWS)  # the app itself: every 202 a stored row


def _use_uvloop() -> bool:
    """Same choice as devmetrics_app.cli._use_uvloop, so every server runs on the same loop."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def _sign(secret: str, body: bytes) -> str:
    return sign(secret, body)


# --------------------------------------------------------------------------- baseline servers


def _headers_ok(request) -> bool:
    return bool(request.headers.get("X-GitHub-Delivery")) and bool(
        request.headers.get("X-GitHub-Event"))


def _reject(request, body: bytes, secret: str):
    """The app's own signature check (web/signature.py) and header check, or None if fine."""
    from aiohttp import web

    if not verify(secret, body, request.headers.get("X-Hub-Signature-256")):
        return web.json_response({"error": "bad_signature"}, status=401)
    if not _headers_ok(request):
        return web.json_response({"error": "bad_header"}, status=400)
    return None


def run_bare_server(port: int) -> None:
    """Read the body, verify the HMAC in constant time, answer 202. Nothing else."""
    from aiohttp import web

    secret = os.environ["GITHUB_WEBHOOK_SECRET"]

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        if rejected := _reject(request, body, secret):
            return rejected
        return web.json_response({"delivery": request.headers["X-GitHub-Delivery"]}, status=202)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=25 * 1024 * 1024)
    app.router.add_post(WEBHOOK_PATH, receive)
    app.router.add_get("/healthz", healthz)
    _use_uvloop()
    web.run_app(app, host=HOST, port=port, access_log=None, print=lambda _: None)


def run_naive_server(port: int) -> None:
    """Verify, then INSERT the body as jsonb, one transaction per request."""
    import asyncpg
    from aiohttp import web

    secret = os.environ["GITHUB_WEBHOOK_SECRET"]
    dsn = os.environ["BENCH_DATABASE_URL"]
    insert = (f"INSERT INTO {NAIVE_TABLE} (delivery_id, event, action, installation_id, "  # noqa: S608
              "payload) VALUES ($1, $2, $3, $4, $5::jsonb)")

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        if rejected := _reject(request, body, secret):
            return rejected
        payload = json.loads(body)
        installation = payload.get("installation") or {}
        await request.app["pool"].execute(
            insert, request.headers["X-GitHub-Delivery"], request.headers["X-GitHub-Event"],
            payload.get("action"), installation.get("id"), body.decode())
        return web.json_response({"delivery": request.headers["X-GitHub-Delivery"]}, status=202)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def pool_ctx(app: web.Application):
        app["pool"] = await asyncpg.create_pool(dsn, min_size=1, max_size=NAIVE_POOL_MAX)
        yield
        await app["pool"].close()

    app = web.Application(client_max_size=25 * 1024 * 1024)
    app.cleanup_ctx.append(pool_ctx)
    app.router.add_post(WEBHOOK_PATH, receive)
    app.router.add_get("/healthz", healthz)
    _use_uvloop()
    web.run_app(app, host=HOST, port=port, access_log=None, print=lambda _: None)


# --------------------------------------------------------------------------- payload


def build_payload(target_kb: float, number: int = 42) -> bytes:
    """A real-shaped pull_request.opened payload of PR `number`, padded with a long description."""
    import payloads as p

    def render(description: str) -> bytes:
        pr = p.pull_request(number, title="Rework the session store", body=description,
                            labels=[p.label("enhancement")], requested_reviewers=[p.BOB],
                            additions=812, deletions=311, changed_files=23, commits=7)
        event = p.pull_request_event("opened", pr)
        return json.dumps(event, separators=(",", ":")).encode()

    target = int(target_kb * 1024)
    paragraph = ("## Why\n\nSessions were kept in process memory, so a deploy logged every user "
                 "out and two web processes disagreed about who was signed in. This moves them "
                 "to PostgreSQL with a TTL index.\n\n- [x] migration\n- [x] tests\n- [ ] docs\n\n")
    base = len(render(""))
    description = ""
    while base + len(json.dumps(description)) - 2 < target:
        description += paragraph
    while description and base + len(json.dumps(description)) - 2 > target:
        description = description[:-1]
    return render(description)


def build_payloads(target_kb: float, prs: int) -> list[bytes]:
    """`prs` deliveries of distinct PRs (numbers 1000.., so every body has the same length).

    A real burst spreads over many PRs; one PR sent again and again would make every worker
    queue on that PR's advisory lock and cap processing far below what the app does."""
    first = 1000 if prs > 1 else 42
    bodies = [build_payload(target_kb, first + i) for i in range(prs)]
    if len({len(b) for b in bodies}) != 1:
        raise RuntimeError("payload variants differ in length; lower --prs")
    return bodies


# --------------------------------------------------------------------------- load generator
# These run in spawned processes, so they take plain arguments and return plain dicts.


def _record_error(errors: dict[str, int], key: str) -> None:
    errors[key] = errors.get(key, 0) + 1


class RawConnection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol.

    The load generator shares the machine's two cores with the server and PostgreSQL, so it
    must be cheap: a request is a pre-built header block plus the body, and a response is its
    status line, headers and Content-Length bytes. An aiohttp client costs several times more
    CPU per request, which the servers under test would pay for in stolen cycles.
    """

    def __init__(self, port: int) -> None:
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, delivery_id: str, request: tuple[bytes, bytes]) -> int:
        """Send one prepared (head, body) -- see prepare_requests -- under `delivery_id`."""
        head, body = request
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(HOST, self._port)
        assert self._reader is not None
        self._writer.write(head + f"X-GitHub-Delivery: {delivery_id}\r\n\r\n".encode() + body)
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close()
            raise
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self._reader.readexactly(length)
        if b"connection: close" in head.lower():
            self.close()
        return status

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def prepare_requests(port: int, bodies: list[bytes], secret: str) -> list[tuple[bytes, bytes]]:
    """Each body with its signed header block (all but X-GitHub-Delivery), built once."""
    return [((f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
              "Content-Type: application/json\r\nX-GitHub-Event: pull_request\r\n"
              f"X-Hub-Signature-256: {_sign(secret, body)}\r\nX-GitHub-Hook-ID: 480001\r\n"
              "User-Agent: GitHub-Hookshot/bench\r\n"
              f"Content-Length: {len(body)}\r\n").encode(), body) for body in bodies]


def closed_loop_client(port: int, requests: list[tuple[bytes, bytes]], prefix: str, connections: int,
                       t_start: float, warmup: float, duration: float) -> dict:
    """`connections` keep-alive connections, each sending back to back until the end."""
    _use_uvloop()
    t_measure = t_start + warmup
    t_end = t_measure + duration
    per_second = [0] * int(duration + 1)
    errors: dict[str, int] = {}
    total_ok = 0
    counter = 0

    async def connection() -> None:
        nonlocal total_ok, counter
        conn = RawConnection(port)
        while time.monotonic() < t_end:
            counter += 1
            try:
                status = await asyncio.wait_for(
                    conn.post(f"{prefix}{counter}", requests[counter % len(requests)]),
                                                CLIENT_TIMEOUT_SECONDS)
            except Exception as exc:
                _record_error(errors, type(exc).__name__)
                conn.close()
                await asyncio.sleep(0.01)
                continue
            now = time.monotonic()
            if status != 202:
                _record_error(errors, str(status))
                continue
            total_ok += 1
            if t_measure <= now < t_end:
                per_second[int(now - t_measure)] += 1
        conn.close()

    async def main() -> None:
        await asyncio.sleep(max(0.0, t_start - time.monotonic()))
        await asyncio.gather(*(connection() for _ in range(connections)))

    asyncio.run(main())
    return {"per_second": per_second[: int(duration)], "ok": total_ok, "errors": errors}


def open_loop_client(port: int, requests: list[tuple[bytes, bytes]], prefix: str, rate: float, offset: float,
                     t_start: float, warmup: float, duration: float) -> dict:
    """Send on a fixed timetable (every 1/rate s from t_start + offset) whatever the answers.

    Requests wait for a free connection in a queue; their latency still counts from the
    scheduled moment, so a server that stalls is charged for everything it held up."""
    _use_uvloop()
    t_measure = t_start + warmup
    count = int(rate * (warmup + duration))
    t_end = t_measure + duration
    answered_in_window = 0  # 202s that arrived within the measured seconds: the rate held
    latencies: list[float] = []
    send_lag: list[float] = []
    errors: dict[str, int] = {}
    total_ok = 0

    async def worker(queue: asyncio.Queue) -> None:
        nonlocal total_ok, answered_in_window
        conn = RawConnection(port)
        while True:
            item = await queue.get()
            if item is None:
                conn.close()
                return
            i, scheduled = item
            lag = time.monotonic() - scheduled
            try:
                status = await asyncio.wait_for(conn.post(f"{prefix}{i}", requests[i % len(requests)]),
                                                CLIENT_TIMEOUT_SECONDS)
            except Exception as exc:
                _record_error(errors, type(exc).__name__)
                conn.close()
                continue
            done = time.monotonic()
            if status != 202:
                _record_error(errors, str(status))
                continue
            total_ok += 1
            answered_in_window += t_measure <= done < t_end
            if scheduled >= t_measure:
                latencies.append(done - scheduled)
                send_lag.append(lag)

    async def main() -> None:
        queue: asyncio.Queue = asyncio.Queue()
        workers = [asyncio.create_task(worker(queue)) for _ in range(LATENCY_CONNECTIONS)]
        first = t_start + offset
        for i in range(count):
            scheduled = first + i / rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((i, scheduled))
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.gather(*workers)

    asyncio.run(main())
    return {"latencies": latencies, "send_lag": send_lag, "ok": total_ok, "errors": errors,
            "sent": count, "answered_in_window": answered_in_window}


def _merge_errors(results: list[dict]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for result in results:
        for key, n in result["errors"].items():
            merged[key] = merged.get(key, 0) + n
    return merged


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def run_phases(pool: ProcessPoolExecutor, args: argparse.Namespace, port: int,
               requests: list[tuple[bytes, bytes]], prefix: str) -> dict:
    clients = args.clients
    lead = 1.0  # time for the spawned clients to be ready before the common start
    # Throughput: split the connections over the client processes.
    t_start = time.monotonic() + lead
    shares = [args.concurrency // clients + (1 if i < args.concurrency % clients else 0)
              for i in range(clients)]
    futures = [pool.submit(closed_loop_client, port, requests, f"{prefix}t{i}-", n, t_start,
                           args.warmup, args.duration) for i, n in enumerate(shares) if n]
    tp = [f.result() for f in futures]
    throughput_window = _wall_window(t_start + args.warmup, args.duration)
    per_second = [sum(r["per_second"][s] for r in tp) for s in range(int(args.duration))]
    # Latency: each client sends every clients/rate s, staggered, so together they keep `rate`.
    t_start = time.monotonic() + lead
    futures = [pool.submit(open_loop_client, port, requests, f"{prefix}l{i}-", args.rate / clients,
                           i / args.rate, t_start, LATENCY_WARMUP_SECONDS, args.duration)
               for i in range(clients)]
    lat = [f.result() for f in futures]
    latency_window = _wall_window(t_start + LATENCY_WARMUP_SECONDS, args.duration)
    latencies = sorted(x for r in lat for x in r["latencies"])
    lag = sorted(x for r in lat for x in r["send_lag"])
    return {
        "accepted_per_s": statistics.median(per_second) if per_second else 0.0,
        "per_second": per_second,
        "p50_ms": _percentile(latencies, 50) * 1000,
        "p99_ms": _percentile(latencies, 99) * 1000,
        "max_ms": (latencies[-1] * 1000) if latencies else float("nan"),
        "send_lag_p99_ms": _percentile(lag, 99) * 1000,
        "latency_samples": len(latencies),
        # Answered 202 within the measured part of the fixed-rate phase, per second.
        "held_per_s": sum(r["answered_in_window"] for r in lat) / args.duration,
        "accepted_total": sum(r["ok"] for r in tp) + sum(r["ok"] for r in lat),
        "sent_latency": sum(r["sent"] for r in lat),
        "errors": _merge_errors(tp + lat),
        "windows": {"throughput": throughput_window, "latency": latency_window},
    }


def _wall_window(t_monotonic: float, duration: float) -> tuple[float, float]:
    """A measured phase as wall-clock epoch seconds, to compare with PostgreSQL's timestamps."""
    start = time.time() - (time.monotonic() - t_monotonic)
    return start, start + duration


# --------------------------------------------------------------------------- orchestration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _wait_healthy(proc: subprocess.Popen, port: int, name: str) -> None:
    import urllib.request

    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} server exited with {proc.returncode} before it answered")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} server did not answer /healthz within {STARTUP_TIMEOUT_SECONDS} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)  # aiohttp's run_app shuts down cleanly on SIGINT
    try:
        proc.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _with_database(url: str, database: str) -> str:
    parts = urlparse(url)
    return urlunparse(parts._replace(path="/" + database))


async def _scratch_database(admin_url: str, database: str, *, create: bool) -> None:
    """Drop our scratch database (and create it afresh): migrations then always match sql/."""
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        if create:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


async def _sql(url: str, *statements: str) -> list:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return [await conn.fetchrow(s) for s in statements]
    finally:
        await conn.close()


def _count_real_rows(url: str, prefix: str, body_length: int) -> dict:
    """Rows stored for this run, and how many do not decode to a body of the sent length."""
    sys.path.insert(0, str(ROOT))
    from devmetrics_app.store import body_codec

    async def fetch() -> list:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            return await conn.fetch("SELECT body, body_encoding FROM webhook_deliveries "
                                    "WHERE delivery_id LIKE $1", prefix + "%")
        finally:
            await conn.close()

    rows = asyncio.run(fetch())
    wrong = sum(1 for r in rows
                if len(body_codec.decode(r["body"], r["body_encoding"])) != body_length)
    return {"n": len(rows), "wrong": wrong}


def _processing_rates(url: str, prefix: str, windows: dict[str, tuple[float, float]]) -> dict:
    """Deliveries of this run processed per second in each phase, and those still waiting."""

    async def fetch() -> dict:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            out = {}
            for phase, (start, end) in windows.items():
                n = await conn.fetchval(
                    "SELECT count(*) FROM webhook_deliveries WHERE delivery_id LIKE $1 AND "
                    "processed_at >= to_timestamp($2) AND processed_at < to_timestamp($3)",
                    prefix + "%", start, end)
                out[phase] = n / (end - start)
            out["backlog"] = await conn.fetchval(
                "SELECT count(*) FROM webhook_deliveries WHERE delivery_id LIKE $1 AND "
                "processed_at IS NULL", prefix + "%")
            return out
        finally:
            await conn.close()

    return asyncio.run(fetch())


def _scratch_redis(redis_url: str, run_id: str) -> str:
    """An empty numbered database on REDIS_URL's server, claimed for this run, as a URL.

    Everything the app puts in Redis during a row (Dramatiq's queues, their follow-up jobs, the
    run-once and debounce keys, the webhook limiter's slots) is then the run's own, and
    `_clear_redis` empties it between rows and at the end. Removing only the messages that carry
    the run's delivery ids left the follow-ups behind: tens of thousands of rollup and review
    jobs, which the next run's workers took up first."""
    import redis

    parts = urlparse(redis_url)
    given = int(parts.path.strip("/") or 0)
    client = redis.Redis.from_url(redis_url)
    count = int(client.config_get("databases").get("databases", 16))
    for number in range(1, count):
        if number == given:
            continue
        url = urlunparse(parts._replace(path=f"/{number}"))
        candidate = redis.Redis.from_url(url)
        # The marker claims it against a concurrent run; it expires if this run dies.
        if candidate.dbsize() == 0 and candidate.set(SCRATCH_REDIS_MARKER, run_id, nx=True,
                                                     ex=SCRATCH_REDIS_SECONDS):
            return url
    raise SystemExit(f"no empty database on REDIS_URL's server ({count} numbered) for the "
                     "benchmark's scratch use; free one or leave REDIS_URL unset (embedded Redis)")


def _clear_redis(scratch_url: str, run_id: str) -> None:
    import redis

    client = redis.Redis.from_url(scratch_url)
    client.flushdb()
    client.set(SCRATCH_REDIS_MARKER, run_id, ex=SCRATCH_REDIS_SECONDS)


def _clear_embedded_redis(data_dir: Path) -> None:
    """The embedded Redis outlives each app row (it is stopped at the end): empty it as
    `_clear_redis` empties the scratch database, or each serve row's workers would start on the
    jobs the rows before it queued. It is this run's own, under its temporary directory."""
    import redis

    from devmetrics_app import embedded

    if embedded.redis_alive(data_dir):
        redis.Redis(unix_socket_path=str(embedded.redis_socket(data_dir))).flushall()


def github_state(events: Iterable[tuple[str, Mapping]], *, app_id: int, installation_id: int,
                 public_key_pem: str, webhook_secret: str) -> FakeGitHubState:
    """A fake GitHub that knows the installation, the repositories and the pull requests these
    (event, payload) pairs name: the app's AI review gets tokens and diffs from it and writes its
    check runs and comments to it, as it would to GitHub."""
    from fakes.github.state import FakeGitHubState

    state = FakeGitHubState(app={"id": app_id, "slug": "devmetrics-bench", "name": "DevMetrics Bench",
                                 "owner": {"login": "northwind", "id": 70_000, "type": "Organization"}},
                            app_public_key_pem=public_key_pem, webhook_secret=webhook_secret)
    for event, data in events:
        if event == "installation" and data.get("installation"):
            state.installations[installation_id] = data["installation"]
        repo = data.get("repository")
        if repo:
            state.repositories[repo["full_name"]] = repo
            state.repository_installation[repo["full_name"]] = installation_id
        pr = data.get("pull_request")
        if repo and pr and pr.get("number"):
            pulls = state.pulls.setdefault(repo["full_name"], [])
            pulls[:] = [p for p in pulls if p["number"] != pr["number"]] + [pr]
    return state


class FakeGitHubThread(threading.Thread):
    def __init__(self, state: FakeGitHubState) -> None:
        super().__init__(daemon=True)
        self.state = state
        self.port = _free_port()
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()

    def run(self) -> None:
        from aiohttp import web
        from fakes.github import create_fake_github

        asyncio.set_event_loop(self.loop)
        runner = web.AppRunner(create_fake_github(self.state), access_log=None)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, HOST, self.port).start())
        self.ready.set()
        self.loop.run_forever()




def _start_fake_github(bodies: list[bytes], private_pem: str, secret: str) -> str:
    """A fake GitHub, in a thread of this process, that knows the payloads' installation,
    repository and pull requests; its URL."""
    import payloads as p

    events = [json.loads(body) for body in bodies]
    installation = p.installation()
    if installation["id"] != events[0]["installation"]["id"]:
        raise RuntimeError("tests/payloads: the installation object and the events disagree")
    state = github_state([("installation", {"installation": installation}),
                          *(("pull_request", event) for event in events)],
                         app_id=BENCH_APP_ID, installation_id=installation["id"],
                         public_key_pem=_public_key_pem(private_pem), webhook_secret=secret)
    github = FakeGitHubThread(state)
    github.start()
    if not github.ready.wait(10):
        raise RuntimeError("the fake GitHub did not start")
    return f"http://{HOST}:{github.port}"


def _public_key_pem(private_pem: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(private_pem.encode(), password=None).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _fmt_ms(value: float) -> str:
    return "-" if value != value else f"{value:.1f} ms"  # NaN check


def _combine(rounds: list[dict]) -> dict:
    """Median of each figure over the rounds (max: the worst); errors summed."""
    if len(rounds) == 1:
        return rounds[0]
    out = {key: statistics.median(r[key] for r in rounds)
           for key in ("accepted_per_s", "p50_ms", "p99_ms", "send_lag_p99_ms", "held_per_s")}
    out["max_ms"] = max(r["max_ms"] for r in rounds)
    out["latency_samples"] = sum(r["latency_samples"] for r in rounds)
    out["errors"] = _merge_errors(rounds)
    return out


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _print_table(rows: list[tuple[str, dict]], args: argparse.Namespace, *,
                 header: bool = True) -> None:
    title = (f"{'server':<7} | {'accepted/s':>10} | {f'held @{args.rate:g}/s':>13} | "
             f"{f'p50 @{args.rate:g}/s':>13} | "
              f"{f'p99 @{args.rate:g}/s':>13} | {f'max @{args.rate:g}/s':>13} | errors")
    if header:
        print(title)
        print("-" * len(title))
    for name, r in rows:
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(r["errors"].items())) or "0"
        print(f"{name:<7} | {r['accepted_per_s']:>10.0f} | {r['held_per_s']:>13.0f} | "
              f"{_fmt_ms(r['p50_ms']):>13} | "
              f"{_fmt_ms(r['p99_ms']):>13} | {_fmt_ms(r['max_ms']):>13} | {errors}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="throughput warm-up seconds")
    parser.add_argument("--concurrency", type=int, default=64,
                        help="connections in the throughput phase")
    parser.add_argument("--rate", type=float, default=1000.0, help="requests/s in the latency phase")
    parser.add_argument("--payload-kb", type=float, default=22.0)
    parser.add_argument("--prs", type=int, default=500,
                        help="distinct PRs the deliveries cycle through (1: the same PR each time)")
    parser.add_argument("--clients", type=int, default=2,
                        help=f"load-generator processes (1-{MAX_CLIENTS})")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat the servers in turn; report each figure's median")
    parser.add_argument("--baseline-root", type=Path, metavar="DIR",
                        help="also run `serve` from this checkout, as the row `base`")
    parser.add_argument("--webhook-limit", type=int, metavar="N",
                        help="WEBHOOK_RATE_LIMIT_PER_MINUTE for the app (default: the app's, "
                             "1,000 per installation; all deliveries here are one installation's, "
                             "so past it they are stored but deferred; 0: no limit)")
    parser.add_argument("--skip-naive", action="store_true", help="skip the naive jsonb baseline")
    parser.add_argument("--only", choices=["bare", "real", "serve", "serve1", "threads", "naive", "base"],
                        action="append",
                        help="run only these servers (repeatable)")
    parser.add_argument("--bare-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--naive-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.bare_server:
        run_bare_server(args.bare_server)
        return 0
    if args.naive_server:
        run_naive_server(args.naive_server)
        return 0
    if (not (1 <= args.clients <= MAX_CLIENTS) or not 0 < args.duration <= 600
            or not 1 <= args.rounds <= 20 or not 0 < args.rate <= 100_000):
        parser.error("--clients must be 1-8, --duration 0-600 s, --rounds 1-20, --rate 0-100000")

    servers = args.only or ["bare", "real", "serve"] + ([] if args.skip_naive else ["naive"])
    if args.baseline_root and "base" not in servers:
        servers.append("base")
    secret = secrets.token_hex(20)
    bodies = build_payloads(args.payload_kb, args.prs)
    body = bodies[0]
    run_id = uuid.uuid4().hex[:10]
    bench_database = f"{BENCH_DATABASE}_{run_id}"

    given_db = os.environ.get("DATABASE_URL", "").strip()
    given_redis = os.environ.get("REDIS_URL", "").strip()
    scratch_redis = _scratch_redis(given_redis, run_id) if given_redis else ""
    data_dir = Path(tempfile.mkdtemp(prefix="dmb-", dir="/tmp"))
    embedded = not (given_db and given_redis)
    if given_db:
        bench_db_url = _with_database(given_db, bench_database)
        asyncio.run(_scratch_database(given_db, bench_database, create=True))
    else:
        bench_db_url = f"postgresql://postgres@/devmetrics?host={data_dir}/postgres"

    print(f"payload: pull_request.opened, {len(body):,} bytes, cycling over {args.prs} PR(s) "
          f"(serve1: one PR every time); run {run_id}")
    db_where = (f"scratch database {bench_database} beside DATABASE_URL" if given_db
                else f"embedded PostgreSQL under {data_dir}")
    redis_where = (f"scratch database {urlparse(scratch_redis).path.strip('/')} on REDIS_URL's "
                   "server" if given_redis else f"embedded Redis under {data_dir}")
    print(f"database: {db_where}; redis: {redis_where}")
    print(f"load: {args.clients} client process(es); throughput {args.concurrency} connections, "
          f"{args.warmup:g} s warm-up + {args.duration:g} s; latency open loop at {args.rate:g}/s "
          f"for {LATENCY_WARMUP_SECONDS:g} s + {args.duration:g} s; {os.cpu_count()} CPUs shared "
          f"by server, load generator and PostgreSQL; load average before: {_loadavg()}\n")

    base_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    base_env.update({
        "GITHUB_WEBHOOK_SECRET": secret,
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    })
    private_key = _private_key_pem()
    app_env = {
        **base_env,
        "DEVMETRICS_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "GITHUB_APP_ID": str(BENCH_APP_ID),
        "GITHUB_PRIVATE_KEY": private_key,
        "LOG_LEVEL": "WARNING",
        "DEVMETRICS_DATA_DIR": str(data_dir),
        # Empty but present, so a stray .env cannot point the benchmark at real data.
        "DATABASE_URL": bench_db_url if given_db else "",
        "REDIS_URL": scratch_redis,
    }
    if args.webhook_limit is not None:
        app_env["WEBHOOK_RATE_LIMIT_PER_MINUTE"] = str(args.webhook_limit)
    if set(WORKER_ROWS) & set(servers):
        # The workers' AI reviews call GitHub, as they would in production: a fake one here.
        # Without it each review failed on the unreachable api.github.com, and Dramatiq's
        # tracebacks of those failures were a third of the workers' time.
        github_url = _start_fake_github(bodies, private_key, secret)
        app_env.update({"GITHUB_API_URL": github_url, "GITHUB_URL": github_url})

    results: list[tuple[str, dict]] = []
    durability: list[str] = []
    failures = 0
    ctx = get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=args.clients, mp_context=ctx) as pool:
            for rnd, name in [(r, n) for r in range(args.rounds) for n in servers]:
                port = _free_port()
                prefix = f"bench-{run_id}-{name}{rnd}-"
                if name == "bare":
                    cmd = [sys.executable, str(Path(__file__).resolve()), "--bare-server", str(port)]
                    env = base_env
                elif name in APP_ROWS:
                    cmd = [sys.executable, "-m", "devmetrics_app.cli", "serve",
                           "--no-worker" if name == "real" else "--worker",
                           "--host", HOST, "--port", str(port)]
                    if name == "threads":
                        cmd.append("--in-process-worker")
                    env = app_env
                    if name == "base":
                        root = str(args.baseline_root.resolve())
                        env = {**app_env, "PYTHONPATH": root + os.pathsep
                               + os.environ.get("PYTHONPATH", "").replace(str(ROOT), root)}
                else:
                    # The naive table lives in the database the app migrated (so `real` runs first).
                    asyncio.run(_sql(bench_db_url, f"DROP TABLE IF EXISTS {NAIVE_TABLE}",
                                     f"CREATE TABLE {NAIVE_TABLE} (delivery_id text PRIMARY KEY, "
                                     "event text NOT NULL, action text, installation_id bigint, "
                                     "payload jsonb NOT NULL, received_at timestamptz NOT NULL "
                                     "DEFAULT now())"))
                    cmd = [sys.executable, str(Path(__file__).resolve()), "--naive-server", str(port)]
                    env = {**base_env, "BENCH_DATABASE_URL": bench_db_url}
                if name in APP_ROWS:
                    # Each row starts with the installation's whole webhook budget and nothing
                    # queued by the rows before it (their servers have stopped).
                    if given_redis:
                        _clear_redis(scratch_redis, run_id)
                    else:
                        _clear_embedded_redis(data_dir)
                print(f"[{name} #{rnd + 1}] starting on {HOST}:{port} ...", flush=True)
                proc = subprocess.Popen(cmd, env=env, cwd=args.baseline_root
                                        if name == "base" else ROOT)
                try:
                    _wait_healthy(proc, port, name)
                    if name in APP_ROWS:
                        asyncio.run(_sql(bench_db_url, "TRUNCATE webhook_deliveries"))
                    # serve1 is serve fed one PR again and again, the workload before --prs.
                    requests = prepare_requests(port, bodies[:1] if name == "serve1" else bodies,
                                                secret)
                    result = run_phases(pool, args, port, requests, prefix)
                    results.append((name, result))
                    _print_table([(name, result)], args, header=False)
                    print(f"[{name} #{rnd + 1}] accepted/s per second: {result['per_second']}", flush=True)
                    if name in WORKER_ROWS:
                        rates = _processing_rates(bench_db_url, prefix, result.pop("windows"))
                        result["processed"] = rates
                        print(f"[{name} #{rnd + 1}] processed/s: throughput phase "
                              f"{rates['throughput']:.0f}, latency phase {rates['latency']:.0f}; "
                              f"backlog at the end {rates['backlog']:,}", flush=True)
                    if name != "bare":
                        row = (_count_real_rows(bench_db_url, prefix, len(body))
                               if name != "naive"
                               else asyncio.run(_sql(
                                   bench_db_url,
                                   f"SELECT count(*) AS n, 0 AS wrong FROM {NAIVE_TABLE} "  # noqa: S608
                                   f"WHERE delivery_id LIKE '{prefix}%'"))[0])
                        ok = row["n"] == result["accepted_total"]
                        line = (f"{name}: {result['accepted_total']:,} answered 202, "
                                f"{row['n']:,} rows stored" +
                                (f", {row['wrong']} with a body of the wrong size"
                                 if name != "naive" else "") +
                                (" -- every 202 durable" if ok else " -- MISMATCH"))
                        durability.append(f"round {rnd + 1} {line}")
                        print(f"[{name} #{rnd + 1}] {line}", flush=True)
                        if not ok or (name != "naive" and row["wrong"]):
                            failures += 1
                finally:
                    _stop(proc)
                    if name in APP_ROWS:
                        # Left behind, these would be the next serve's workers' first backlog.
                        asyncio.run(_sql(bench_db_url, "TRUNCATE webhook_deliveries"))
                    if name in WORKER_ROWS:
                        # So are the outbox's follow-ups (the jobs queued in Redis go with the
                        # next row's _clear_redis).
                        asyncio.run(_sql(bench_db_url, "TRUNCATE outbox"))
    finally:
        # Clean up whatever this run stored.
        try:
            if set(APP_ROWS) & set(servers):
                asyncio.run(_sql(bench_db_url, "TRUNCATE webhook_deliveries"))
            if "naive" in servers:
                asyncio.run(_sql(bench_db_url, f"DROP TABLE IF EXISTS {NAIVE_TABLE}"))
        except Exception as exc:
            print(f"cleanup: could not clear the benchmark rows: {exc}", file=sys.stderr)
        if given_db:
            try:
                asyncio.run(_scratch_database(given_db, bench_database, create=False))
            except Exception as exc:
                print(f"cleanup: could not drop {bench_database}: {exc}", file=sys.stderr)
        if given_redis:
            import redis

            redis.Redis.from_url(scratch_redis).flushdb()
        if embedded:
            subprocess.run([sys.executable, "-m", "devmetrics_app.cli", "embedded", "stop"],
                           env=app_env, cwd=ROOT, check=False, stdout=subprocess.DEVNULL)
        shutil.rmtree(data_dir, ignore_errors=True)

    by_name = {name: _combine([r for n, r in results if n == name]) for name in servers
               if any(n == name for n, _ in results)}
    print(f"\nload average after: {_loadavg()}")
    print(f"\nmedian of {args.rounds} round(s):" if args.rounds > 1 else "")
    _print_table(list(by_name.items()), args)
    if "bare" in by_name and "real" in by_name:
        bare, real = by_name["bare"], by_name["real"]
        ratio = real["accepted_per_s"] / bare["accepted_per_s"] if bare["accepted_per_s"] else 0
        print(f"\nreal/bare throughput: {ratio:.3f} (target >= 0.50)"
              f"  {'MET' if ratio >= 0.5 else 'MISSED'}")
        print(f"real p99 at {args.rate:g}/s: {real['p99_ms']:.1f} ms (target < 20 ms)"
              f"  {'MET' if real['p99_ms'] < 20 else 'MISSED'}")
    for name in WORKER_ROWS:
        if "bare" not in by_name or name not in by_name or not by_name["bare"]["accepted_per_s"]:
            continue
        serve = by_name[name]
        ratio = serve["accepted_per_s"] / by_name["bare"]["accepted_per_s"]
        print(f"{name}/bare throughput: {ratio:.3f} (target >= 0.50)"
              f"  {'MET' if ratio >= 0.5 else 'MISSED'}")
        held = serve["held_per_s"]
        met = serve["p99_ms"] <= 10 and held >= 0.98 * args.rate
        print(f"{name} at {args.rate:g}/s offered: {held:.0f}/s held, p99 {serve['p99_ms']:.1f} "
              f"ms (target: held, p99 <= 10 ms)  {'MET' if met else 'MISSED'}")
    for name, r in results:
        if "processed" in r:
            p = r["processed"]
            print(f"{name}: deliveries processed/s by its workers: {p['throughput']:.0f} during "
                  f"the throughput phase, {p['latency']:.0f} during the {args.rate:g}/s phase; "
                  f"{p['backlog']:,} not yet processed at the end")
    if "bare" in by_name and "naive" in by_name and by_name["bare"]["accepted_per_s"]:
        print(f"naive/bare throughput: "
              f"{by_name['naive']['accepted_per_s'] / by_name['bare']['accepted_per_s']:.2f}")
    for name, r in by_name.items():
        print(f"{name}: load generator send lag p99 {r['send_lag_p99_ms']:.1f} ms "
              f"({r['latency_samples']:,} latency samples)")
    for line in durability:
        print("durability: " + line)
    errors = sum(sum(r["errors"].values()) for _, r in results)
    return 1 if failures or errors else 0


if __name__ == "__main__":
    sys.exit(main())
