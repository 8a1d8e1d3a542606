"""Ingest first: what serve changed so a burst is answered fast while its workers process.

- The dispatcher's lease reads only deliveries not yet handed out (sql/016): before, each lease
  stepped over the whole leased backlog again, and PostgreSQL spent a core on it in a burst.
- Processing commits without waiting for the WAL flush (store/deliveries.REPLAYABLE_COMMIT): its
  writes are derived from the stored delivery, whose insert (the 202) stays fully durable.
- The dispatcher and the sweeper lease no further ahead of the workers than QUEUE_HIGH_WATER
  waiting messages: a burst's backlog waits in PostgreSQL instead of being leased (a second
  write per webhook) and, past the sweeper's grace, leased and enqueued again.
- serve's web process marks itself busy on a shared board above INGEST_PRIORITY_RATE webhooks/s,
  and its workers then pace their core jobs: one at a time, each followed by a rest, so that
  they are active for at most BUSY_DUTY of the time (ingest_priority.py).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import payloads
from conftest import deliver, post_webhook, wait_for
from gidgethub.routing import Router

from devmetrics_app import ingest_priority
from devmetrics_app.ingest_priority import (
    HOLD_SECONDS,
    Board,
    IngestMeter,
    Pacer,
    PacingMiddleware,
)
from devmetrics_app.jobs.dispatcher import (
    BUSY_ROUND_SECONDS,
    LEASE_LIMIT,
    QUEUE_HIGH_WATER,
    DispatcherThread,
    dispatch_fresh,
)
from devmetrics_app.jobs.sweeper import sweep_once
from devmetrics_app.store.deliveries import DELIVERY_CHANNEL, LEASE_FRESH, lease_fresh
from devmetrics_app.web.app import create_app
from devmetrics_app.web.keys import INGEST_METER


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


class _RollBack(Exception):
    pass


async def _explain_analyze_rolled_back(conn, sql: str, *args) -> dict:
    """EXPLAIN ANALYZE runs the statement: its plan, with what it changed rolled back."""
    plan: dict = {}
    try:
        async with conn.transaction():
            raw = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, *args)
            (plan,) = json.loads(raw) if isinstance(raw, str) else raw  # the pool decodes json
            raise _RollBack
    except _RollBack:
        return plan


async def test_a_lease_reads_only_the_deliveries_not_yet_handed_out(pool) -> None:
    await pool.execute(
        """INSERT INTO webhook_deliveries (delivery_id, event, body, received_at)
           SELECT 'old-' || i, 'push', '{}', now() - interval '1 hour' + i * interval '1 ms'
           FROM generate_series(1, 3000) AS i""")
    async with pool.acquire() as conn:
        assert len(await lease_fresh(conn, lease_seconds=60, limit=5000)) == 3000
        await conn.execute("INSERT INTO webhook_deliveries (delivery_id, event, body) "
                           "VALUES ('new', 'push', '{}')")
        await conn.execute("ANALYZE webhook_deliveries")
        plan = await _explain_analyze_rolled_back(conn, LEASE_FRESH, 500, 60.0)
        # The 3,000 leased rows are not read again to find the one fresh row.
        read = max(n.get("Actual Rows", 0) + n.get("Rows Removed by Filter", 0)
                   for n in _nodes(plan["Plan"]) if n.get("Relation Name") == "webhook_deliveries")
        assert read <= 10, plan
        assert await lease_fresh(conn, lease_seconds=60, limit=500) == ["new"]


async def test_processing_commits_without_waiting_for_the_flush_but_storing_does(pool) -> None:
    seen: list[str] = []
    router = Router()

    @router.register("pull_request")
    async def record(event, ctx) -> None:
        seen.append(await ctx.conn.fetchval("SHOW synchronous_commit"))

    payload = payloads.pull_request_event("opened", payloads.pull_request(1, repo=payloads.REPO_API))
    assert await deliver(pool, "pull_request", payload, router=router) == "processed"
    assert seen == ["off"]
    # Only for that transaction: the connection goes back to the pool durable as before.
    assert await pool.fetchval("SHOW synchronous_commit") == "on"


def test_the_board_is_shared_between_processes(tmp_path) -> None:
    board = Board.create(tmp_path)
    assert not board.busy()
    script = ("import sys, time; from pathlib import Path; from devmetrics_app.ingest_priority import Board; "
              "Board(Path(sys.argv[1])).mark_busy(time.monotonic() + 30)")
    subprocess.run([sys.executable, "-c", script, str(board.path)], check=True)
    assert board.busy()  # CLOCK_MONOTONIC and the file are the machine's, not the process's
    assert not board.busy(now=time.monotonic() + 31)
    board.remove()
    assert not board.path.exists()


def test_the_meter_marks_busy_above_the_rate_only(tmp_path) -> None:
    board = Board.create(tmp_path)
    meter = IngestMeter(board, rate_per_second=200)  # 20 per 0.1 s tick
    for _ in range(19):
        meter.count()
    assert not meter.tick(100.0) and not board.busy(now=100.0)
    for _ in range(20):
        meter.count()
    assert meter.tick(100.0)
    assert board.busy(now=100.0 + HOLD_SECONDS - 0.01) and not board.busy(now=100.0 + HOLD_SECONDS)
    assert not meter.tick(101.0)  # the count starts again each tick
    board.remove()


async def test_while_busy_deliveries_take_turns_one_at_a_time(tmp_path) -> None:
    board = Board.create(tmp_path)
    pacer = Pacer(board, duty=1.0)  # no rest: this is about taking turns
    running: list[int] = []
    peak = 0

    async def work() -> None:
        nonlocal peak
        async with pacer.turn():
            running.append(1)
            peak = max(peak, len(running))
            await asyncio.sleep(0.02)
            running.pop()

    await asyncio.gather(*(work() for _ in range(4)))
    assert peak == 4  # not busy: every thread at once
    board.mark_busy(time.monotonic() + 5)
    peak = 0
    await asyncio.gather(*(work() for _ in range(4)))
    assert peak == 1
    board.mark_busy(0.0)
    board.remove()


def test_while_busy_a_turn_is_followed_by_a_rest_in_proportion(tmp_path) -> None:
    """Active for at most `duty` of the time: after a turn of t, a rest of t * (1 - duty) / duty."""
    board = Board.create(tmp_path)
    board.mark_busy(1000.0)
    pacer = Pacer(board, duty=0.25)
    assert pacer.try_begin(now=100.0)
    assert not pacer.try_begin(now=100.0)  # one at a time
    pacer.end(0.2, now=100.2)  # a 200 ms turn: 600 ms of rest at a quarter
    assert not pacer.try_begin(now=100.79)
    assert pacer.try_begin(now=100.81)
    pacer.end(0.0, now=100.81)
    board.mark_busy(0.0)  # the burst is over: no rest, and every thread again
    assert pacer.try_begin(now=100.82) and pacer.try_begin(now=100.82)
    pacer.end(5.0, now=101.0)
    pacer.end(5.0, now=101.0)
    assert pacer.try_begin(now=101.0)  # turns ended while not busy leave no rest behind
    board.remove()


def test_a_waiting_worker_thread_gets_its_turn_once_the_rest_is_over(tmp_path) -> None:
    board = Board.create(tmp_path)
    board.mark_busy(time.monotonic() + 30)
    pacer = Pacer(board, duty=0.5)
    assert pacer.try_begin()
    pacer.end(0.3)  # 300 ms of rest at a half
    started = time.monotonic()
    pacer.wait_turn()
    waited = time.monotonic() - started
    assert 0.25 <= waited < 2.0
    pacer.end(0.0)
    board.mark_busy(0.0)
    board.remove()


class _Message:
    def __init__(self, message_id: str, queue_name: str) -> None:
        self.message_id = message_id
        self.queue_name = queue_name


def test_the_middleware_paces_core_jobs_and_ends_each_turn_once(tmp_path) -> None:
    board = Board.create(tmp_path)
    board.mark_busy(time.monotonic() + 30)
    pacer = Pacer(board, duty=1.0)
    middleware = PacingMiddleware(lambda: pacer, queues=frozenset({"rollups", "live"}))

    middleware.before_process_message(None, _Message("m1", "rollups"))
    assert pacer.active == 1
    middleware.after_skip_message(None, _Message("m1", "rollups"))  # RunOnce skipped it
    assert pacer.active == 0
    middleware.after_process_message(None, _Message("m1", "rollups"))  # never twice
    assert pacer.active == 0

    middleware.before_process_message(None, _Message("m2", "rollups.DQ"))  # delayed: same queue
    assert pacer.active == 1
    middleware.after_process_message(None, _Message("m2", "rollups.DQ"), exception=RuntimeError())
    assert pacer.active == 0

    # Outbound jobs wait on the outside world: never paced, and a stalled one holds no turn.
    middleware.before_process_message(None, _Message("m3", "reviews"))
    assert pacer.active == 0
    middleware.after_process_message(None, _Message("m3", "reviews"))
    assert pacer.active == 0
    board.mark_busy(0.0)
    board.remove()


async def test_while_serve_is_busy_its_real_workers_run_core_jobs_one_at_a_time(
        settings, broker, tmp_path, monkeypatch) -> None:
    """Real Dramatiq worker threads on real Redis, the busy board as serve's web would mark it."""
    import threading
    import uuid

    import dramatiq

    board = Board.create(tmp_path)
    monkeypatch.setattr(ingest_priority, "_pacer", Pacer(board, duty=1.0))
    lock = threading.Lock()
    running, peak, done = [0], [0], []

    async def rollup_like(number: int) -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        await asyncio.sleep(0.05)
        with lock:
            running[0] -= 1
        done.append(number)

    actor = dramatiq.actor(rollup_like, actor_name=f"paced_{uuid.uuid4().hex[:8]}",
                           queue_name="rollups", broker=broker, max_retries=0)
    worker = dramatiq.Worker(broker, queues={"rollups"}, worker_threads=4)
    worker.start()
    try:
        board.mark_busy(time.monotonic() + 60)
        for number in range(6):
            actor.send(number)
        await wait_for(lambda: len(done) == 6, timeout=20)
        assert peak[0] == 1
        board.mark_busy(0.0)  # not busy: the threads run side by side again
        for number in range(6, 14):
            actor.send(number)
        await wait_for(lambda: len(done) == 14, timeout=20)
        assert peak[0] > 1
    finally:
        await asyncio.to_thread(worker.stop)
        board.remove()


