"""`releases` and `release_commits` of one repository, rewritten from raw rows.

Its production releases come from `dora.production_releases`; a commit is released by the first
successful release whose own commit reached the default branch at or after it did --
`commits.default_branch_pushed_at`, the push that brought it there (a PR's merge) -- linear
history, the only ancestry a webhook-fed store knows; `cut_at` is that moment of the release's
commit. Merge commits are not changes. This is Apache DevLake's attribution (a deployment ships
what its sha contains) with the DORA 2023 / Four Keys lead time: deployment time minus the
commit's time.
"""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a named parameter (store/sql.bind) or, in short fixed queries, $n.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import asyncpg

from devmetrics_app.store.sql import bind

from .. import facts
from ..calc.dora import Release, production_releases
from ..settings import MetricsSettings

NEGATIVE_INFINITY = datetime(1970, 1, 1, tzinfo=UTC)


UPSERT_RELEASES = """
WITH gone AS (DELETE FROM releases WHERE repository_id = :repository AND NOT (source, id) IN
              (SELECT s, i FROM unnest(:source::text[], :id::bigint[]) AS x (s, i)))
INSERT INTO releases (source, id, installation_id, repository_id, sha, succeeded_at, failed_at,
                      outcome_at, cut_at)
SELECT r.source, r.id, :installation, :repository, r.sha, r.succeeded_at, r.failed_at, r.outcome_at,
       r.cut_at
FROM unnest(:source::text[], :id::bigint[], :sha::text[], :succeeded_at::timestamptz[],
            :failed_at::timestamptz[], :outcome_at::timestamptz[], :cut_at::timestamptz[])
     AS r (source, id, sha, succeeded_at, failed_at, outcome_at, cut_at)
ON CONFLICT (source, id) DO UPDATE SET
    sha = EXCLUDED.sha, succeeded_at = EXCLUDED.succeeded_at, failed_at = EXCLUDED.failed_at,
    outcome_at = EXCLUDED.outcome_at, cut_at = EXCLUDED.cut_at
"""
# Each default-branch commit belongs to the first successful release whose cut reaches the
# moment the commit reached the branch (REACHED_AT): releases in success order with a growing
# cut define the intervals (lo, hi]. The lead time itself runs from the commit's own time.
# Merge commits are not changes (the lead-time explain counts them apart).
REACHED_AT = facts.reached_at_sql("c")
INSERT_RELEASE_COMMITS = f"""
INSERT INTO release_commits (repository_id, sha, installation_id, release_source, release_id,
                             released_at, committed_at, lead_hours, author_login, author_is_bot)
SELECT c.repository_id, c.sha, c.installation_id, iv.source, iv.id, iv.released_at,
       coalesce(c.committed_at, c.authored_at),
       extract(epoch FROM iv.released_at - coalesce(c.committed_at, c.authored_at)) / 3600.0,
       c.author_login,
       coalesce((SELECT bool_or(u.is_bot) FROM users u WHERE lower(u.login) = lower(c.author_login)),
                false)
FROM unnest(:lo::timestamptz[], :hi::timestamptz[], :source::text[], :id::bigint[],
            :released_at::timestamptz[]) AS iv (lo, hi, source, id, released_at)
JOIN commits c ON c.repository_id = :repository AND :branch = ANY(c.branches) AND NOT c.is_merge
              AND {REACHED_AT} > iv.lo AND {REACHED_AT} <= iv.hi
"""
UPDATE_RELEASE_COUNTS = """
UPDATE releases r SET commits = coalesce(
    (SELECT count(*) FROM release_commits c WHERE c.release_source = r.source AND c.release_id = r.id), 0)
WHERE r.repository_id = $1
"""


def release_cuts(releases: Sequence[Release], times: dict[str, datetime]) -> dict[tuple[str, int], datetime]:
    """Latest moment a commit can have reached the default branch and be in each release: when
    its own sha reached the branch (`times`, from `facts.commit_times`; the default branch is
    linear, so everything that reached it earlier is an ancestor), else its outcome time (the
    sha was never pushed here: assume it is the branch head then). Never later than the
    outcome: a deployment cannot ship what reached the branch after it finished."""
    return {(r.source, r.id): min(times.get(r.sha) or r.outcome_at, r.outcome_at) for r in releases}


