"""The metrics service on the real database: hand-computed figures, the pure calculators'
output, tenancy, and bounded explain items."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from metrics_world import INST_A, INST_B, REPO_A, TEAM, seed, t

from devmetrics_app.metrics import facts, rollups, service
from devmetrics_app.metrics.cycle_time import cycle_time as cycle_time_calc
from devmetrics_app.metrics.explain import Period
from devmetrics_app.metrics.throughput import throughput as throughput_calc

MARCH = Period(t(1), t(1) + timedelta(days=31))
DAYS = [date(2024, 3, 1) + timedelta(days=i) for i in range(31)]


@pytest.fixture
async def world(pool):
    async with pool.acquire() as conn:
        await seed(conn)
        for installation_id in (INST_A, INST_B):
            await rollups.recompute_installation(conn, installation_id, DAYS)
    return pool


async def test_cycle_time_hand_computed_and_equal_to_calculator(world):
    async with world.acquire() as conn:
        got = await service.cycle_time(conn, service.Scope(INST_A, MARCH))
        settings = await service.metrics_settings(conn, INST_A)
        rows = await facts.load_pull_requests(conn, [101, 102, 103, 104])
        _, cuts, times = await rollups.refresh_releases(
            conn, await conn.fetchrow(rollups.REPOSITORY_SQL, REPO_A), settings
        )
        times = {**times, **await facts.commit_times(conn, REPO_A, ["m101", "m104"])}
    # 101: first commit Mar 1 08:00 → merged Mar 2 10:00 = 26 h; 102: 27 h (draft time is not
    # cycle-excluded); 104: first commit Mar 1 09:00 → Mar 6 12:00 = 123 h. Dependabot's 103 is out.
    assert got["cycle_time"]["count"] == 3
    assert got["cycle_time"]["median"] == 27.0
    assert got["cycle_time"]["average"] == pytest.approx((26 + 27 + 123) / 3)
    assert got["cycle_time"]["excluded"] == [{"reason": "authored by a bot", "count": 1}]
    # pickup: 101 → 4 h; 104 → Mar 2 10:00 to Mar 3 10:00 = 24 h; 102 unreviewed.
    assert got["stages"]["pickup"]["count"] == 2 and got["stages"]["pickup"]["median"] == 14.0
    # deploy: 101's merge commit is older than release 501's commit → 100 h; 104 is 501 → 2 h.
    assert got["stages"]["deploy"]["median"] == 51.0
    assert got["unreviewed"]["value"] == 1.0
    report = cycle_time_calc(
        [r.facts for r in rows],
        period=MARCH,
        settings=settings,
        contains=rollups.contains_by_cut(cuts, times),
        deployments=await _deployments(world),
    )
    assert got["cycle_time"]["median"] == report.cycle_time.value
    assert got["cycle_time"]["p95"] == pytest.approx(report.cycle_time.details["p95"])
    for stage, figure in report.stages.items():
        assert got["stages"][stage]["count"] == figure.count, stage
        assert got["stages"][stage]["median"] == pytest.approx(figure.value), stage
        assert {e["reason"]: e["count"] for e in got["stages"][stage]["excluded"]} == {
            e.reason: e.count for e in figure.excluded
        }, stage


async def _deployments(pool):
    async with pool.acquire() as conn:
        return await facts.repository_deployments(conn, REPO_A)


async def test_dora_throughput_builds_velocity(world):
    scope = service.Scope(INST_A, MARCH)
    async with world.acquire() as conn:
        dora = await service.dora(conn, scope)
        tp = await service.throughput(conn, scope)
        builds = await service.build_success(conn, scope)
        vel = await service.velocity(conn, scope)
    assert dora["deployment_frequency"]["value"] == 1.0  # Mar 6 (staging does not count)
    assert dora["change_failure_rate"]["value"] == 100.0  # 502 failed; incident hits 501
    assert dora["lead_time"]["value"] == 100.0  # c101 126 h, m101 100 h, m104 2 h
    assert {e["reason"]: e["count"] for e in dora["lead_time"]["excluded"]} == {"not deployed yet": 1}
    assert dora["time_to_restore"]["value"] == 3.0
    assert tp["pull_requests_merged"]["value"] == 3.0
    assert tp["issues_closed"]["value"] == 4.0  # 801 802 804 807
    assert builds["value"] == 50.0 and builds["count"] == 2
    assert vel["value"] == pytest.approx((0.4 * 1 + 0.3 * 8) / 0.7)
    assert vel["count"] == 2 and vel["excluded"] == [{"reason": "sprint still open", "count": 1}]


async def test_tenancy_other_installation_never_counted(world):
    async with world.acquire() as conn:
        b = service.Scope(INST_B, MARCH)
        assert (await service.cycle_time(conn, b))["cycle_time"]["count"] == 1
        assert (await service.throughput(conn, b))["pull_requests_merged"]["value"] == 1.0
        # A asking for B's repository gets nothing, not B's rows.
        foreign = service.Scope(INST_A, MARCH, repository_ids=(20,))
        assert (await service.cycle_time(conn, foreign))["cycle_time"]["count"] == 0
        assert (await service.dora(conn, foreign))["deployment_frequency"]["value"] == 0.0
        assert await service.repository_analytics(conn, service.Scope(INST_A, MARCH), 20) is None
        assert await service.burndown(conn, b, 71) is None
        people = await service.team_analytics(conn, service.Scope(INST_A, MARCH))
        assert "mallory" not in {p["login"] for p in people["people"]}


async def test_rollups_equal_raw_rows(world):
    async with world.acquire() as conn:
        aligned = service.Scope(INST_A, MARCH)
        shifted = service.Scope(INST_A, Period(MARCH.start + timedelta(seconds=1), MARCH.end))
        for fn in (service.throughput, service.build_success):
            from_rollup, from_raw = await fn(conn, aligned), await fn(conn, shifted)
            assert from_rollup.pop("source") == "rollup" and from_raw.pop("source") == "raw"
            assert from_rollup == from_raw
        rolled = await service.team_analytics(conn, aligned)
        raw = await service.team_analytics(conn, service.Scope(INST_A, MARCH, repository_ids=(REPO_A,)))
        assert rolled["people"] == raw["people"]
        # Throughput from raw rows equals the pure calculator.
        prs = [p for p, _ in await facts.open_pull_requests(conn, INST_A, None)]
        assert (
            prs
            and throughput_calc(
                prs, [], period=MARCH, settings=await service.metrics_settings(conn, INST_A)
            ).pull_requests_merged.value
            == 0.0
        )


async def test_team_scope_and_snapshots(world):
    async with world.acquire() as conn:
        team = service.Scope(INST_A, MARCH, team_id=TEAM)
        people = await service.team_analytics(conn, team)
        assert [p["login"] for p in people["people"]] == ["alice", "carol"]
        assert (await service.cycle_time(conn, team))["cycle_time"]["count"] == 2
        assert (await service.review_load(conn, service.Scope(INST_A, MARCH)))["per_reviewer"] == {"bob": 1}
        wip = await service.work_in_progress(conn, team)
        assert wip["per_person"] == {
            "alice": {"pull_requests": 1, "issues": 0, "total": 1},
            "carol": {"pull_requests": 0, "issues": 1, "total": 1},
        }
        alice = await service.individual_analytics(conn, team, 1)
        assert alice["totals"]["prs_merged"] == 1 and alice["cycle_time"]["median"] == 26.0
        assert await service.individual_analytics(conn, team, 2) is None  # bob is not in the team
        series = await service.trends(
            conn, service.Scope(INST_A, MARCH), metric="prs_merged", interval="month"
        )
        assert series["series"] == [{"start": "2024-03-01", "value": 3.0}]
        with pytest.raises(ValueError, match="metric"):
            await service.trends(conn, team, metric="nope", interval="day")


async def test_explain_is_bounded_with_cursor(world, monkeypatch):
    monkeypatch.setattr(service, "EXPLAIN_LIMIT", 2)
    async with world.acquire() as conn:
        first = await service.cycle_time(conn, service.Scope(INST_A, MARCH), explain=True)
        assert [i["id"] for i in first["cycle_time"]["items"]] == [104, 102]
        assert first["next_cursor"] == "2" and first["items_total"] == 3
        second = await service.cycle_time(
            conn, service.Scope(INST_A, MARCH), explain=True, cursor=first["next_cursor"]
        )
        assert [i["id"] for i in second["cycle_time"]["items"]] == [101] and second["next_cursor"] is None
        burn = await service.burndown(conn, service.Scope(INST_A, MARCH), 71, now=t(31))
        assert burn["initial_scope"] == 8.0 and burn["value"] == 0.0
