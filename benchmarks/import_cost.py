"""History import cost: GitHub requests for 1,000 pull requests with 3 reviews each.

Seeds the fake GitHub of the test suite (on loopback) and runs, against it:

* ours  -- the real importer (`devmetrics_app.importer.import_repository`) into a real database:
           pull requests with their reviews through GraphQL, 100 a page, reviews inline;
* naive -- a REST import: GET /pulls?state=all&per_page=100 page by page, then GET
           /pulls/{n}/reviews for every pull request.

The fake records every request it answers, so the counts are exact (and deterministic); times
are printed for context only. PostgreSQL: DATABASE_URL when set (a scratch database
`devmetrics_bench_import` is created beside it and dropped), else an embedded one in a
temporary directory.

    python benchmarks/import_cost.py [--pulls 1000] [--reviews 3]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import payloads  # noqa: E402
from fakes.github import create_fake_github  # noqa: E402
from fakes.github.state import FakeGitHubState  # noqa: E402
from gidgethub.aiohttp import GitHubAPI  # noqa: E402

from devmetrics_app import embedded  # noqa: E402
from devmetrics_app.db import create_pool, migrate  # noqa: E402
from devmetrics_app.importer import import_repository  # noqa: E402

TOKEN = "ghs_benchmarktoken"
HOST = "127.0.0.1"
SCRATCH_DATABASE = "devmetrics_bench_import"
PER_PAGE = 100
TARGET_PER_1000 = 20


def seed(state: FakeGitHubState, pulls: int, reviews: int) -> str:
    repo = payloads.REPO_API
    full_name = repo["full_name"]
    state.repositories[full_name] = copy.deepcopy(repo)
    state.repository_installation[full_name] = payloads.ORG_INSTALLATION_ID
    state.tokens[TOKEN] = {"installation_id": payloads.ORG_INSTALLATION_ID,
                           "expires_at": time.time() + 86_400}
    now = datetime.now(UTC)
    items = []
    for number in range(1, pulls + 1):
        moment = (now - timedelta(minutes=number)).strftime("%Y-%m-%dT%H:%M:%SZ")
        pr = payloads.pull_request(number, repo=repo, state="closed", merged=True,
                                   created_at=moment, updated_at=moment)
        items.append(pr)
        state.reviews[(full_name, number)] = [
            payloads.review(pr, seq=seq, user=payloads.BOB, submitted_at=moment)
            for seq in range(1, reviews + 1)]
    state.pulls[full_name] = items
    return full_name


async def naive_import(gh: GitHubAPI, full_name: str) -> int:
    """What the issue calls the naive REST import; returns the reviews it saw."""
    owner, name = full_name.split("/")
    seen = 0
    numbers = [pr["number"] async for pr in gh.getiter(
        "/repos/{owner}/{repo}/pulls{?state,per_page}",
        {"owner": owner, "repo": name, "state": "all", "per_page": PER_PAGE})]
    for number in numbers:
        seen += len([r async for r in gh.getiter(
            "/repos/{owner}/{repo}/pulls/{number}/reviews{?per_page}",
            {"owner": owner, "repo": name, "number": number, "per_page": PER_PAGE})])
    return seen


async def database(workdir: Path) -> tuple[str, str | None]:
    """(url of a migrated scratch database, admin url to drop it with or None)."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        admin = await asyncpg.connect(configured)
        await admin.execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{SCRATCH_DATABASE}"')
        await admin.close()
        url = urlunsplit(urlsplit(configured)._replace(path="/" + SCRATCH_DATABASE))
        cleanup: str | None = configured
    else:
        url = embedded.start_postgres(workdir, database=SCRATCH_DATABASE)
        cleanup = None
    conn = await asyncpg.connect(url)
    await migrate(conn)
    await conn.close()
    return url, cleanup


async def main(pulls: int, reviews: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="dmbench-"))
    url, admin_url = await database(workdir)
    state = FakeGitHubState()
    full_name = seed(state, pulls, reviews)
    runner = web.AppRunner(create_fake_github(state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # aiohttp gives no public accessor
    base_url = f"http://{HOST}:{port}"
    pool = await create_pool(url)
    try:
        async with aiohttp.ClientSession() as session:
            gh = GitHubAPI(session, "devmetrics-bench", oauth_token=TOKEN, base_url=base_url)
            started = time.perf_counter()
            summary = await import_repository(pool, gh, installation_id=payloads.ORG_INSTALLATION_ID,
                                              repository=full_name)
            ours_seconds = time.perf_counter() - started
            graphql = len(state.requests_to("POST", "/graphql"))
            repo_get = len([r for r in state.requests if r.path == f"/repos/{full_name}"])
            ours_total = len(state.requests)
            stored_reviews = await pool.fetchval("SELECT count(*) FROM pull_request_reviews")

            state.requests.clear()
            started = time.perf_counter()
            naive_reviews = await naive_import(gh, full_name)
            naive_seconds = time.perf_counter() - started
            naive = len(state.requests)
    finally:
        await pool.close()
        await runner.cleanup()
        if admin_url:
            admin = await asyncpg.connect(admin_url)
            await admin.execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DATABASE}" WITH (FORCE)')
            await admin.close()
        else:
            embedded.stop_postgres(workdir)
        shutil.rmtree(workdir, ignore_errors=True)

    per_1000 = (graphql + repo_get) * 1000 / pulls
    print(f"pull requests: {pulls}, reviews each: {reviews}")
    print(f"{'import':<44}{'requests':>10}{'seconds':>10}")
    print(f"{'ours: PRs + reviews (GraphQL + GET repo)':<44}{graphql + repo_get:>10}{ours_seconds:>10.1f}")
    print(f"{'ours: whole import, all six kinds':<44}{ours_total:>10}")
    print(f"{'naive REST: list per 100 + reviews per PR':<44}{naive:>10}{naive_seconds:>10.1f}")
    print(f"stored: {summary.items.get('pull_requests')} PRs, {stored_reviews} reviews "
          f"(naive saw {naive_reviews} reviews); GraphQL points charged: {summary.graphql_cost}")
    print(f"PR+review requests per 1,000 PRs: {per_1000:.0f} (target <= {TARGET_PER_1000}); "
          f"naive / ours = {naive / (graphql + repo_get):.0f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pulls", type=int, default=1000)
    parser.add_argument("--reviews", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.pulls, args.reviews))
