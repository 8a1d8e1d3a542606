"""Review load and work in progress counted in PostgreSQL (metrics/open_work.py) equal the pure
calculators (metrics/throughput.py) over the same rows: live, and from the stored per-repository
counts the rollup keeps; with bots of every kind, drafts, team requests and another tenant."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from served import service

from devmetrics_app.metrics import facts, materialize
from devmetrics_app.metrics.calc.throughput import review_load as review_load_calc
from devmetrics_app.metrics.calc.throughput import work_in_progress as wip_calc
from devmetrics_app.metrics.explain import Figure, Period
from devmetrics_app.metrics.materialize.open_work_counts import refresh_open_work

INST, OTHER, ORG, OTHER_ORG = 1, 2, 100, 200
REPOS = (10, 11, 12)
FOREIGN_REPO = 20
START = datetime(2025, 1, 1, tzinfo=UTC)
NOW = Period(START, START + timedelta(days=30))
# (id, login, GitHub type): people, a flagged Bot account, an App login, a service account
# matched by the organisation's pattern, and a person whose login merely contains "bot".
USERS = [
    (1, "alice", "User"),
    (2, "bob", "User"),
    (3, "carol", "User"),
    (4, "dave", "User"),
    (5, "copilot", "Bot"),
    (6, "renovate[bot]", "Bot"),
    (7, "deploy-ci", "User"),
    (8, "robotnik", "User"),
]
PATTERNS = ["deploy-*"]


async def seed(conn, rnd: random.Random) -> None:
    await conn.executemany(
        "INSERT INTO organizations (id, login, settings) VALUES ($1, $2, $3)",
        [(ORG, "acme", {"bot_patterns": PATTERNS}), (OTHER_ORG, "other", {})],
    )
    await conn.executemany(
        "INSERT INTO installations (id, account_id, account_login, account_type)"
        " VALUES ($1, $2, $3, 'Organization')",
        [(INST, ORG, "acme"), (OTHER, OTHER_ORG, "other")],
    )
    await conn.executemany("INSERT INTO users (id, login, type) VALUES ($1, $2, $3)", USERS)
    await conn.executemany(
        """INSERT INTO repositories (id, installation_id, owner_login, name, full_name, default_branch)
           VALUES ($1::bigint, $2, 'o', 'r' || $1::bigint, 'o/r' || $1::bigint, 'main')""",
        [(r, INST) for r in REPOS] + [(FOREIGN_REPO, OTHER)],
    )
    logins = [u[1] for u in USERS] + ["ghost"]  # ghost: requested, never seen as a user
    prs, issues = [], []
    for n in range(1, 121):
        repo = FOREIGN_REPO if n % 17 == 0 else rnd.choice(REPOS)
        author = rnd.choice(USERS)
        asks = [{"id": 0, "login": rnd.choice(logins), "kind": "user"} for _ in range(rnd.randint(0, 3))]
        if rnd.random() < 0.2:
            asks.append({"id": 0, "login": rnd.choice(["backend", "web"]), "kind": "team"})
        if rnd.random() < 0.05:
            asks.append({"id": 0, "login": "", "kind": "user"})  # no login: not a person to wait on
        state = rnd.choice(["OPEN", "OPEN", "OPEN", "MERGED", "CLOSED"])
        prs.append(
            (
                n,
                INST if repo != FOREIGN_REPO else OTHER,
                repo,
                n,
                author[0],
                author[1],
                START + timedelta(hours=rnd.randint(0, 600)),
                state,
                rnd.random() < 0.2,
                asks,
            )
        )
    await conn.executemany(
        """INSERT INTO pull_requests (id, installation_id, repository_id, number, title, author_id,
               author_login, github_created_at, github_updated_at, state, draft, requested_reviewers)
           VALUES ($1, $2, $3, $4, 'PR ' || $4::int, $5, $6, $7, $7, $8, $9, $10::jsonb)""",
        prs,
    )
    for n in range(1, 81):
        repo = rnd.choice(REPOS)
        assignees = rnd.sample([u[0] for u in USERS] + [99], rnd.randint(0, 3))  # 99: unknown user
        issues.append(
            (
                1000 + n,
                INST,
                repo,
                n,
                1,
                "alice",
                rnd.choice(["OPEN", "OPEN", "CLOSED"]),
                START + timedelta(hours=rnd.randint(0, 600)),
                assignees,
            )
        )
    await conn.executemany(
        """INSERT INTO issues (id, installation_id, repository_id, number, title, author_id, author_login,
               state, github_created_at, github_updated_at, assignee_ids)
           VALUES ($1, $2, $3, $4, 'Issue ' || $4::int, $5, $6, $7, $8, $8, $9)""",
        issues,
    )


async def calculators(conn, repository_ids) -> tuple[Figure, Figure]:
    settings = await service.metrics_settings(conn, INST)
    prs = [p for p, _ in await facts.open_pull_requests(conn, INST, repository_ids)]
    issues = await facts.open_assigned_issues(conn, INST, repository_ids)
    return review_load_calc(prs, settings=settings), wip_calc(prs, issues, settings=settings)


def same_figure(got: dict, expected: Figure, keys: tuple[str, ...]) -> None:
    assert got["value"] == pytest.approx(expected.value)
    assert got["count"] == expected.count
    assert {e["reason"]: e["count"] for e in got["excluded"]} == {
        e.reason: e.count for e in expected.excluded
    }
    for key in keys:
        assert got[key] == expected.details[key], key
    if "items" in got:
        assert got["items_total"] == len(expected.items)
        assert len(got["items"]) == min(service.EXPLAIN_LIMIT, len(expected.items))
        assert {i["id"] for i in got["items"]} <= {i.id for i in expected.items}
        for exclusion in expected.excluded:
            listed = next(e for e in got["excluded"] if e["reason"] == exclusion.reason)["items"]
            pairs = {(i.id, i.details.get("rule")) for i in exclusion.items}
            assert {(i["id"], i["details"].get("rule")) for i in listed} <= pairs
            assert len(listed) == min(service.EXPLAIN_LIMIT, exclusion.count)


@pytest.mark.parametrize("seed_value", [1, 2, 3])
async def test_sql_equals_the_calculators_live_and_stored(pool, seed_value):
    async with pool.acquire() as conn:
        await seed(conn, random.Random(seed_value))
        settings = await service.metrics_settings(conn, INST)
        for stored in (False, True):
            if stored:
                for repo in REPOS:
                    await refresh_open_work(conn, INST, repo, settings)
            for repos in (None, (REPOS[0], REPOS[2])):
                scope = service.Scope(INST, NOW, repos)
                load_calc, work_calc = await calculators(conn, repos)
                for explain in (False, True):
                    load = await service.review_load(conn, scope, explain=explain)
                    same_figure(load, load_calc, ("per_reviewer", "team_requests"))
                    wip = await service.work_in_progress(conn, scope, explain=explain)
                    same_figure(wip, work_calc, ("per_person", "total"))
                    assert load["source"] == wip["source"] == ("rollup" if stored else "live")
        # Pattern and flag bots are both at work in this world (else the test proves little).
        reasons = {e.reason for e in (load_calc.excluded + work_calc.excluded)}
        assert {"authored by a bot", "reviewer is a bot", "assignee is a bot"} <= reasons


async def test_stored_counts_follow_changes_and_settings(pool):
    async with pool.acquire() as conn:
        await seed(conn, random.Random(5))
        settings = await service.metrics_settings(conn, INST)
        for repo in REPOS:
            await refresh_open_work(conn, INST, repo, settings)
        scope = service.Scope(INST, NOW)
        before = await service.work_in_progress(conn, scope)
        assert before["source"] == "rollup"
        # A new open PR by alice: the rollup of its repository brings it in.
        await conn.execute(
            """INSERT INTO pull_requests (id, installation_id, repository_id, number, title, author_id,
                   author_login, github_created_at, github_updated_at, state)
               VALUES (5000, $1, $2, 5000, 'new', 1, 'alice', $3, $3, 'OPEN')""",
            INST,
            REPOS[0],
            START,
        )
        await materialize.recompute(conn, REPOS[0], [START.date()])
        after = await service.work_in_progress(conn, scope)
        assert (
            after["per_person"]["alice"]["pull_requests"]
            == before["per_person"]["alice"]["pull_requests"] + 1
        )
        # Other bot settings than the stored build's: counted live, and right, until rebuilt.
        await conn.execute(
            "UPDATE organizations SET settings = $2 WHERE id = $1", ORG, {"exclude_bots": False}
        )
        counted = await service.work_in_progress(conn, scope)
        _, work_calc = await calculators(conn, None)
        assert counted["source"] == "live" and counted["per_person"] == work_calc.details["per_person"]
        assert counted["excluded"] == []
        # A disconnected repository leaves the stored figure at once (no rebuild needed).
        await conn.execute(
            "UPDATE organizations SET settings = $2 WHERE id = $1",
            ORG,
            {"bot_patterns": PATTERNS},
        )
        await conn.execute("UPDATE repositories SET connected = false WHERE id = $1", REPOS[0])
        stored = await service.work_in_progress(conn, scope)
        _, work_calc = await calculators(conn, None)
        assert stored["source"] == "rollup" and stored["per_person"] == work_calc.details["per_person"]


async def test_other_installation_is_never_counted(pool):
    async with pool.acquire() as conn:
        await seed(conn, random.Random(7))
        settings = await service.metrics_settings(conn, INST)
        await refresh_open_work(conn, OTHER, FOREIGN_REPO, settings)
        # Installation 1 naming installation 2's repository sees nothing, live or stored.
        for _ in range(2):
            load = await service.review_load(conn, service.Scope(INST, NOW, (FOREIGN_REPO,)))
            assert load["value"] == 0.0 and load["per_reviewer"] == {}
            for repo in REPOS:
                await refresh_open_work(conn, INST, repo, settings)
