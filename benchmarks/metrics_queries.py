"""Metrics read path: p50/p95 of every metrics and analytics endpoint over HTTP (and of every
service function behind them) on a synthetic organisation, beside a straightforward SQL query
over the raw tables for the same figure, in the same run.

Generates (scale 1.0) 200 repositories, 200,000 pull requests with reviews, 1,000,000 commits,
20,000 deployments, 50,000 issues and 40,000 workflow runs over two years with COPY
(asyncpg copy_records_to_table), runs the rollups, then times each service function and each
endpoint (the real app over loopback HTTP, a signed-in session; benchmarks/bench_app.py) for a
90-day and a 2-year range. The target (issue 4) is on the endpoints: p95 <= 50 ms, 2 years.

PostgreSQL: DATABASE_URL when set (a scratch database `devmetrics_metrics_bench` is created
beside it and dropped), else the embedded one in a temporary directory; Redis likewise
(REDIS_URL, else embedded).

    python benchmarks/metrics_queries.py [--scale 0.1] [--runs 20] [--keep] [--reuse]
                                         [--only NAME ...] [--database NAME] [--no-functions]

`--keep` leaves the scratch database in place; `--reuse` then skips generation (and the
per-repository rollups), migrates, refreshes the installation-wide rollups and the open-work
counts and times again (to iterate on the read path at scale 1.0). `--only` times the named
functions only; `--no-functions` (with --reuse) times the HTTP endpoints only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import bench_app

from devmetrics_app import embedded
from devmetrics_app.db import create_pool, migrate
from devmetrics_app.metrics import materialize, service
from devmetrics_app.metrics.explain import Period
from devmetrics_app.metrics.materialize.open_work_counts import refresh_open_work

INSTALLATION = 1
ORG = 1
DAYS = 730
BENCH_DB = "devmetrics_metrics_bench"
SIZES = {
    "repositories": 200,
    "pull_requests": 200_000,
    "commits": 1_000_000,
    "deployments": 20_000,
    "issues": 50_000,
    "workflow_runs": 40_000,
    "users": 400,
}
BOT_SHARE = 0.05
# The timed ranges: whole UTC days ending where the generated world ends.
SPRINT_DAYS = 14
NOW = datetime(2026, 1, 1, tzinfo=UTC)
RANGES = {
    "90 days": Period(NOW - timedelta(days=90), NOW),
    "2 years": Period(NOW - timedelta(days=DAYS), NOW),
}

# The straightforward way: one query over the raw tables per figure ($1 installation, $2/$3 period).
BASELINES: dict[str, str] = {
    "cycle_time": """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM p.merged_at
                       - p.github_created_at)), count(*), (SELECT count(*) FROM pull_request_reviews r
                       JOIN pull_requests q ON q.id = r.pull_request_id WHERE q.installation_id = $1
                       AND q.merged_at >= $2 AND q.merged_at < $3)
                     FROM pull_requests p WHERE p.installation_id = $1 AND p.merged_at >= $2
                       AND p.merged_at < $3""",
    "velocity": """SELECT m.id, count(*) FILTER (WHERE i.state = 'CLOSED') FROM milestones m
                   JOIN issues i ON i.milestone_id = m.id WHERE m.installation_id = $1
                   AND m.due_on >= $2 AND m.due_on < $3 GROUP BY m.id""",
    "dora": """SELECT count(DISTINCT s.github_created_at::date),
                      (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM
                          d2.github_created_at
                              - c.committed_at)) FROM commits c JOIN deployments d2
                              ON d2.repository_id = c.repository_id AND d2.sha = c.sha
                       WHERE c.installation_id = $1 AND d2.github_created_at >= $2 AND
                           d2.github_created_at < $3)
               FROM deployments d JOIN deployment_statuses s ON s.deployment_id = d.id
               WHERE d.installation_id = $1 AND s.state = 'success' AND s.github_created_at >= $2
                 AND s.github_created_at < $3""",
    "deployments": """SELECT count(DISTINCT s.github_created_at::date), count(*) FROM deployments d
                      JOIN deployment_statuses s ON s.deployment_id = d.id WHERE d.installation_id = $1
                      AND s.state = 'success' AND s.github_created_at >= $2 AND s.github_created_at < $3""",
    "build_success": """SELECT count(*) FILTER (WHERE conclusion = 'success'), count(*) FROM workflow_runs
                        WHERE installation_id = $1 AND completed_at >= $2 AND completed_at < $3""",
    "throughput": """SELECT (SELECT count(*) FROM pull_requests WHERE installation_id = $1 AND merged_at >= $2
                            AND merged_at < $3),
                            (SELECT count(*) FROM issues WHERE installation_id = $1 AND closed_at >= $2
                            AND closed_at < $3)""",
    "review_load": """SELECT r->>'login', count(*) FROM pull_requests p,
                      jsonb_array_elements(p.requested_reviewers) r WHERE p.installation_id = $1
                      AND p.state = 'OPEN' AND $2::timestamptz < $3 GROUP BY 1""",
    "work_in_progress": """SELECT author_id, count(*) FROM pull_requests WHERE installation_id = $1
                           AND state = 'OPEN' AND $2::timestamptz < $3 GROUP BY 1""",
    "team_analytics": """SELECT u, sum(n) FROM (
                           SELECT author_id u, count(*) n FROM pull_requests WHERE installation_id = $1
                             AND github_created_at >= $2 AND github_created_at < $3 GROUP BY 1
                           UNION ALL SELECT reviewer_id, count(*) FROM pull_request_reviews
                             WHERE installation_id = $1 AND submitted_at >= $2 AND submitted_at < $3
                                 GROUP BY 1
                           UNION ALL SELECT NULL, count(*) FROM commits WHERE installation_id = $1
                             AND committed_at >= $2 AND committed_at < $3) x GROUP BY u""",
    "individual_analytics": """SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch
                               FROM merged_at - github_created_at)) FROM pull_requests WHERE
                                   installation_id = $1
                               AND author_id = 1 AND merged_at >= $2 AND merged_at < $3""",
    "repository_analytics": """SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch
                               FROM merged_at - github_created_at)),
                               (SELECT count(*) FROM commits WHERE repository_id = 1 AND committed_at >= $2
                                AND committed_at < $3)
                               FROM pull_requests WHERE installation_id = $1
                               AND repository_id = 1 AND merged_at >= $2 AND merged_at < $3""",
    "trends": """SELECT date_trunc('week', merged_at), count(*) FROM pull_requests WHERE installation_id = $1
                 AND merged_at >= $2 AND merged_at < $3 GROUP BY 1""",
}


def hexsha(n: int, salt: str) -> str:
    return f"{salt}{n:039x}"[-40:]


async def generate(conn: asyncpg.Connection, scale: float, seed: int = 7) -> dict[str, int]:
    """Write the synthetic organisation with COPY; returns the row counts."""
    rnd = random.Random(seed)
    n = {k: max(2, int(v * scale)) for k, v in SIZES.items()}
    start = NOW - timedelta(days=DAYS)
    span = DAYS * 86400.0

    def moment(lo: float = 0.0) -> datetime:
        return start + timedelta(seconds=lo + rnd.random() * (span - lo))

    await conn.execute("INSERT INTO organizations (id, login) VALUES ($1, 'bench')", ORG)
    await conn.execute(
        """INSERT INTO installations (id, account_id, account_login, account_type)
                          VALUES ($1, $2, 'bench', 'Organization')""",
        INSTALLATION,
        ORG,
    )
    users = [
        (
            i,
            f"dev{i}" if i > n["users"] * BOT_SHARE else f"bot{i}[bot]",
            "User" if i > n["users"] * BOT_SHARE else "Bot",
        )
        for i in range(1, n["users"] + 1)
    ]
    await conn.copy_records_to_table("users", records=users, columns=["id", "login", "type"])
    repos = [
        (i, INSTALLATION, "bench", f"r{i}", f"bench/r{i}", "main") for i in range(1, n["repositories"] + 1)
    ]
    await conn.copy_records_to_table(
        "repositories",
        records=repos,
        columns=["id", "installation_id", "owner_login", "name", "full_name", "default_branch"],
    )
    await conn.execute(
        """INSERT INTO teams (id, installation_id, organization_id, slug, name)
                          VALUES (1, $1, $2, 'core', 'Core')""",
        INSTALLATION,
        ORG,
    )
    await conn.copy_records_to_table(
        "team_members",
        records=[(1, u[0], INSTALLATION) for u in users[::10]],
        columns=["team_id", "user_id", "installation_id"],
    )
    user_logins = {u[0]: u[1] for u in users}

    prs, reviews, commits, merged_by_repo = [], [], [], {}
    open_requests: list[tuple[int, list]] = []
    commits_per_pr = max(1, n["commits"] // n["pull_requests"])
    review_id = 0
    for pid in range(1, n["pull_requests"] + 1):
        repo = rnd.randint(1, n["repositories"])
        author = rnd.randint(1, n["users"])
        created = moment()
        merged = created + timedelta(hours=rnd.lognormvariate(3, 1.2))
        is_open = merged >= NOW or rnd.random() < 0.03
        merged_at = None if is_open else merged
        merge_sha = None if is_open else hexsha(pid, "m")
        requested = (
            [
                {"id": r, "login": user_logins[r], "kind": "user"}
                for r in rnd.sample(range(1, n["users"] + 1), 2)
            ]
            if is_open
            else []
        )
        prs.append(
            (
                pid,
                INSTALLATION,
                repo,
                pid,
                f"Change {pid}" if rnd.random() > 0.01 else f'Revert "{pid}"',
                author,
                user_logins[author],
                "OPEN" if is_open else "MERGED",
                created,
                merged_at or created,
                created,
                merged_at,
                merged_at,
                merge_sha,
                f"f{pid}",
                rnd.randint(1, 500),
                rnd.randint(0, 200),
            )
        )
        if requested:
            open_requests.append((pid, requested))
        for k in range(commits_per_pr - (0 if is_open else 1)):
            at = created - timedelta(hours=rnd.random() * 48)
            commits.append(
                (
                    repo,
                    hexsha(pid * 16 + k, "c"),
                    INSTALLATION,
                    user_logins[author],
                    at,
                    at,
                    [f"f{pid}"] + ([] if is_open else ["main"]),
                )
            )
        if not is_open:
            commits.append(
                (repo, merge_sha, INSTALLATION, user_logins[author], merged_at, merged_at, ["main"])
            )
            merged_by_repo.setdefault(repo, []).append((merged_at, merge_sha))
            for state in ("COMMENTED", "APPROVED"):
                review_id += 1
                reviewer = rnd.randint(1, n["users"])
                at = created + (merged_at - created) * (0.3 if state == "COMMENTED" else 0.7)
                reviews.append(
                    (review_id, INSTALLATION, repo, pid, reviewer, user_logins[reviewer], state, at, at)
                )
    await conn.copy_records_to_table(
        "pull_requests",
        records=prs,
        columns=[
            "id",
            "installation_id",
            "repository_id",
            "number",
            "title",
            "author_id",
            "author_login",
            "state",
            "github_created_at",
            "github_updated_at",
            "ready_for_review_at",
            "merged_at",
            "closed_at",
            "merge_commit_sha",
            "head_ref",
            "additions",
            "deletions",
        ],
    )
    # COPY's binary format has no jsonb encoder beside the pool's text codec: the few open PRs'
    # review requests go in one batch instead.
    await conn.executemany("UPDATE pull_requests SET requested_reviewers = $2 WHERE id = $1", open_requests)
    await conn.copy_records_to_table(
        "pull_request_reviews",
        records=reviews,
        columns=[
            "id",
            "installation_id",
            "repository_id",
            "pull_request_id",
            "reviewer_id",
            "reviewer_login",
            "state",
            "submitted_at",
            "version_at",
        ],
    )
    await conn.copy_records_to_table(
        "commits",
        records=commits,
        columns=[
            "repository_id",
            "sha",
            "installation_id",
            "author_login",
            "committed_at",
            "authored_at",
            "branches",
        ],
    )

    deployments, statuses = [], []
    for merged in merged_by_repo.values():
        merged.sort()
    per_repo = max(1, n["deployments"] // n["repositories"])
    did = 0
    for repo in range(1, n["repositories"] + 1):
        merged = merged_by_repo.get(repo, [])
        for k in range(per_repo):
            at = start + timedelta(seconds=span * (k + rnd.random()) / per_repo)
            before = [sha for m, sha in merged if m <= at]
            if not before:
                continue
            did += 1
            state = "success" if rnd.random() > 0.08 else "failure"
            deployments.append(
                (did, INSTALLATION, repo, before[-1], "production", at, at, state, at + timedelta(minutes=10))
            )
            statuses.append(
                (did, INSTALLATION, repo, did, state, at + timedelta(minutes=10), at + timedelta(minutes=10))
            )
    await conn.copy_records_to_table(
        "deployments",
        records=deployments,
        columns=[
            "id",
            "installation_id",
            "repository_id",
            "sha",
            "environment",
            "github_created_at",
            "github_updated_at",
            "latest_state",
            "latest_status_at",
        ],
    )
    await conn.copy_records_to_table(
        "deployment_statuses",
        records=statuses,
        columns=[
            "id",
            "installation_id",
            "repository_id",
            "deployment_id",
            "state",
            "github_created_at",
            "github_updated_at",
        ],
    )

    sprints = DAYS // SPRINT_DAYS
    milestones = []
    for repo in range(1, n["repositories"] + 1):
        for k in range(sprints):
            begin = start + timedelta(days=k * SPRINT_DAYS)
            due = begin + timedelta(days=SPRINT_DAYS)
            milestones.append(
                (
                    repo * 1000 + k,
                    INSTALLATION,
                    repo,
                    k + 1,
                    f"Sprint {k + 1}",
                    "CLOSED" if due < NOW else "OPEN",
                    due,
                    begin,
                    due,
                    due if due < NOW else None,
                )
            )
    await conn.copy_records_to_table(
        "milestones",
        records=milestones,
        columns=[
            "id",
            "installation_id",
            "repository_id",
            "number",
            "title",
            "state",
            "due_on",
            "github_created_at",
            "github_updated_at",
            "closed_at",
        ],
    )
    issues = []
    for iid in range(1, n["issues"] + 1):
        repo = rnd.randint(1, n["repositories"])
        created = moment()
        closed = created + timedelta(days=rnd.random() * 20)
        is_open = closed >= NOW or rnd.random() < 0.1
        sprint = int((created - start).days // SPRINT_DAYS)
        labels = rnd.choice(
            [["points: 3"], ["size: L"], ["sp/5"], [], ["incident"] if rnd.random() < 0.1 else []]
        )
        author = rnd.randint(1, n["users"])
        issues.append(
            (
                iid,
                INSTALLATION,
                repo,
                iid,
                f"Issue {iid}",
                "OPEN" if is_open else "CLOSED",
                None if is_open else ("not_planned" if rnd.random() < 0.05 else "completed"),
                author,
                user_logins[author],
                labels,
                repo * 1000 + sprint if rnd.random() < 0.6 else None,
                created,
                closed if not is_open else created,
                None if is_open else closed,
                [rnd.randint(1, n["users"])] if is_open else [],
            )
        )
    await conn.copy_records_to_table(
        "issues",
        records=issues,
        columns=[
            "id",
            "installation_id",
            "repository_id",
            "number",
            "title",
            "state",
            "state_reason",
            "author_id",
            "author_login",
            "labels",
            "milestone_id",
            "github_created_at",
            "github_updated_at",
            "closed_at",
            "assignee_ids",
        ],
    )
    runs = []
    for rid in range(1, n["workflow_runs"] + 1):
        at = moment()
        conclusion = rnd.choices(["success", "failure", "cancelled"], [85, 10, 5])[0]
        runs.append(
            (
                rid,
                INSTALLATION,
                rnd.randint(1, n["repositories"]),
                "ci",
                "main",
                "completed",
                conclusion,
                at,
                at + timedelta(minutes=8),
                at + timedelta(minutes=8),
                rnd.randint(1, n["users"]),
            )
        )
    await conn.copy_records_to_table(
        "workflow_runs",
        records=runs,
        columns=[
            "id",
            "installation_id",
            "repository_id",
            "name",
            "head_branch",
            "status",
            "conclusion",
            "github_created_at",
            "github_updated_at",
            "completed_at",
            "actor_id",
        ],
    )
    await conn.execute("ANALYZE")
    return {
        "repositories": len(repos),
        "pull_requests": len(prs),
        "reviews": len(reviews),
        "commits": len(commits),
        "deployments": len(deployments),
        "issues": len(issues),
        "workflow_runs": len(runs),
        "milestones": len(milestones),
    }


def calls(scope: service.Scope) -> dict[str, Callable[[asyncpg.Connection], Awaitable[object]]]:
    return {
        "cycle_time": lambda c: service.cycle_time(c, scope),
        "cycle_time?explain": lambda c: service.cycle_time(c, scope, explain=True),
        "velocity": lambda c: service.velocity(c, scope),
        "burndown": lambda c: service.burndown(c, scope, 1000 + 10),
        "dora": lambda c: service.dora(c, scope),
        "dora?explain": lambda c: service.dora(c, scope, explain=True),
        "deployments": lambda c: service.deployments(c, scope),
        "build_success": lambda c: service.build_success(c, scope),
        "throughput": lambda c: service.throughput(c, scope),
        "throughput?explain": lambda c: service.throughput(c, scope, explain=True),
        "review_load": lambda c: service.review_load(c, scope),
        "review_load?explain": lambda c: service.review_load(c, scope, explain=True),
        "work_in_progress": lambda c: service.work_in_progress(c, scope),
        "work_in_progress?explain": lambda c: service.work_in_progress(c, scope, explain=True),
        "team_analytics": lambda c: service.team_analytics(c, scope),
        "team_analytics?team": lambda c: service.team_analytics(
            c, service.Scope(scope.installation_id, scope.period, team_id=1)
        ),
        "individual_analytics": lambda c: service.individual_analytics(c, scope, 30),
        "repository_analytics": lambda c: service.repository_analytics(c, scope, 1),
        "trends": lambda c: service.trends(c, scope, metric="prs_merged", interval="week"),
        "cycle_time?repos=10": lambda c: service.cycle_time(
            c, service.Scope(scope.installation_id, scope.period, repository_ids=tuple(range(1, 11)))
        ),
    }


def endpoints(installation_id: int, period: Period) -> dict[str, tuple[str, str]]:
    """API path per endpoint, and the BASELINES query it is compared with."""
    # `to` names the last day included (web/api/query.py).
    q = (f"installation={installation_id}&from={period.start.date()}"
         f"&to={(period.end - timedelta(days=1)).date()}")
    return {
        "GET /api/metrics/cycle-time": (f"/api/metrics/cycle-time?{q}", "cycle_time"),
        "GET /api/metrics/velocity": (f"/api/metrics/velocity?{q}", "velocity"),
        "GET /api/metrics/burndown": (f"/api/metrics/burndown?{q}&milestone={1000 + 10}", ""),
        "GET /api/metrics/dora": (f"/api/metrics/dora?{q}", "dora"),
        "GET /api/metrics/deployment": (f"/api/metrics/deployment?{q}", "deployments"),
        "GET /api/metrics/build-success": (f"/api/metrics/build-success?{q}", "build_success"),
        "GET /api/analytics/team": (f"/api/analytics/team?{q}", "team_analytics"),
        "GET /api/analytics/individual/30": (f"/api/analytics/individual/30?{q}", "individual_analytics"),
        "GET /api/analytics/repository/1": (f"/api/analytics/repository/1?{q}", "repository_analytics"),
        "GET /api/analytics/trends": (f"/api/analytics/trends?{q}&metric=prs_merged&interval=week", "trends"),
        "GET /api/repositories/1/metrics": (f"/api/repositories/1/metrics?{q}", ""),
        "GET /api/metrics/cycle-time explain": (f"/api/metrics/cycle-time?{q}&explain=true", ""),
        "GET /api/metrics/dora explain": (f"/api/metrics/dora?{q}&explain=true", ""),
    }


async def bench_http(url: str, redis_url: str, data_dir: Path, runs: int) -> float:
    """Every metrics and analytics endpoint over HTTP, beside its raw-SQL baseline."""
    pool = await create_pool(url, max_size=1)
    worst = 0.0
    try:
        async with bench_app.signed_in_client(url, redis_url, data_dir, INSTALLATION) as client, \
                pool.acquire() as conn:
            header = f"{'endpoint (HTTP)':<40}{'range':<9}{'p50 ms':>8}{'p95 ms':>8}"
            print(f"\n{header}   {'raw SQL p50':>11}{'p95':>8}")
            for label, period in RANGES.items():
                for name, (path, base) in endpoints(INSTALLATION, period).items():
                    p50, p95 = await bench_app.timed_get(client, path, runs)
                    if label == "2 years" and "explain" not in name:
                        worst = max(worst, p95)
                    raw = ""
                    if base:
                        b50, b95 = await timed(
                            lambda base=base, period=period: conn.fetch(
                                BASELINES[base], INSTALLATION, period.start, period.end),
                            max(3, runs // 4))
                        raw = f"{b50:>11.1f}{b95:>8.1f}"
                    print(f"{name:<40}{label:<9}{p50:>8.1f}{p95:>8.1f}   {raw}")
    finally:
        await pool.close()
    print(f"\nworst endpoint p95 over HTTP on the 2-year range: {worst:.1f} ms (target 50 ms)")
    return worst


async def timed(fn: Callable[[], Awaitable[object]], runs: int) -> tuple[float, float]:
    await fn()  # warm
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]


async def bench(
    url: str, scale: float, runs: int, *, reuse: bool = False, only: list[str] | None = None,
    timing: bool = True,
) -> None:
    pool = await create_pool(url, max_size=2)
    try:
        await _bench(pool, scale, runs, reuse=reuse, only=only, timing=timing)
    finally:
        await pool.close()


async def _bench(
    pool: asyncpg.Pool, scale: float, runs: int, *, reuse: bool = False, only: list[str] | None = None,
    timing: bool = True,
) -> None:
    async with pool.acquire() as conn:
        await migrate(conn)
        days = [(NOW - timedelta(days=i)).date() for i in range(DAYS + 1)]
        if reuse:
            began = time.perf_counter()
            settings = await service.metrics_settings(conn, INSTALLATION)
            async with conn.transaction():
                await materialize.refresh_installation_days(conn, INSTALLATION, sorted(days), settings)
                for repository_id in await conn.fetch("SELECT id FROM repositories ORDER BY id"):
                    await refresh_open_work(conn, INSTALLATION, repository_id["id"], settings)
            await conn.execute("VACUUM ANALYZE")
            print(f"reused; installation rollups refreshed in {time.perf_counter() - began:.1f} s")
        else:
            began = time.perf_counter()
            counts = await generate(conn, scale)
            generated = time.perf_counter() - began
            print(f"generated (scale {scale}): {counts} in {generated:.1f} s")
            began = time.perf_counter()
            await materialize.recompute_installation(conn, INSTALLATION, days)
            await conn.execute("VACUUM ANALYZE")
            print(f"rollups (all {len(days)} days, every repository): {time.perf_counter() - began:.1f} s")
        if not timing:
            return
        print(f"\n{'function':<24}{'range':<9}{'p50 ms':>8}{'p95 ms':>8}   {'raw SQL p50':>11}{'p95':>8}")
        worst = 0.0
        for label, period in RANGES.items():
            scope = service.Scope(INSTALLATION, period)
            for name, call in calls(scope).items():
                if only and name not in only:
                    continue
                p50, p95 = await timed(lambda call=call: call(conn), runs)
                worst = max(worst, p95) if label == "2 years" else worst
                base = BASELINES.get(name.split("?")[0])
                raw = ""
                if base and "?" not in name:
                    b50, b95 = await timed(
                        lambda base=base, period=period: conn.fetch(
                            base, INSTALLATION, period.start, period.end
                        ),
                        max(3, runs // 4),
                    )
                    raw = f"{b50:>11.1f}{b95:>8.1f}"
                print(f"{name:<24}{label:<9}{p50:>8.1f}{p95:>8.1f}   {raw}")
        print(f"\nworst service-function p95 on the 2-year range: {worst:.1f} ms")


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="do not drop the scratch database")
    parser.add_argument("--reuse", action="store_true", help="time a kept database again")
    parser.add_argument("--only", action="append", help="time only this function (repeatable)")
    parser.add_argument("--database", default=BENCH_DB, help="scratch database name")
    parser.add_argument("--no-functions", action="store_true", help="time the HTTP endpoints only")
    args = parser.parse_args()
    configured, configured_redis = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    with tempfile.TemporaryDirectory(prefix="dmbench-", dir="/tmp") as tmp:
        admin_url = configured or embedded.start_postgres(Path(tmp), database="postgres")
        redis_url = configured_redis or embedded.start_redis(Path(tmp))
        name = args.database
        if not args.reuse:
            admin = await asyncpg.connect(admin_url)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
            await admin.close()
        try:
            url = with_database(admin_url, name)
            if not args.no_functions or not args.reuse:
                await bench(url, args.scale, args.runs, reuse=args.reuse, only=args.only,
                            timing=not args.no_functions)
            await bench_http(url, redis_url, Path(tmp), args.runs)
        finally:
            if not args.keep:
                admin = await asyncpg.connect(admin_url)
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()
            if not configured_redis:
                embedded.stop_redis(Path(tmp))
            if not configured:
                embedded.stop_postgres(Path(tmp))


if __name__ == "__main__":
    asyncio.run(main())