def release_intervals(
    releases: Sequence[Release], cuts: dict[tuple[str, int], datetime]
) -> list[tuple[datetime, datetime, Release]]:
    """(lo, hi, release): commits with lo < time ≤ hi were first deployed by `release`."""
    out = []
    reach = NEGATIVE_INFINITY
    for release in sorted(
        (r for r in releases if r.succeeded_at is not None), key=lambda r: (r.succeeded_at, r.id)
    ):
        cut = cuts[(release.source, release.id)]
        if cut > reach:
            out.append((reach, cut, release))
            reach = cut
    return out


def contains_by_cut(cuts: dict[tuple[str, int], datetime], times: dict[str, datetime]):
    """`contains(release, sha)` for cycle_time: its own sha, or a commit not newer than its cut."""

    def contains(release: Release, sha: str) -> bool:
        if sha == release.sha:
            return True
        at = times.get(sha)
        return at is not None and at <= cuts[(release.source, release.id)]

    return contains


async def repository_releases(
    conn: asyncpg.Connection, repository_id: int, default_branch: str | None, settings: MetricsSettings
) -> list[Release]:
    deployments = await facts.repository_deployments(conn, repository_id)
    runs = await facts.repository_runs(conn, repository_id)
    branches = {repository_id: default_branch} if default_branch else {}
    return production_releases(deployments, runs, default_branches=branches, settings=settings)


RELEASE_COMMIT_STATE_SQL = """
SELECT sha, release_source, release_id, released_at, committed_at, lead_hours, author_login, author_is_bot
FROM release_commits WHERE repository_id = $1
"""


def _changed_day(old: Sequence[asyncpg.Record], new: Sequence[asyncpg.Record]) -> date | None:
    """Earliest UTC day (released or committed) of a release_commits row that differs."""
    changed = {tuple(r) for r in old} ^ {tuple(r) for r in new}
    moments = [t for row in changed for t in (row[3], row[4]) if t is not None]
    return min(moments).astimezone(UTC).date() if moments else None


async def refresh_releases(
    conn: asyncpg.Connection, repo: asyncpg.Record, settings: MetricsSettings
) -> tuple[list[Release], dict, dict]:
    """Rewrite the repository's releases and release_commits; returns (releases, cuts, times)."""
    releases, cuts, times, _ = await refresh_releases_changed(conn, repo, settings)
    return releases, cuts, times


async def refresh_releases_changed(
    conn: asyncpg.Connection, repo: asyncpg.Record, settings: MetricsSettings
) -> tuple[list[Release], dict, dict, date | None]:
    """`refresh_releases` plus the earliest day whose release_commits changed (histograms)."""
    before = await conn.fetch(RELEASE_COMMIT_STATE_SQL, repo["id"])
    releases = await repository_releases(conn, repo["id"], repo["default_branch"], settings)
    times = await facts.commit_times(conn, repo["id"], [r.sha for r in releases])
    cuts = release_cuts(releases, times)
    await conn.execute(
        *bind(
            UPSERT_RELEASES,
            {
                "repository": repo["id"],
                "installation": repo["installation_id"],
                "source": [r.source for r in releases],
                "id": [r.id for r in releases],
                "sha": [r.sha for r in releases],
                "succeeded_at": [r.succeeded_at for r in releases],
                "failed_at": [r.failed_at for r in releases],
                "outcome_at": [r.outcome_at for r in releases],
                "cut_at": [cuts[(r.source, r.id)] for r in releases],
            },
        )
    )
    await conn.execute("DELETE FROM release_commits WHERE repository_id = $1", repo["id"])
    intervals = release_intervals(releases, cuts)
    if intervals and repo["default_branch"]:
        await conn.execute(
            *bind(
                INSERT_RELEASE_COMMITS,
                {
                    "repository": repo["id"],
                    "branch": repo["default_branch"],
                    "lo": [lo for lo, _, _ in intervals],
                    "hi": [hi for _, hi, _ in intervals],
                    "source": [r.source for _, _, r in intervals],
                    "id": [r.id for _, _, r in intervals],
                    "released_at": [r.succeeded_at for _, _, r in intervals],
                },
            )
        )
    await conn.execute(UPDATE_RELEASE_COUNTS, repo["id"])
    after = await conn.fetch(RELEASE_COMMIT_STATE_SQL, repo["id"])
    return releases, cuts, times, _changed_day(before, after)
