"""Rollups on the real database and Redis: recompute is idempotent, follows webhook data, and a
burst of follow-ups is debounced into one recompute."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import payloads
import pytest
from conftest import deliver, queue_followups, wait_for
from metrics_world import INST_A, INST_B, REPO_A, seed
from served import service

from devmetrics_app.jobs import rollups as rollup_jobs
from devmetrics_app.metrics import materialize
from devmetrics_app.metrics.explain import Period

DAYS = [date(2024, 3, 1) + timedelta(days=i) for i in range(31)]
TABLES = (
    "pull_request_cycle",
    "releases",
    "release_commits",
    "sprint_facts",
    "repository_stats",
    "installation_stats",
    "developer_metrics",
    "team_metrics",
)


async def snapshot(conn) -> dict[str, list]:
    """Every rollup row without its computed_at stamp."""
    out = {}
    for table in TABLES:
        rows = await conn.fetch(f"SELECT * FROM {table}")  # noqa: S608 -- our own constant names
        out[table] = sorted(
            repr(sorted((k, v) for k, v in dict(r).items() if k != "computed_at")) for r in rows
        )
    return out


async def test_recompute_is_idempotent(pool):
    async with pool.acquire() as conn:
        await seed(conn)
        await materialize.recompute_installation(conn, INST_A, DAYS)
        first = await snapshot(conn)
        await materialize.recompute_installation(conn, INST_A, DAYS)
        await materialize.recompute(conn, REPO_A, [d.isoformat() for d in DAYS[:3]])
        assert await snapshot(conn) == first
        assert len(first["pull_request_cycle"]) == 4 and first["installation_stats"]
        # Installation B was never recomputed: A's recompute wrote none of its rows.
        assert (
            await conn.fetchval("SELECT count(*) FROM repository_stats WHERE installation_id = $1", INST_B)
            == 0
        )


async def test_rollup_follows_a_fix_in_raw_rows(pool):
    async with pool.acquire() as conn:
        await seed(conn)
        await materialize.recompute_installation(conn, INST_A, DAYS)
        await conn.execute("UPDATE pull_requests SET merged_at = NULL, state = 'CLOSED' WHERE id = 104")
        await materialize.recompute(conn, REPO_A, ["2024-03-06"])
        assert await conn.fetchval("SELECT count(*) FROM pull_request_cycle WHERE pull_request_id = 104") == 0
        assert (
            await conn.fetchval(
                "SELECT prs_merged FROM installation_stats WHERE installation_id = $1 AND day = '2024-03-06'",
                INST_A,
            )
            == 0
        )


async def test_webhook_data_rolls_up(pool):
    pr = payloads.pull_request(
        7,
        state="closed",
        merged=True,
        created_at=payloads.at(0),
        merged_at=payloads.at(600),
        closed_at=payloads.at(600),
        updated_at=payloads.at(600),
        merge_commit_sha=payloads.sha("merge7"),
    )
    opened = payloads.pull_request(7, created_at=payloads.at(0), updated_at=payloads.at(0))
    assert await deliver(pool, "pull_request", payloads.pull_request_event("opened", opened)) == "processed"
    reviewer = payloads.user("reviewer", 77)
    rev = payloads.review(pr, user=reviewer, submitted_at=payloads.at(120))
    assert (
        await deliver(pool, "pull_request_review", payloads.pull_request_review_event("submitted", pr, rev))
        == "processed"
    )
    assert await deliver(pool, "pull_request", payloads.pull_request_event("closed", pr)) == "processed"
    async with pool.acquire() as conn:
        repository_id, installation_id = await conn.fetchrow(
            "SELECT repository_id, installation_id FROM pull_requests WHERE number = 7"
        )
        day = payloads.EPOCH.date()
        assert await materialize.recompute(conn, repository_id, rollup_jobs.days_of(payloads.at(600)))
        row = await conn.fetchrow("SELECT * FROM pull_request_cycle WHERE number = 7")
        assert row["cycle_time"] == 10.0 and row["pickup"] == 2.0 and row["merge"] == 8.0
        period = Period(payloads.EPOCH - timedelta(days=1), payloads.EPOCH + timedelta(days=1))
        got = await service.cycle_time(conn, service.Scope(installation_id, period))
        assert got["cycle_time"]["median"] == 10.0
        stats = await conn.fetchrow(
            "SELECT * FROM repository_stats WHERE repository_id = $1 AND day = $2", repository_id, day
        )
        assert stats["prs_merged"] == 1 and stats["reviews"] == 1 and stats["cycle_time_count"] == 1


@pytest.mark.usefixtures("worker")
async def test_burst_of_followups_runs_one_recompute(pool, broker):
    async with pool.acquire() as conn:
        await seed(conn)
    followups = [("recompute_rollups", {"repository_id": REPO_A, "days": ["2024-03-06"]})] * 20
    await queue_followups(pool, followups)

    async def done():
        return await pool.fetchval("SELECT count(*) FROM pull_request_cycle WHERE repository_id = $1", REPO_A)

    assert await wait_for(done, timeout=25) == 4
    # The one recompute ran in one transaction: every row carries the same stamp, and the
    # delayed queue holds nothing more for it.
    stamps = await pool.fetchval("SELECT count(DISTINCT computed_at) FROM repository_stats")
    assert stamps == 1
    await asyncio.sleep(1)
    assert await pool.fetchval("SELECT count(DISTINCT computed_at) FROM repository_stats") == 1


async def cumulative(conn) -> tuple[list, list]:
    hist = await conn.fetch(
        "SELECT installation_id, series, day, n, total, buckets, settings_key FROM metric_histograms "
        "ORDER BY installation_id, series, day"
    )
    people = await conn.fetch("SELECT * FROM developer_totals ORDER BY installation_id, user_id, day")
    return [tuple(r) for r in hist], [tuple(r) for r in people]


async def test_incremental_histograms_equal_a_full_build(pool):
    async with pool.acquire() as conn:
        await seed(conn)
        await materialize.recompute_installation(conn, INST_A, DAYS)
        full = await cumulative(conn)
        assert full[0] and full[1]
        # A fix in raw rows, recomputed for its day only: the cumulative rows from that day on
        # follow, and equal what a full build gives.
        await conn.execute("UPDATE pull_requests SET merged_at = NULL, state = 'CLOSED' WHERE id = 104")
        await materialize.recompute(conn, REPO_A, ["2024-03-06"])
        incremental = await cumulative(conn)
        assert incremental != full
        settings = await service.metrics_settings(conn, INST_A)
        async with conn.transaction():
            await materialize.refresh_installation_days(conn, INST_A, DAYS, settings, full_histograms=True)
        assert await cumulative(conn) == incremental
        # Idempotent: the same recompute again changes nothing.
        await materialize.recompute(conn, REPO_A, ["2024-03-06"])
        assert await cumulative(conn) == incremental
