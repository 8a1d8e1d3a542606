"""Dashboard pages: p50/p95 server time of the overview, repository and pull request list pages
for the synthetic organisation of benchmarks/metrics_queries.py (its generator, its rollups).

The real app (create_app + the dashboard) serves over loopback HTTP in this process; a signed-in
session is made directly in Redis (the OAuth dance is not what is measured), and the user's
GitHub installation list is pre-cached as tenancy.py would cache it. Each page is requested
`--runs` times for a 90-day period; the time is from request to the last byte of the HTML.

    python benchmarks/pages.py [--scale 0.1] [--runs 20]
    python benchmarks/pages.py --reuse --database NAME   # a database kept by metrics_queries.py --keep
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_app
import metrics_queries as mq

from devmetrics_app import embedded
from devmetrics_app.db import create_pool, migrate
from devmetrics_app.metrics import materialize
from devmetrics_app.web.keys import POOL

BENCH_DB = "devmetrics_pages_bench"
TARGET_P95_MS = 150.0


async def prepare(url: str, scale: float) -> None:
    pool = await create_pool(url, max_size=1)  # its connections carry the jsonb codecs
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
            began = time.perf_counter()
            counts = await mq.generate(conn, scale)
            days = [(mq.NOW - mq.timedelta(days=i)).date() for i in range(mq.DAYS + 1)]
            await materialize.recompute_installation(conn, mq.INSTALLATION, days)
            await conn.execute("VACUUM ANALYZE")
            print(f"generated and rolled up (scale {scale}): {counts} in {time.perf_counter() - began:.1f} s")
    finally:
        await pool.close()


async def serve(url: str, redis_url: str, data_dir: Path, runs: int) -> float:
    async with bench_app.signed_in_client(url, redis_url, data_dir, mq.INSTALLATION) as client:
        pool = client.server.app[POOL]
        repository = await pool.fetchval(
            "SELECT min(id) FROM repositories WHERE installation_id = $1", mq.INSTALLATION)
        # The generated world ends at mq.NOW: the 90 days before it, as a custom period.
        period = (f"period=custom&from={(mq.NOW - mq.timedelta(days=90)).date()}"
                  f"&to={(mq.NOW - mq.timedelta(days=1)).date()}")
        pages = {"overview": f"/orgs/{mq.INSTALLATION}?{period}",
                 "repository": f"/orgs/{mq.INSTALLATION}/repositories/{repository}?{period}",
                 "pull request list": f"/orgs/{mq.INSTALLATION}/pulls"}
        print(f"\n{'page':<20}{'p50 ms':>8}{'p95 ms':>8}")
        worst = 0.0
        for name, path in pages.items():
            p50, p95 = await bench_app.timed_get(client, path, runs)
            worst = max(worst, p95)
            print(f"{name:<20}{p50:>8.1f}{p95:>8.1f}")
        print(f"\nworst p95: {worst:.1f} ms (target {TARGET_P95_MS:.0f} ms)")
        return worst


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database", default=BENCH_DB, help="scratch database name")
    parser.add_argument("--reuse", action="store_true",
                        help="serve a database kept by `metrics_queries.py --keep` (no generation, kept)")
    args = parser.parse_args()
    configured_db, configured_redis = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    with tempfile.TemporaryDirectory(prefix="dmpages-", dir="/tmp") as tmp:
        data_dir = Path(tmp)
        admin_url = configured_db or embedded.start_postgres(data_dir, database="postgres")
        redis_url = configured_redis or embedded.start_redis(data_dir)
        if not args.reuse:
            admin = await asyncpg.connect(admin_url)
            await admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{args.database}"')
            await admin.close()
        url = mq.with_database(admin_url, args.database)
        try:
            if not args.reuse:
                await prepare(url, args.scale)
            await serve(url, redis_url, data_dir, args.runs)
        finally:
            if not args.reuse:
                admin = await asyncpg.connect(admin_url)
                await admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
                await admin.close()
            if not configured_redis:
                embedded.stop_redis(data_dir)
            if not configured_db:
                embedded.stop_postgres(data_dir)


if __name__ == "__main__":
    asyncio.run(main())
