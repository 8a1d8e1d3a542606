"""The metrics service on the real database: hand-computed figures, the pure calculators'
output, tenancy, and bounded explain items."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from metrics_world import ALICE, INST_A, INST_B, ORG_A, REPO_A, TEAM, seed, t
from served import service

from devmetrics_app.metrics import facts, materialize
from devmetrics_app.metrics import service as typed
from devmetrics_app.metrics.calc.cycle_time import cycle_time as cycle_time_calc
from devmetrics_app.metrics.calc.throughput import throughput as throughput_calc
from devmetrics_app.metrics.explain import Figure, Period
from devmetrics_app.metrics.materialize import histograms, orchestrate, releases
from devmetrics_app.metrics.read import cycle_time as read_cycle_time
from devmetrics_app.metrics.read import dora as read_dora
from devmetrics_app.metrics.read import open_work as read_open_work
from devmetrics_app.metrics.read import paging, percentiles
from devmetrics_app.metrics.read import people as read_people
from devmetrics_app.metrics.read.throughput import ThroughputReport
from devmetrics_app.metrics.read.trends import TrendPoint
from devmetrics_app.store.sql import bind

MARCH = Period(t(1), t(1) + timedelta(days=31))
DAYS = [date(2024, 3, 1) + timedelta(days=i) for i in range(31)]


@pytest.fixture
async def world(pool):
    async with pool.acquire() as conn:
        await seed(conn)
        for installation_id in (INST_A, INST_B):
            await materialize.recompute_installation(conn, installation_id, DAYS)
    return pool


async def test_cycle_time_hand_computed_and_equal_to_calculator(world):
    async with world.acquire() as conn:
        got = await service.cycle_time(conn, service.Scope(INST_A, MARCH))
        settings = await service.metrics_settings(conn, INST_A)
        rows = await facts.load_pull_requests(conn, [101, 102, 103, 104])
        _, cuts, times = await releases.refresh_releases(
            conn, await conn.fetchrow(orchestrate.REPOSITORY_SQL, REPO_A), settings
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
    async with world.acquire() as conn:
        explained = await service.cycle_time(conn, service.Scope(INST_A, MARCH), explain=True)
    assert [i["id"] for i in explained["unreviewed"]["items"]] == [102]
    report = cycle_time_calc(
        [r.facts for r in rows],
        period=MARCH,
        settings=settings,
        contains=releases.contains_by_cut(cuts, times),
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
    # Sprint 3 is open; of the counted sprints' issues, dependabot's 805 and the not-planned 803
    # gave no points.
    assert vel["count"] == 2 and vel["excluded"] == [
        {"reason": "sprint still open", "count": 1},
        {"reason": "issues opened by a bot", "count": 1},
        {"reason": "issues closed as not planned", "count": 1},
    ]


async def test_dora_explain_lists_what_each_key_is_made_of(world):
    async with world.acquire() as conn:
        dora = await service.dora(conn, service.Scope(INST_A, MARCH), explain=True)
    lead = dora["lead_time"]["items"]
    # The released commits, longest lead first: c101 126 h, m101 100 h, m104 2 h.
    assert [(i["id"], round(i["value"])) for i in lead] == [("c101", 126), ("m101", 100), ("m104", 2)]
    failures = {i["id"]: i["details"]["failed_by"] for i in dora["change_failure_rate"]["items"]}
    assert failures == {502: ["deployment status"], 501: ["incident"]}
    assert len(failures) == dora["change_failure_rate"]["failed"]
    [incident] = dora["time_to_restore"]["items"]
    assert incident["id"] == 807 and incident["value"] == 3.0


async def test_a_person_scope_narrows_every_figure_to_them(world):
    async with world.acquire() as conn:
        alice = await service.cycle_time(conn, service.Scope(INST_A, MARCH, person_id=ALICE), explain=True)
        individual = await service.individual_analytics(conn, service.Scope(INST_A, MARCH), ALICE)
        assert alice["cycle_time"]["count"] == individual["cycle_time"]["count"] == 1
        assert alice["cycle_time"]["value"] == individual["cycle_time"]["median"] == 26.0
        assert [i["id"] for i in alice["cycle_time"]["items"]] == [101]
        merged = await service.throughput(conn, service.Scope(INST_A, MARCH, person_id=ALICE))
        assert merged["pull_requests_merged"]["value"] == 1.0
        # A person outside the team asked for: nobody's figures, not the team's.
        bob_in_team = service.Scope(INST_A, MARCH, team_id=TEAM, person_id=2)
        assert (await service.cycle_time(conn, bob_in_team))["cycle_time"]["count"] == 0
        dora = await service.dora(conn, service.Scope(INST_A, MARCH, person_id=ALICE))
        assert dora["change_failure_rate"]["team_filter"].startswith("not applied")


async def test_dora_concurrently_equals_dora(world):
    for scope in (service.Scope(INST_A, MARCH), service.Scope(INST_A, MARCH, team_id=TEAM),
                  service.Scope(INST_A, MARCH, repository_ids=(REPO_A,)), service.Scope(INST_B, MARCH)):
        for explain in (False, True):
            async with world.acquire() as conn:
                one_by_one = await service.dora(conn, scope, explain=explain)
            assert await service.dora_concurrently(world, scope, explain=explain) == one_by_one


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
        # Keys a team cannot narrow say so; lead time follows the team's commits.
        team_dora = await service.dora(conn, team)
        assert team_dora["deployment_frequency"]["team_filter"].startswith("not applied")
        assert "team_filter" not in team_dora["lead_time"]
        everyone = await service.dora(conn, service.Scope(INST_A, MARCH))
        assert "team_filter" not in everyone["time_to_restore"]
        # A team's throughput lists its members' pull requests only (alice 101, carol 104).
        tp = await service.throughput(conn, team, explain=True)
        merged = tp["pull_requests_merged"]
        assert merged["value"] == 2.0 and {i["id"] for i in merged["items"]} == {101, 104}
        assert tp["issues_closed"]["value"] == 0.0 and tp["issues_closed"]["items"] == []
        # Build success of a team: the runs its members triggered (alice's: 1 success, 1 failure,
        # 1 in progress); a team of bob alone triggered none.
        builds = await service.build_success(conn, team, explain=True)
        assert (builds["value"], builds["count"], builds["source"]) == (50.0, 2, "raw")
        assert {i["id"] for i in builds["items"]} == {1, 2}
        assert {e["reason"]: e["count"] for e in builds["excluded"]}["not completed yet"] == 1
        await conn.execute("INSERT INTO teams (id, installation_id, organization_id, slug, name) "
                           "VALUES (901, $1, $2, 'solo', 'Solo')", INST_A, ORG_A)
        await conn.execute("INSERT INTO team_members (team_id, user_id, installation_id) VALUES (901, 2, $1)",
                           INST_A)
        solo = await service.build_success(conn, service.Scope(INST_A, MARCH, team_id=901))
        assert solo["value"] is None and solo["count"] == 0
        assert "not completed yet" not in {e["reason"] for e in solo["excluded"]}


async def test_typed_results(world):
    """The read layer answers dataclasses (web/api/serialize.to_json makes them JSON)."""
    scope = typed.Scope(INST_A, MARCH)
    async with world.acquire() as conn:
        tp = await typed.throughput(conn, scope)
        assert isinstance(tp, ThroughputReport) and tp.source == "rollup"
        assert tp.pull_requests_merged.value == 3.0 and tp.pull_requests_merged.items is None
        builds = await typed.build_success(conn, scope)
        assert isinstance(builds, Figure) and builds.details["successes"] == 1
        vel = await typed.velocity(conn, scope)
        assert [v.repository_id for v in vel.details["by_repository"]] == [REPO_A]
        assert [s.id for s in vel.details["sprints"]] == [72, 71]
        burn = await typed.burndown(conn, scope, 71, now=t(31))
        assert burn.details["milestone"].starts_at == t(1) and burn.items is not None
        series = await typed.trends(conn, scope, metric="prs_merged", interval="month")
        assert series.series == [TrendPoint(date(2024, 3, 1), 3.0)]


async def test_explain_is_bounded_with_cursor(world, monkeypatch):
    monkeypatch.setattr(paging, "EXPLAIN_LIMIT", 2)
    monkeypatch.setattr(read_cycle_time, "EXPLAIN_LIMIT", 2)
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


def _same_figures(fast, slow) -> None:
    """Equal figures; averages from cumulative sums may differ in the last bits."""
    if isinstance(fast, dict):
        assert set(fast) == set(slow)
        for key in fast:
            if key == "average" and fast[key] is not None:
                assert fast[key] == pytest.approx(slow[key], rel=1e-12), key
            else:
                _same_figures(fast[key], slow[key])
    else:
        assert fast == slow


async def test_histogram_path_equals_sorting_the_facts(world, monkeypatch):
    scope = service.Scope(INST_A, MARCH)
    async with world.acquire() as conn:
        r = await service.resolve(conn, scope)
        assert percentiles.use_fast_path(r)
        assert await read_cycle_time._cycle_row(conn, r) is not None
        assert await read_dora._lead_time_fast(conn, r) is not None
        fast = (await service.cycle_time(conn, scope), await service.dora(conn, scope))
        monkeypatch.setattr(read_cycle_time, "use_fast_path", lambda r: False)
        monkeypatch.setattr(read_dora, "use_fast_path", lambda r: False)
        slow = (await service.cycle_time(conn, scope), await service.dora(conn, scope))
    _same_figures(fast, slow)


async def test_histograms_with_other_bot_settings_are_not_used(world):
    scope = service.Scope(INST_A, MARCH)
    async with world.acquire() as conn:
        before = await service.cycle_time(conn, scope)
        await conn.execute(
            "UPDATE organizations SET settings = $2 WHERE id = $1", ORG_A, {"bot_patterns": ["carol"]}
        )
        r = await service.resolve(conn, scope)
        assert await read_cycle_time._cycle_row(conn, r) is None  # built with other settings: sort the facts
        after = await service.cycle_time(conn, scope)
        assert after["cycle_time"]["count"] == before["cycle_time"]["count"] - 1
        # A rebuild with the new settings is used again and agrees.
        await histograms.refresh_histograms(conn, INST_A, None, await service.metrics_settings(conn, INST_A))
        assert await read_cycle_time._cycle_row(conn, r) is not None
        _same_figures(await service.cycle_time(conn, scope), after)


async def test_exact_percentiles_over_many_values(pool):
    """Random stage values (ties, zeros, negatives, huge, NULLs) in many buckets and days, a
    disconnected repository and bots: every median and p95 equals percentile_cont."""
    rnd = random.Random(4)
    async with pool.acquire() as conn:
        await seed(conn)
        await conn.execute(
            """INSERT INTO repositories (id, installation_id, owner_login, name, full_name,
                   default_branch, connected) VALUES (11, $1, 'acme', 'old', 'acme/old', 'main', false)""",
            INST_A,
        )

        def value():
            return rnd.choice(
                [None, 0.0, -1.5, 3.0, 3.0, rnd.random(), rnd.lognormvariate(3, 1.5), rnd.random() * 1e6]
            )

        rows = []
        for i in range(1500):
            merged = t(1) + timedelta(hours=rnd.random() * 24 * 60)
            bot = rnd.random() < 0.1
            rows.append(
                (10_000 + i, INST_A, rnd.choice([REPO_A, REPO_A, 11]), i, "x", ALICE,
                 "renovate[bot]" if bot else "alice", False, merged, abs(value() or 1.0),
                 *(value() for _ in range(6)), rnd.random() < 0.2)
            )
        await conn.executemany(
            """INSERT INTO pull_request_cycle (pull_request_id, installation_id, repository_id, number, title,
                   author_id, author_login, author_is_bot, merged_at, cycle_time, coding, pickup, review,
                   merge, deploy, time_to_approval, unreviewed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
                   $9, $10, $11, $12, $13, $14, $15, $16, $17)""",
            rows,
        )
        settings = await service.metrics_settings(conn, INST_A)
        await histograms.refresh_histograms(conn, INST_A, None, settings)
        for days in ((0, 60), (3, 17), (20, 21), (59, 60)):
            period = Period(t(1) + timedelta(days=days[0]), t(1) + timedelta(days=days[1]))
            r = await service.resolve(conn, service.Scope(INST_A, period))
            fast = await read_cycle_time._cycle_row(conn, r)
            slow = await conn.fetchrow(*bind(read_cycle_time.CYCLE_SQL, {
                "installation": INST_A, "start": period.start, "end": period.end,
                "repositories": r.repository_ids, "members": None, "exclude_bots": r.bots[0],
                "bot_patterns": r.bots[1]}))
            assert fast is not None
            for key, expected in dict(slow).items():
                if key.endswith("_avg") and expected is not None:
                    assert fast[key] == pytest.approx(expected, rel=1e-9), (days, key)
                else:
                    assert fast[key] == expected, (days, key)


def test_accumulate_is_cumulative_per_bucket():
    d1, d2 = date(2024, 3, 1), date(2024, 3, 2)
    rows = histograms.accumulate(
        [("s", d2, 3, 1, 2.0), ("s", d1, 1, 2, 1.0), ("c", d1, None, 4, 0.0)], {"s": (1, 0.5, [1])}
    )
    assert rows == [("c", d1, 4, 0.0, []), ("s", d1, 3, 1.5, [1, 2]), ("s", d2, 4, 3.5, [1, 2, 0, 1])]


async def test_open_work_counts_equal_the_calculators(world):
    async with world.acquire() as conn:
        for scope in (service.Scope(INST_A, MARCH), service.Scope(INST_A, MARCH, repository_ids=(REPO_A,))):
            r = await service.resolve(conn, scope)
            work = await read_open_work.load_open_work(conn, r)
            wip = await service.work_in_progress(conn, scope)
            load = await service.review_load(conn, scope)
            people = set(work.pull_requests) | set(work.issues)
            assert people and {p: work.wip(p) for p in people} == wip["per_person"]
            assert work.review_requests == load["per_reviewer"] == {"bob": 1}


async def test_people_from_cumulative_totals_equal_the_daily_rollup(world):
    async with world.acquire() as conn:
        for period in (MARCH, Period(t(2), t(6)), Period(t(6), t(7))):
            r = await service.resolve(conn, service.Scope(INST_A, period))
            fast = await read_people._people(conn, r, None)
            daily = await conn.fetch(*bind(read_people.PEOPLE_ROLLUP_SQL, {
                "installation": INST_A, "start": period.start.date(), "end": period.end.date(),
                "members": None}))
            got = [(p.user_id, p.prs_opened, p.commits, p.reviews_given) for p in fast]
            assert got == [
                (d["user_id"], int(d["prs_opened"]), int(d["commits"]), int(d["reviews_given"]))
                for d in daily
            ]
            assert await read_people._people(conn, r, [ALICE]) == [p for p in fast if p.user_id == ALICE]


async def test_a_self_review_is_not_a_review_given(pool):
    async with pool.acquire() as conn:
        await seed(conn)
        # Alice comments on her own PR 101 (Mar 1 15:00): a note to self, not a review given.
        await conn.execute(
            """INSERT INTO pull_request_reviews (id, installation_id, repository_id, pull_request_id,
                   reviewer_id, reviewer_login, state, submitted_at, version_at)
               VALUES (6, $1, $2, 101, $3, 'alice', 'COMMENTED', $4, $4)""",
            INST_A, REPO_A, ALICE, t(1, 15))
        await materialize.recompute_installation(conn, INST_A, DAYS)
        rolled = await service.team_analytics(conn, service.Scope(INST_A, MARCH))
        raw = await service.team_analytics(conn, service.Scope(INST_A, MARCH, repository_ids=(REPO_A,)))
    # The world's reviews in March: bob's two on 101 (alice's), alice's two on 104 (carol's).
    for people in (rolled["people"], raw["people"]):
        given = {p["login"]: p["reviews_given"] for p in people}
        assert given["alice"] == 2 and given["bob"] == 2


async def test_org_velocity_keeps_each_repositorys_sprints_apart(pool):
    async with pool.acquire() as conn:
        await seed(conn)
        # A second repository of installation A runs its own "Sprint 1" and "Sprint 2".
        web = 11
        await conn.execute(
            """INSERT INTO repositories (id, installation_id, owner_login, name, full_name, default_branch)
               VALUES ($1, $2, 'acme', 'web', 'acme/web', 'main')""", web, INST_A)
        await conn.execute(
            """INSERT INTO milestones (id, installation_id, repository_id, number, title, state, due_on,
                   github_created_at, github_updated_at, closed_at) VALUES
               (81, $1, $2, 1, 'Sprint 1', 'CLOSED', $3, $4, $3, $3),
               (82, $1, $2, 2, 'Sprint 2', 'CLOSED', $5, $3, $5, $5)""",
            INST_A, web, t(7), t(1), t(21))
        await conn.executemany(
            """INSERT INTO issues (id, installation_id, repository_id, number, title, author_id, author_login,
                   state, state_reason, labels, milestone_id, github_created_at, github_updated_at, closed_at)
               VALUES ($1, $2, $3, $4, 'Issue', $5, 'bob', 'CLOSED', 'completed', $6, $7, $8, $9, $9)""",
            [(811, INST_A, web, 1, 2, ["points: 5"], 81, t(1), t(6)),
             (812, INST_A, web, 2, 2, ["points: 3"], 82, t(8), t(20))])
        await materialize.recompute_installation(conn, INST_A, DAYS)
        vel = await service.velocity(conn, service.Scope(INST_A, MARCH), explain=True)
    # acme/api (the world): Sprint 2 (Mar 15) 1 point, Sprint 1 (Mar 8) 8 points
    #   -> weighted (0.4*1 + 0.3*8) / 0.7 = 4.0, older average 8.
    # acme/web: Sprint 2 (Mar 21) 3, Sprint 1 (Mar 7) 5 -> (0.4*3 + 0.3*5) / 0.7 = 27/7, older 5.
    # Pooled by date they would read 3, 1, 8, 5 -> 0.4*3 + 0.3*1 + 0.2*8 + 0.1*5 = 3.6.
    by_repo = {v["repository"]: v for v in vel["by_repository"]}
    assert by_repo["acme/api"]["value"] == pytest.approx(4.0) and by_repo["acme/api"]["older_average"] == 8
    assert by_repo["acme/web"]["value"] == pytest.approx(27 / 7) and by_repo["acme/web"]["older_average"] == 5
    assert vel["value"] == pytest.approx(4.0 + 27 / 7)                  # 55/7 points per sprint
    assert vel["older_average"] == 13 and vel["trend"] == "down"         # (55/7 - 13) / 13 < -5 %
    assert [(s["title"], s["repository"]) for s in vel["sprints"]] == [
        ("Sprint 2", "acme/web"), ("Sprint 2", "acme/api"), ("Sprint 1", "acme/api"),
        ("Sprint 1", "acme/web")]
    assert [i["label"] for i in vel["items"]][:2] == ["Sprint 2 (acme/web)", "Sprint 2 (acme/api)"]


async def test_a_count_is_never_negative_while_rollups_catch_up(world):
    async with world.acquire() as conn:
        # The daily rollups lag behind the facts: they have not counted March's commits yet.
        await conn.execute("UPDATE repository_stats SET commits = 0 WHERE installation_id = $1", INST_A)
        await conn.execute("UPDATE installation_stats SET commits = 0 WHERE installation_id = $1", INST_A)
        dora = await service.dora(conn, service.Scope(INST_A, MARCH))
    # 0 commits counted - 3 released (c101, m101, m104) would read "not deployed yet: -3".
    assert dora["lead_time"]["count"] == 3
    assert all(e["count"] > 0 for e in dora["lead_time"]["excluded"])
    assert "not deployed yet" not in {e["reason"] for e in dora["lead_time"]["excluded"]}
