"""Idempotent recompute of the metric facts and daily rollups for (repository, days).

`recompute(conn, repository_id, days)` rebuilds, from raw rows only, in one transaction:

1. `releases` / `release_commits` of the repository (`releases`);
2. `pull_request_cycle` for the repository's PRs merged on those days, plus the PRs merged in
   the `DEPLOY_LOOKBACK_DAYS` before them (a deployment today completes their deploy stage)
   (`cycles`);
3. `sprint_facts` for the repository's milestones touched in the window (`sprints`), and the
   repository's open-work counts (`open_work_counts`);
4. `repository_stats` for (repository, day), then `installation_stats`, `developer_metrics` and
   `team_metrics` for (installation, day) (`daily`): each one upsert or DELETE+INSERT
   statement, under a per-installation advisory lock (`lock_installation`) so concurrent
   recomputes queue up instead of colliding;
5. `metric_histograms` from the first changed day on (`histograms`), then `developer_totals`
   (`daily`).

Running it twice gives the same rows: every statement recomputes from raw rows, none increments.
The order of the steps is the order of the locks they take: keep it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, timedelta

import asyncpg

from .. import facts
from ..settings import MetricsSettings
from .cycles import refresh_cycles
from .daily import refresh_developer_totals, refresh_installation_stats, refresh_repository_stats
from .days import day_start, parse_days
from .histograms import refresh_histograms
from .open_work_counts import refresh_open_work
from .releases import refresh_releases_changed
from .sprints import refresh_sprints

DEPLOY_LOOKBACK_DAYS = 14
ROLLUP_LOCK = 0x64726F6C  # "drol" + installation id: one rollup writer per installation at a time
REPOSITORY_SQL = "SELECT id, installation_id, default_branch FROM repositories WHERE id = $1"
MOVED_FACTS_SQL = """
SELECT min(f.merged_at) FROM pull_request_cycle f JOIN pull_requests p ON p.id = f.pull_request_id
WHERE p.repository_id = $1 AND p.merged_at >= $2 AND p.merged_at < $3
  AND f.merged_at IS DISTINCT FROM p.merged_at
"""


async def lock_installation(conn: asyncpg.Connection, installation_id: int) -> None:
    """Serialise rollup writers of one installation until this transaction ends: concurrent
    DELETE+INSERTs of overlapping (installation, day) windows otherwise collide on unique keys
    (installation_stats, release_commits) and deadlock on each other's rows."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", ROLLUP_LOCK, installation_id & 0x7FFFFFFF)


async def refresh_installation_days(
    conn: asyncpg.Connection,
    installation_id: int,
    days: Sequence[date],
    settings: MetricsSettings,
    *,
    histograms_since: date | None = None,
    full_histograms: bool = False,
) -> None:
    """installation_stats, developer_metrics and team_metrics for (installation, days), and the
    cumulative histograms from the first of `days` (or `histograms_since`, if earlier) on."""
    days = list(days)
    await refresh_installation_stats(conn, installation_id, days, settings)
    if days or full_histograms:
        since = None if full_histograms else min([*days, *([histograms_since] if histograms_since else [])])
        full = await refresh_histograms(conn, installation_id, since, settings)
        await refresh_developer_totals(conn, installation_id, None if full else min(days))


async def _recompute_repository(
    conn: asyncpg.Connection, repo: asyncpg.Record, wanted: list[date], settings: MetricsSettings
) -> tuple[list[date], date | None]:
    """Facts and repository_stats of one repository; returns the days whose installation-wide
    rollups follow and the earliest day from which the cumulative histograms changed."""
    repository_id = repo["id"]
    releases, cuts, times, changed = await refresh_releases_changed(conn, repo, settings)
    start = day_start(wanted[0] - timedelta(days=DEPLOY_LOOKBACK_DAYS))
    end = day_start(wanted[-1] + timedelta(days=1))
    # A fact whose merged_at moves into the window leaves its old day: histograms from there.
    moved = await conn.fetchval(MOVED_FACTS_SQL, repository_id, start, end)
    await refresh_cycles(conn, repo, start, end, settings, releases, cuts, times)
    await refresh_sprints(conn, repository_id, day_start(wanted[0]), settings)
    await refresh_open_work(conn, repo["installation_id"], repository_id, settings)
    # Cycle facts of the look-back days changed too (deploy stage): their rollups follow.
    stat_days = sorted(
        set(wanted) | {wanted[0] - timedelta(days=i) for i in range(1, DEPLOY_LOOKBACK_DAYS + 1)}
    )
    await refresh_repository_stats(conn, repository_id, repo["installation_id"], stat_days, settings)
    earliest = [d for d in (changed, moved.astimezone(UTC).date() if moved else None) if d]
    return stat_days, min(earliest) if earliest else None


async def recompute(
    conn: asyncpg.Connection,
    repository_id: int,
    days: Iterable[str | date],
    *,
    installation_days: bool = True,
) -> bool:
    """Recompute facts and rollups of one repository for `days` (UTC); False if unknown repo."""
    wanted = parse_days(days)
    if not wanted:
        return True
    async with conn.transaction():
        repo = await conn.fetchrow(REPOSITORY_SQL, repository_id)
        if repo is None:
            return False
        await lock_installation(conn, repo["installation_id"])
        settings = await facts.load_settings(conn, repo["installation_id"])
        stat_days, since = await _recompute_repository(conn, repo, wanted, settings)
        if installation_days:
            await refresh_installation_days(
                conn, repo["installation_id"], stat_days, settings, histograms_since=since
            )
    return True


async def recompute_pending(
    conn: asyncpg.Connection, installation_id: int, work: dict[int, list[date]]
) -> list[int]:
    """Every (repository, days) of `work` in one transaction, then the installation-wide rollups
    once over the union of their days: a burst touching many repositories costs one installation
    refresh, not one per repository. The caller holds `lock_installation` in an open transaction.
    Returns the repositories recomputed (unknown or moved ones are dropped)."""
    settings = await facts.load_settings(conn, installation_id)
    all_days: set[date] = set()
    since: list[date] = []
    done = []
    for repository_id in sorted(work):
        repo = await conn.fetchrow(REPOSITORY_SQL, repository_id)
        wanted = parse_days(work[repository_id])
        if repo is None or repo["installation_id"] != installation_id or not wanted:
            continue
        stat_days, earliest = await _recompute_repository(conn, repo, wanted, settings)
        all_days.update(stat_days)
        since.extend([earliest] if earliest else [])
        done.append(repository_id)
    if all_days:
        await refresh_installation_days(
            conn, installation_id, sorted(all_days), settings, histograms_since=min(since) if since else None
        )
    return done


async def recompute_installation(conn: asyncpg.Connection, installation_id: int, days: Sequence[date]) -> int:
    """Every repository of an installation for `days`, then the installation-wide rollups once."""
    ids = [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM repositories WHERE installation_id = $1 ORDER BY id", installation_id
        )
    ]
    for repository_id in ids:
        await recompute(conn, repository_id, days, installation_days=False)
    settings = await facts.load_settings(conn, installation_id)
    all_days = sorted(set(days) | {min(days) - timedelta(days=i) for i in range(1, DEPLOY_LOOKBACK_DAYS + 1)})
    async with conn.transaction():
        await lock_installation(conn, installation_id)
        await refresh_installation_days(conn, installation_id, all_days, settings, full_histograms=True)
    return len(ids)