def test_worker_threads_asking_at_once_share_one_pacer(monkeypatch) -> None:
    """A turn begun on one pacer and ended on another would leave a count of -1 behind."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(ingest_priority, "_pacer", None)
    with ThreadPoolExecutor(max_workers=8) as pool:
        pacers = list(pool.map(lambda _: ingest_priority.pacer(), range(64)))
    assert len({id(p) for p in pacers}) == 1


def test_a_worker_without_a_board_never_waits(monkeypatch) -> None:
    monkeypatch.delenv(ingest_priority.BOARD_ENV, raising=False)
    monkeypatch.setattr(ingest_priority, "_pacer", None)
    assert ingest_priority.pacer().board is None
    monkeypatch.setenv(ingest_priority.BOARD_ENV, "/nonexistent/board")
    monkeypatch.setattr(ingest_priority, "_pacer", None)
    assert ingest_priority.pacer().board is None  # serve gone: process at full speed


async def test_serve_web_process_counts_the_webhooks_it_answers(aiohttp_client, settings, pool,
                                                                  broker, tmp_path) -> None:
    import dataclasses

    board = Board.create(tmp_path)
    app = create_app(dataclasses.replace(settings, ingest_priority_rate=1),
                     database_url=settings.database_url.get(), redis_url=settings.redis_url.get(),
                     ingest_board=board)
    client = await aiohttp_client(app)
    payload = payloads.pull_request_event("opened", payloads.pull_request(1, repo=payloads.REPO_API))
    response = await post_webhook(client, "pull_request", payload)
    assert response.status == 202
    await wait_for(board.busy, timeout=5)  # one webhook in a tick is above 1/s
    assert client.app[INGEST_METER].board is board
    board.remove()


async def _fresh_deliveries(pool, count: int, *, age_seconds: int = 0) -> None:
    await pool.execute(
        """INSERT INTO webhook_deliveries (delivery_id, event, body, received_at)
           SELECT 'burst-' || i, 'push', '{}',
                  now() - make_interval(secs => $2) + i * interval '1 ms'
           FROM generate_series(1, $1::int) AS i""", count, age_seconds)


async def test_the_dispatcher_leases_no_further_ahead_than_the_queue_allows(pool) -> None:
    await _fresh_deliveries(pool, 1200)
    enqueued: list[str] = []
    waiting = [QUEUE_HIGH_WATER]  # the workers have enough to do
    async with pool.acquire() as conn:
        assert await dispatch_fresh(conn, enqueued.extend, lease_seconds=60,
                                    waiting=lambda: waiting[0]) == 0
        assert enqueued == []  # the backlog stays in PostgreSQL, not leased
        waiting[0] = QUEUE_HIGH_WATER - 1  # room again: one lease of LEASE_LIMIT, then full
        calls = iter([QUEUE_HIGH_WATER - 1, QUEUE_HIGH_WATER])
        assert await dispatch_fresh(conn, enqueued.extend, lease_seconds=60,
                                    waiting=lambda: next(calls)) == LEASE_LIMIT
        assert await dispatch_fresh(conn, enqueued.extend, lease_seconds=60,
                                    waiting=lambda: 0) == 1200 - LEASE_LIMIT
    assert sorted(enqueued) == sorted(f"burst-{i}" for i in range(1, 1201))  # each once


async def test_the_sweeper_leaves_a_burst_backlog_to_the_dispatcher(pool) -> None:
    await _fresh_deliveries(pool, 30, age_seconds=600)  # older than the grace: "overdue"
    enqueued: list[list[str]] = []
    assert await sweep_once(pool, enqueued.append, grace_seconds=60,
                            waiting=lambda: QUEUE_HIGH_WATER) == 0
    assert await sweep_once(pool, enqueued.append, grace_seconds=60, waiting=lambda: 0) == 30


async def _dispatcher_rounds(settings, pool, *, busy: bool) -> int:
    """Rounds a real dispatcher takes while 60 notifications arrive over ~0.6 s."""
    rounds = [0]

    def waiting() -> int:
        rounds[0] += 1  # asked twice a round: before leasing and to choose the wait
        return QUEUE_HIGH_WATER  # the workers have enough: nothing is leased

    dispatcher = DispatcherThread(settings.database_url.get(), lambda ids: None,
                                  lease_seconds=60, enqueue_followups=lambda jobs: None,
                                  waiting=waiting, web_busy=lambda: busy)
    dispatcher.start()
    try:
        await wait_for(lambda: rounds[0] >= 2, timeout=10)  # connected and listening
        before = rounds[0]
        for _ in range(60):
            await pool.execute("SELECT pg_notify($1, '1')", DELIVERY_CHANNEL)
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        return (rounds[0] - before) // 2
    finally:
        dispatcher.stop()
        await asyncio.to_thread(dispatcher.join, 5)


async def test_while_serve_is_busy_the_dispatcher_takes_a_round_per_pause(settings, pool) -> None:
    """Every commit notifies; in a burst one round per BUSY_ROUND_SECONDS is enough."""
    idle = await _dispatcher_rounds(settings, pool, busy=False)
    busy = await _dispatcher_rounds(settings, pool, busy=True)
    assert idle >= 15  # about one round per notification
    assert busy <= 0.9 / BUSY_ROUND_SECONDS + 1
