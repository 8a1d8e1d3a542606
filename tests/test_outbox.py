"""The outbox: follow-up jobs stored with their delivery, leased, sent, and run once."""

from __future__ import annotations

import dramatiq
import pytest
from dramatiq.middleware import SkipMessage

from devmetrics_app.jobs.outbox_sender import OUTBOX_OPTION, RunOnce, enqueue_jobs, send_outbox
from devmetrics_app.store import outbox
from devmetrics_app.store.outbox import OutboxJob

ROLLUP = ("recompute_rollups", {"repository_id": 7, "days": ["2024-03-06"]})


async def test_a_leased_row_is_not_leased_again_until_released(pool) -> None:
    async with pool.acquire() as conn:
        await outbox.add(conn, [ROLLUP], delivery_id="d-1")
        [job] = await outbox.lease(conn, lease_seconds=60, limit=10)
        assert (job.actor, job.kwargs) == ROLLUP
        assert await outbox.lease(conn, lease_seconds=60, limit=10) == []
        await outbox.release(conn, [job.id])
        assert [again.id for again in await outbox.lease(conn, lease_seconds=60, limit=10)] == [job.id]


async def test_a_failed_send_keeps_the_rows_and_a_good_one_deletes_them(pool) -> None:
    def redis_down(jobs: list[OutboxJob]) -> None:
        raise ConnectionError("redis unreachable")

    sent: list[OutboxJob] = []
    async with pool.acquire() as conn:
        await outbox.add(conn, [ROLLUP, ROLLUP], delivery_id="d-2")
        with pytest.raises(ConnectionError):
            await send_outbox(conn, redis_down, lease_seconds=60)
        # Released at once, not held for the lease: the next attempt sends them.
        assert await send_outbox(conn, sent.extend, lease_seconds=60) == 2
    assert [(job.actor, job.kwargs) for job in sent] == [ROLLUP, ROLLUP]
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_row_naming_an_unknown_actor_does_not_block_the_rest(pool, broker) -> None:
    async with pool.acquire() as conn:
        await outbox.add(conn, [("retired_actor", {}), ROLLUP], delivery_id="d-3")
        assert await send_outbox(conn, enqueue_jobs, lease_seconds=60) == 2
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    broker.flush_all()  # the rollup message: no worker runs here


async def test_a_row_sent_twice_runs_once(pool, broker) -> None:
    """The dispatcher died between enqueue and delete: the row's second message is skipped, but
    Dramatiq's retry of the first (same message id) still runs."""
    once = RunOnce()
    row = "6f1d2a4e-0000-4000-8000-000000000001"

    def message(options: dict | None = None) -> dramatiq.Message:
        options = {OUTBOX_OPTION: row} if options is None else options
        return dramatiq.Message(queue_name="rollups", actor_name=ROLLUP[0], args=(),
                                kwargs=ROLLUP[1], options=options)

    first, second = message(), message()
    once.before_process_message(broker, first)
    once.before_process_message(broker, first)  # a retry
    with pytest.raises(SkipMessage):
        once.before_process_message(broker, second)
    once.before_process_message(broker, message({}))  # not from the outbox
