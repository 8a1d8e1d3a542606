"""Concurrent rollups of one installation: no unique violations, no deadlocks, the same figures
as one quiet recompute; and a burst of follow-ups is coalesced into one run."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
import redis.asyncio as aioredis
from conftest import queue_followups, wait_for
from metrics_world import INST_A, REPO_A, seed
from test_rollups import snapshot

from devmetrics_app.jobs import pending_rollups
from devmetrics_app.metrics import materialize

DAYS = [date(2024, 3, 1) + timedelta(days=i) for i in range(31)]
REPO_SIDE = 11  # more repositories of installation A: their rollups overlap REPO_A's days
SIDE_REPOSITORIES = range(REPO_SIDE, REPO_SIDE + 8)
CONCURRENT = 16
ROUNDS = 3


async def add_side_repositories(conn, ids=SIDE_REPOSITORIES) -> None:
    await conn.executemany(
        """INSERT INTO repositories (id, installation_id, owner_login, name, full_name, default_branch)
           VALUES ($1, $2, 'acme', $3, $4, 'main')""",
        [(i, INST_A, f"web{i}", f"acme/web{i}") for i in ids],
    )


async def test_concurrent_recomputes_neither_collide_nor_change_the_figures(pool):
    async with pool.acquire() as conn:
        await seed(conn)
        await add_side_repositories(conn)
        await materialize.recompute_installation(conn, INST_A, DAYS)
        quiet = await snapshot(conn)

    async def one(index: int) -> None:
        repository_id = REPO_A if index % 2 else REPO_SIDE + index // 2 % len(SIDE_REPOSITORIES)
        # Overlapping windows: every one rewrites installation_stats of many shared days.
        days = [d.isoformat() for d in DAYS[index % 5:index % 5 + 10]]
        async with pool.acquire() as conn:
            if index % 4 == 0:
                await materialize.recompute_installation(conn, INST_A, DAYS[:7])
            else:
                await materialize.recompute(conn, repository_id, days)

    for _ in range(ROUNDS):
        results = await asyncio.gather(*(one(i) for i in range(CONCURRENT)), return_exceptions=True)
        assert [r for r in results if isinstance(r, BaseException)] == []
    async with pool.acquire() as conn:
        assert await snapshot(conn) == quiet


async def test_pending_marks_schedule_one_run_and_lose_nothing(redis_url):
    client = aioredis.from_url(redis_url)
    try:
        claims = await asyncio.gather(*(
            pending_rollups.mark(client, 4242, repository_id, [f"2024-03-0{1 + i % 3}"])
            for i, repository_id in enumerate([7, 8] * 10)
        ))
        assert claims.count(True) == 1
        work = await pending_rollups.take(client, 4242)
        assert work == {7: ["2024-03-01", "2024-03-02", "2024-03-03"],
                        8: ["2024-03-01", "2024-03-02", "2024-03-03"]}
        # Taken: a new request schedules the next run; a failed run puts its work back.
        assert await pending_rollups.mark(client, 4242, 7, ["2024-03-09"])
        await pending_rollups.restore(client, 4242, work)
        again = await pending_rollups.take(client, 4242)
        assert again[7] == ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-09"]
        assert await pending_rollups.take(client, 4242) == {}
    finally:
        await client.delete(pending_rollups.PENDING_KEY.format(installation_id=4242),
                            pending_rollups.SCHEDULED_KEY.format(installation_id=4242))
        await client.aclose()


@pytest.mark.usefixtures("worker")
async def test_burst_over_repositories_makes_one_installation_run(pool, broker):
    async with pool.acquire() as conn:
        await seed(conn)
        await add_side_repositories(conn, [REPO_SIDE])
    followups = [
        ("recompute_rollups", {"repository_id": repository_id, "days": [day]})
        for day in ("2024-03-05", "2024-03-06", "2024-03-07")
        for repository_id in (REPO_A, REPO_SIDE) * 10
    ]
    await queue_followups(pool, followups)

    async def done():
        return await pool.fetchval("SELECT count(DISTINCT repository_id) FROM repository_stats "
                                   "WHERE installation_id = $1", INST_A) == 2

    await wait_for(done, timeout=25)
    # 60 requests over two repositories: one transaction (one stamp) did them all.
    assert await pool.fetchval("SELECT count(DISTINCT computed_at) FROM repository_stats") == 1
    assert await pool.fetchval("SELECT count(DISTINCT computed_at) FROM installation_stats") == 1
