"""Slow outbound work has its own worker threads: with every outbound thread stalled (paced
GitHub writes, Claude, Slack...), webhook deliveries are still processed at once."""

from __future__ import annotations

import asyncio
import threading
import uuid

import dramatiq
import orjson
import payloads
import pytest
from conftest import wait_for

from devmetrics_app.jobs.queue_groups import (
    ALL_QUEUES,
    CORE_QUEUES,
    OUTBOUND_QUEUES,
    parse_queues,
    queue_groups,
)
from devmetrics_app.runtime import Endpoints
from devmetrics_app.services import InProcessWorker, Services
from devmetrics_app.store.deliveries import IncomingDelivery, insert_batch

STALLED = 12  # more than every thread of the process together


def test_groups_split_the_selected_queues():
    groups = queue_groups(core_threads=3, outbound_threads=2)
    assert [(g.name, set(g.queues), g.threads) for g in groups] == [
        ("core", set(CORE_QUEUES), 3), ("outbound", set(OUTBOUND_QUEUES), 2)]
    only = queue_groups(core_threads=3, outbound_threads=2, queues=parse_queues("reviews, imports"))
    assert [(g.name, set(g.queues)) for g in only] == [("outbound", {"reviews", "imports"})]
    with pytest.raises(ValueError, match="unknown queue"):
        parse_queues("deliveries,review")


def test_every_actor_queue_has_workers(broker):
    """A queue no group consumes is a job that never runs (the nightly pruning once was)."""
    declared = {broker.get_actor(name).queue_name for name in broker.get_declared_actors()}
    assert declared <= set(ALL_QUEUES), declared - set(ALL_QUEUES)


async def test_stalled_outbound_actors_do_not_block_deliveries(pool, broker, settings):
    release = threading.Event()
    started, finished = [], []

    async def stall() -> None:
        started.append(1)
        # A GitHub write waiting for its pacing slot, say (polled: a thread per wait would
        # exhaust the loop's default executor, which delivery processing uses too).
        while not release.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        finished.append(1)

    stalled = dramatiq.actor(stall, actor_name=f"stall_{uuid.uuid4().hex[:8]}", queue_name="reviews",
                             broker=broker, max_retries=0)
    worker = InProcessWorker(Services(settings, Endpoints(settings.database_url.get(),
                                                          settings.redis_url.get())))
    worker.start()
    try:
        for _ in range(STALLED):
            stalled.send()
        await wait_for(lambda: len(started) >= settings.outbound_worker_threads, timeout=20)
        pr = payloads.pull_request(5, created_at=payloads.at(0), updated_at=payloads.at(0))
        event = payloads.pull_request_event("opened", pr)
        async with pool.acquire() as conn:
            await insert_batch(conn, [IncomingDelivery(
                delivery_id="d-while-stalled", event="pull_request", action="opened",
                installation_id=event["installation"]["id"], hook_id=None,
                content_type="application/json", body=orjson.dumps(event))])

        async def processed():
            return await pool.fetchval("SELECT status FROM webhook_deliveries "
                                       "WHERE delivery_id = 'd-while-stalled'") == "processed"

        await wait_for(processed, timeout=20)
        assert not finished and not release.is_set()  # every outbound thread is still stalled
        assert await pool.fetchval("SELECT count(*) FROM pull_requests WHERE number = 5") == 1
    finally:
        release.set()
        await wait_for(lambda: len(finished) == STALLED, timeout=20)
        await asyncio.to_thread(worker.stop)


async def test_stopping_a_busy_worker_fails_no_job_and_loses_none(broker, settings):
    """Stop lets the running jobs end before it closes the pool they use, and the jobs fetched
    but not begun go back to the queue: none fails on "pool is closing" (each was a logged
    traceback and a spent retry), and a worker started later runs the rest."""
    from devmetrics_app.jobs import resources

    done: list[int] = []
    failed: list[str] = []

    async def query(n: int) -> None:
        try:
            pool = await resources.current().pool()
            await pool.fetchval("SELECT pg_sleep(0.2)")
        except Exception as exc:
            failed.append(repr(exc))
            raise
        done.append(n)

    actor = dramatiq.actor(query, actor_name=f"query_{uuid.uuid4().hex[:8]}", queue_name="rollups",
                           broker=broker, max_retries=0)
    services = Services(settings, Endpoints(settings.database_url.get(), settings.redis_url.get()))
    worker = InProcessWorker(services)
    worker.start()
    try:
        for n in range(30):
            actor.send(n)
        await wait_for(lambda: len(done) >= 2, timeout=20)
    finally:
        await asyncio.to_thread(worker.stop)
    assert failed == []
    first = set(done)
    assert len(first) < 30  # the stop came while jobs were waiting

    again = InProcessWorker(services)
    again.start()
    try:
        await wait_for(lambda: set(done) == set(range(30)), timeout=60)
    finally:
        await asyncio.to_thread(again.stop)
    assert failed == []
    assert len(done) == 30  # each ran once
