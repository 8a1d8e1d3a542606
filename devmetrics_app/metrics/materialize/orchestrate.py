"""Idempotent recompute of the metric facts and daily rollups for (repository, days).

`recompute(conn, repository_id, days)` rebuilds, from raw rows only, in one transaction:

1. `releases` / `release_commits` of the repository (its production releases via
   `dora.production_releases`; a commit is released by the first successful release whose own
   commit reached the default branch at or after it did -- `commits.default_branch_pushed_at`,
   the push that brought it there (a PR's merge) -- linear history, the only ancestry a
   webhook-fed store knows; `cut_at` is that moment of the release's commit. Merge commits are
   not changes. This is Apache DevLake's attribution (a deployment ships what its sha contains)
   with the DORA 2023 / Four Keys lead time: deployment time minus the commit's time);
2. `pull_request_cycle` for the repository's PRs merged on those days, plus the PRs merged in
   the `DEPLOY_LOOKBACK_DAYS` before them (a deployment today completes their deploy stage),
   computed by the pure `cycle_time.pull_request_cycle`, so a stored stage is the calculator's;
3. `sprint_facts` for the repository's milestones touched in the window;
4. `repository_stats` for (repository, day), then `installation_stats`, `developer_metrics` and
   `team_metrics` for (installation, day): each one upsert or DELETE+INSERT statement, under
   a per-installation advisory lock (`lock_installation`) so concurrent recomputes queue up
   instead of colliding;
5. `metric_histograms` (sql/004): cumulative per-bucket counts of each cycle-time stage and of
   the lead time per (installation, day), rebuilt from the first changed day on (a cumulative
   row carries every earlier day, so a change on day D rewrites the rows of D and later ones);
   `recompute_installation` rebuilds them fully. They only locate the rank of a median: the
   service reads the exact value from the facts (see `read.percentiles.exact_percentiles`).

Running it twice gives the same rows: every statement recomputes from raw rows, none increments.
"""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a $n parameter.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta

import asyncpg

from .. import facts, open_work
from ..calc.cycle_time import pull_request_cycle
from ..calc.dora import Release, production_releases
from ..calc.velocity import completed_points
from ..settings import MetricsSettings

DEPLOY_LOOKBACK_DAYS = 14
NEGATIVE_INFINITY = datetime(1970, 1, 1, tzinfo=UTC)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


# ------------------------------------------------------------------ releases

UPSERT_RELEASES = """
WITH gone AS (DELETE FROM releases WHERE repository_id = $1 AND NOT (source, id) IN
              (SELECT s, i FROM unnest($3::text[], $4::bigint[]) AS x (s, i)))
INSERT INTO releases (source, id, installation_id, repository_id, sha, succeeded_at, failed_at,
                      outcome_at, cut_at)
SELECT r.source, r.id, $2, $1, r.sha, r.succeeded_at, r.failed_at, r.outcome_at, r.cut_at
FROM unnest($3::text[], $4::bigint[], $5::text[], $6::timestamptz[], $7::timestamptz[],
            $8::timestamptz[], $9::timestamptz[])
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
FROM unnest($3::timestamptz[], $4::timestamptz[], $5::text[], $6::bigint[], $7::timestamptz[])
     AS iv (lo, hi, source, id, released_at)
JOIN commits c ON c.repository_id = $1 AND $2 = ANY(c.branches) AND NOT c.is_merge
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
    releases, cuts, times, _ = await _refresh_releases(conn, repo, settings)
    return releases, cuts, times


async def _refresh_releases(
    conn: asyncpg.Connection, repo: asyncpg.Record, settings: MetricsSettings
) -> tuple[list[Release], dict, dict, date | None]:
    """`refresh_releases` plus the earliest day whose release_commits changed (histograms)."""
    before = await conn.fetch(RELEASE_COMMIT_STATE_SQL, repo["id"])
    releases = await repository_releases(conn, repo["id"], repo["default_branch"], settings)
    times = await facts.commit_times(conn, repo["id"], [r.sha for r in releases])
    cuts = release_cuts(releases, times)
    await conn.execute(
        UPSERT_RELEASES,
        repo["id"],
        repo["installation_id"],
        [r.source for r in releases],
        [r.id for r in releases],
        [r.sha for r in releases],
        [r.succeeded_at for r in releases],
        [r.failed_at for r in releases],
        [r.outcome_at for r in releases],
        [cuts[(r.source, r.id)] for r in releases],
    )
    await conn.execute("DELETE FROM release_commits WHERE repository_id = $1", repo["id"])
    intervals = release_intervals(releases, cuts)
    if intervals and repo["default_branch"]:
        await conn.execute(
            INSERT_RELEASE_COMMITS,
            repo["id"],
            repo["default_branch"],
            [lo for lo, _, _ in intervals],
            [hi for _, hi, _ in intervals],
            [r.source for _, _, r in intervals],
            [r.id for _, _, r in intervals],
            [r.succeeded_at for _, _, r in intervals],
        )
    await conn.execute(UPDATE_RELEASE_COUNTS, repo["id"])
    after = await conn.fetch(RELEASE_COMMIT_STATE_SQL, repo["id"])
    return releases, cuts, times, _changed_day(before, after)


# ------------------------------------------------------------------ pull request cycles

PRS_TO_REFRESH = """
SELECT id FROM pull_requests
WHERE repository_id = $1 AND merged_at >= $2 AND merged_at < $3
UNION
SELECT pull_request_id FROM pull_request_cycle
WHERE repository_id = $1 AND merged_at >= $2 AND merged_at < $3
"""
UPSERT_CYCLES = """
INSERT INTO pull_request_cycle AS f (
    pull_request_id, installation_id, repository_id, number, title, author_id, author_login,
    author_is_bot, is_revert, merged_at, merge_commit_sha, cycle_time, coding, pickup, review, merge,
    deploy, time_to_approval, draft, unreviewed, first_review_at, approved_at, deployed_at,
    additions, deletions, computed_at)
SELECT *, now() FROM unnest(
    $1::bigint[], $2::bigint[], $3::bigint[], $4::int[], $5::text[], $6::bigint[], $7::text[],
    $8::boolean[], $9::boolean[], $10::timestamptz[], $11::text[], $12::float8[], $13::float8[],
    $14::float8[], $15::float8[], $16::float8[], $17::float8[], $18::float8[], $19::float8[],
    $20::boolean[], $21::timestamptz[], $22::timestamptz[], $23::timestamptz[], $24::int[], $25::int[])
ON CONFLICT (pull_request_id) DO UPDATE SET
    installation_id = EXCLUDED.installation_id, repository_id = EXCLUDED.repository_id,
    number = EXCLUDED.number, title = EXCLUDED.title, author_id = EXCLUDED.author_id,
    author_login = EXCLUDED.author_login, author_is_bot = EXCLUDED.author_is_bot,
    is_revert = EXCLUDED.is_revert, merged_at = EXCLUDED.merged_at,
    merge_commit_sha = EXCLUDED.merge_commit_sha, cycle_time = EXCLUDED.cycle_time,
    coding = EXCLUDED.coding, pickup = EXCLUDED.pickup, review = EXCLUDED.review,
    merge = EXCLUDED.merge, deploy = EXCLUDED.deploy, time_to_approval = EXCLUDED.time_to_approval,
    draft = EXCLUDED.draft, unreviewed = EXCLUDED.unreviewed, first_review_at = EXCLUDED.first_review_at,
    approved_at = EXCLUDED.approved_at, deployed_at = EXCLUDED.deployed_at,
    additions = EXCLUDED.additions, deletions = EXCLUDED.deletions, computed_at = now()
"""


async def refresh_cycles(
    conn: asyncpg.Connection,
    repo: asyncpg.Record,
    start: datetime,
    end: datetime,
    settings: MetricsSettings,
    releases: Sequence[Release],
    cuts: dict,
    times: dict[str, datetime],
) -> int:
    """Recompute the facts of the repository's PRs merged in [start, end); drop unmerged ones."""
    ids = [r["id"] for r in await conn.fetch(PRS_TO_REFRESH, repo["id"], start, end)]
    rows = [r for r in await facts.load_pull_requests(conn, ids) if r.facts.merged_at is not None]
    merged_ids = {r.facts.id for r in rows}
    await conn.execute(
        "DELETE FROM pull_request_cycle WHERE pull_request_id = ANY($1::bigint[])",
        [i for i in ids if i not in merged_ids],
    )
    if not rows:
        return 0
    merge_shas = [r.facts.merge_commit_sha for r in rows if r.facts.merge_commit_sha]
    times = {**times, **await facts.commit_times(conn, repo["id"], merge_shas)}
    contains = contains_by_cut(cuts, times)
    cycles = [
        pull_request_cycle(r.facts, settings=settings, releases=releases, contains=contains) for r in rows
    ]
    columns: list[list] = [[] for _ in range(25)]
    for row, c in zip(rows, cycles, strict=True):
        f = row.facts
        values = (
            f.id,
            row.installation_id,
            f.repository_id,
            f.number,
            f.title,
            row.author_id,
            f.author_login,
            f.author_is_bot,
            settings.is_revert_title(f.title),
            f.merged_at,
            f.merge_commit_sha,
            c.cycle_time,
            c.coding,
            c.pickup,
            c.review,
            c.merge,
            c.deploy,
            c.time_to_approval,
            c.draft,
            c.unreviewed,
            c.first_review_at,
            c.approved_at,
            c.deployed_at,
            row.additions,
            row.deletions,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    await conn.execute(UPSERT_CYCLES, *columns)
    return len(rows)


# ------------------------------------------------------------------ sprints

MILESTONES_TO_REFRESH = """
SELECT id FROM milestones
WHERE repository_id = $1 AND (state = 'OPEN' OR github_updated_at >= $2
      OR coalesce(due_on, closed_at) >= $2)
UNION
SELECT DISTINCT milestone_id FROM issues
WHERE repository_id = $1 AND github_updated_at >= $2 AND milestone_id IS NOT NULL
"""
UPSERT_SPRINTS = """
INSERT INTO sprint_facts AS f (milestone_id, installation_id, repository_id, title, state, starts_at,
    ends_at, points, completed_issues, open_issues, not_planned_issues, bot_issues, computed_at)
SELECT *, now() FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[],
    $6::timestamptz[], $7::timestamptz[], $8::float8[], $9::int[], $10::int[], $11::int[], $12::int[])
ON CONFLICT (milestone_id) DO UPDATE SET
    title = EXCLUDED.title, state = EXCLUDED.state, starts_at = EXCLUDED.starts_at,
    ends_at = EXCLUDED.ends_at, points = EXCLUDED.points, completed_issues = EXCLUDED.completed_issues,
    open_issues = EXCLUDED.open_issues, not_planned_issues = EXCLUDED.not_planned_issues,
    bot_issues = EXCLUDED.bot_issues, computed_at = now()
"""


async def refresh_sprints(
    conn: asyncpg.Connection, repository_id: int, since: datetime, settings: MetricsSettings
) -> int:
    ids = [r["id"] for r in await conn.fetch(MILESTONES_TO_REFRESH, repository_id, since)]
    sprints = await facts.load_sprints(conn, ids)
    kept = {s.id for s, _ in sprints}
    await conn.execute(
        "DELETE FROM sprint_facts WHERE milestone_id = ANY($1::bigint[])", [i for i in ids if i not in kept]
    )
    columns: list[list] = [[] for _ in range(12)]
    for sprint, row in sprints:
        points, items, log = completed_points(sprint, settings)
        values = (
            sprint.id,
            row["installation_id"],
            row["repository_id"],
            sprint.title,
            sprint.state,
            sprint.starts_at,
            sprint.ends_at,
            points,
            len(items),
            log.count("not closed"),
            log.count("closed as not planned"),
            log.count("opened by a bot"),
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    if sprints:
        await conn.execute(UPSERT_SPRINTS, *columns)
    return len(sprints)


# ------------------------------------------------------------------ daily rollups

BOT_PR = facts.bot_sql("p.author_login", "coalesce(u.is_bot, false)", 4, 5)
BOT_ISSUE = facts.bot_sql("i.author_login", "coalesce(u.is_bot, false)", 4, 5)
BOT_RUN = facts.bot_sql("u.login", "coalesce(u.is_bot, false)", 4, 5)
BOT_CYCLE = facts.bot_sql("f.author_login", "f.author_is_bot", 4, 5)

UPSERT_REPOSITORY_STATS = f"""
INSERT INTO repository_stats AS s (
    repository_id, day, installation_id, prs_opened, prs_merged, prs_merged_bot, prs_closed, commits,
    additions, deletions, reviews, issues_opened, issues_closed, issues_closed_bot, issues_not_planned,
    deployments, failed_deployments, workflow_runs, workflow_successes, workflow_failures,
    workflow_bot, workflow_no_verdict, cycle_time_hours_sum, cycle_time_count, computed_at)
SELECT $1, d.day, $3, o.n, m.merged, m.merged_bot, c.n, k.n, m.additions, m.deletions, rv.n,
       io.n, ic.closed, ic.bot, ic.not_planned, dp.ok, dp.failed,
       w.successes + w.failures, w.successes, w.failures, w.bot, w.no_verdict, cy.total, cy.n, now()
FROM unnest($2::date[]) AS d (day)
CROSS JOIN LATERAL (SELECT (d.day::timestamp AT TIME ZONE 'UTC') AS lo,
                           ((d.day + 1)::timestamp AT TIME ZONE 'UTC') AS hi) b
CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE NOT {BOT_PR}) AS n FROM pull_requests p
                    LEFT JOIN users u ON u.id = p.author_id
                    WHERE p.repository_id = $1 AND p.github_created_at >= b.lo
                      AND p.github_created_at < b.hi) o
CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE NOT {BOT_PR}) AS merged,
                           count(*) FILTER (WHERE {BOT_PR}) AS merged_bot,
                           coalesce(sum(p.additions) FILTER (WHERE NOT {BOT_PR}), 0) AS additions,
                           coalesce(sum(p.deletions) FILTER (WHERE NOT {BOT_PR}), 0) AS deletions
                    FROM pull_requests p LEFT JOIN users u ON u.id = p.author_id
                    WHERE p.repository_id = $1 AND p.merged_at >= b.lo AND p.merged_at < b.hi) m
CROSS JOIN LATERAL (SELECT count(*) AS n FROM pull_requests p
                    WHERE p.repository_id = $1 AND p.closed_at >= b.lo AND p.closed_at < b.hi
                      AND p.merged_at IS NULL) c
CROSS JOIN LATERAL (SELECT count(*) AS n FROM commits k
                    WHERE k.repository_id = $1 AND k.committed_at >= b.lo AND k.committed_at < b.hi) k
CROSS JOIN LATERAL (SELECT count(*) AS n FROM pull_request_reviews r
                    WHERE r.repository_id = $1 AND r.submitted_at >= b.lo AND r.submitted_at < b.hi
                      AND r.state <> 'PENDING') rv
CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE NOT {BOT_ISSUE}) AS n FROM issues i
                    LEFT JOIN users u ON u.id = i.author_id
                    WHERE i.repository_id = $1 AND i.github_created_at >= b.lo
                      AND i.github_created_at < b.hi AND i.deleted_at IS NULL) io
CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE NOT {BOT_ISSUE}
                                             AND coalesce(i.state_reason, '') <> 'not_planned') AS closed,
                           count(*) FILTER (WHERE {BOT_ISSUE}) AS bot,
                           count(*) FILTER (WHERE NOT {BOT_ISSUE}
                                             AND coalesce(i.state_reason, '') = 'not_planned') AS not_planned
                    FROM issues i LEFT JOIN users u ON u.id = i.author_id
                    WHERE i.repository_id = $1 AND i.closed_at >= b.lo AND i.closed_at < b.hi
                      AND i.state = 'CLOSED' AND i.deleted_at IS NULL) ic
CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE r.succeeded_at >= b.lo AND r.succeeded_at < b.hi) AS ok,
                           count(*) FILTER (WHERE r.failed_at >= b.lo AND r.failed_at < b.hi) AS failed
                    FROM releases r WHERE r.repository_id = $1
                      AND ((r.succeeded_at >= b.lo AND r.succeeded_at < b.hi)
                           OR (r.failed_at >= b.lo AND r.failed_at < b.hi))) dp
CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE NOT {BOT_RUN} AND lower(w.conclusion) = 'success') AS
    successes,
                           count(*) FILTER (WHERE NOT {BOT_RUN} AND lower(w.conclusion) IN
                                            ('failure', 'timed_out', 'startup_failure')) AS failures,
                           count(*) FILTER (WHERE {BOT_RUN}) AS bot,
                           count(*) FILTER (WHERE NOT {BOT_RUN} AND lower(coalesce(w.conclusion, '')) NOT IN
                                            ('success', 'failure', 'timed_out', 'startup_failure')) AS
                                                no_verdict
                    FROM workflow_runs w LEFT JOIN users u ON u.id = w.actor_id
                    WHERE w.repository_id = $1 AND w.status = 'completed'
                      AND coalesce(w.completed_at, w.github_updated_at) >= b.lo
                      AND coalesce(w.completed_at, w.github_updated_at) < b.hi) w
CROSS JOIN LATERAL (SELECT coalesce(sum(f.cycle_time), 0) AS total, count(*) AS n
                    FROM pull_request_cycle f
                    WHERE f.repository_id = $1 AND f.merged_at >= b.lo AND f.merged_at < b.hi
                      AND NOT {BOT_CYCLE}) cy
ON CONFLICT (repository_id, day) DO UPDATE SET
    installation_id = EXCLUDED.installation_id, prs_opened = EXCLUDED.prs_opened,
    prs_merged = EXCLUDED.prs_merged, prs_merged_bot = EXCLUDED.prs_merged_bot,
    prs_closed = EXCLUDED.prs_closed, commits = EXCLUDED.commits, additions = EXCLUDED.additions,
    deletions = EXCLUDED.deletions, reviews = EXCLUDED.reviews, issues_opened = EXCLUDED.issues_opened,
    issues_closed = EXCLUDED.issues_closed, issues_closed_bot = EXCLUDED.issues_closed_bot,
    issues_not_planned = EXCLUDED.issues_not_planned, deployments = EXCLUDED.deployments,
    failed_deployments = EXCLUDED.failed_deployments, workflow_runs = EXCLUDED.workflow_runs,
    workflow_successes = EXCLUDED.workflow_successes, workflow_failures = EXCLUDED.workflow_failures,
    workflow_bot = EXCLUDED.workflow_bot, workflow_no_verdict = EXCLUDED.workflow_no_verdict,
    cycle_time_hours_sum = EXCLUDED.cycle_time_hours_sum, cycle_time_count = EXCLUDED.cycle_time_count,
    computed_at = now()
"""

STAT_COLUMNS = (
    "prs_opened",
    "prs_merged",
    "prs_merged_bot",
    "prs_closed",
    "commits",
    "additions",
    "deletions",
    "reviews",
    "issues_opened",
    "issues_closed",
    "issues_closed_bot",
    "issues_not_planned",
    "deployments",
    "failed_deployments",
    "workflow_runs",
    "workflow_successes",
    "workflow_failures",
    "workflow_bot",
    "workflow_no_verdict",
    "cycle_time_hours_sum",
    "cycle_time_count",
)
DELETE_INSTALLATION_STATS = (
    "DELETE FROM installation_stats WHERE installation_id = $1 AND day = ANY($2::date[])"
)
INSERT_INSTALLATION_STATS = f"""
INSERT INTO installation_stats (installation_id, day, {", ".join(STAT_COLUMNS)}, computed_at)
SELECT $1, s.day, {", ".join(f"sum(s.{c})" for c in STAT_COLUMNS)}, now()
FROM repository_stats s JOIN repositories r ON r.id = s.repository_id
WHERE s.installation_id = $1 AND s.day = ANY($2::date[])
  AND r.installation_id = $1 AND r.connected AND r.removed_at IS NULL
GROUP BY s.day
"""

DELETE_DEVELOPER_METRICS = (
    "DELETE FROM developer_metrics WHERE installation_id = $1 AND day = ANY($2::date[])"
)
# People only: bot accounts (GitHub's flag, [bot] logins, the organisation's patterns) have no row.
INSERT_DEVELOPER_METRICS = f"""
WITH days AS (SELECT unnest($2::date[]) AS day),
bounds AS (SELECT min(day)::timestamp AT TIME ZONE 'UTC' AS lo,
                  (max(day) + 1)::timestamp AT TIME ZONE 'UTC' AS hi FROM days),
repos AS (SELECT id FROM repositories WHERE installation_id = $1 AND connected AND removed_at IS NULL),
activity AS (
    SELECT p.author_id AS user_id, (p.github_created_at AT TIME ZONE 'UTC')::date AS day,
           1 AS prs_opened, 0 AS prs_merged, 0 AS reviews_given, 0 AS review_comments, 0 AS commits,
           0 AS additions, 0 AS deletions, 0.0::float8 AS cycle_sum, 0 AS cycle_n
    FROM pull_requests p, bounds b
    WHERE p.installation_id = $1 AND p.github_created_at >= b.lo AND p.github_created_at < b.hi
      AND p.repository_id IN (SELECT id FROM repos)
    UNION ALL
    SELECT f.author_id, (f.merged_at AT TIME ZONE 'UTC')::date, 0, 1, 0, 0, 0,
           coalesce(f.additions, 0), coalesce(f.deletions, 0), f.cycle_time, 1
    FROM pull_request_cycle f, bounds b
    WHERE f.installation_id = $1 AND f.merged_at >= b.lo AND f.merged_at < b.hi
      AND f.repository_id IN (SELECT id FROM repos)
    UNION ALL
    SELECT r.reviewer_id, (r.submitted_at AT TIME ZONE 'UTC')::date, 0, 0, 1, 0, 0, 0, 0, 0, 0
    FROM pull_request_reviews r, bounds b
    WHERE r.installation_id = $1 AND r.submitted_at >= b.lo AND r.submitted_at < b.hi
      AND r.state <> 'PENDING' AND r.repository_id IN (SELECT id FROM repos) AND {facts.NOT_SELF_REVIEW_SQL}
    UNION ALL
    SELECT c.user_id, (c.github_created_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 1, 0, 0, 0, 0, 0
    FROM pull_request_review_comments c, bounds b
    WHERE c.installation_id = $1 AND c.github_created_at >= b.lo AND c.github_created_at < b.hi
      AND c.deleted_at IS NULL
    UNION ALL
    SELECT (SELECT min(u.id) FROM users u WHERE lower(u.login) = lower(k.author_login)),
           (k.committed_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 0, 1, 0, 0, 0, 0
    FROM commits k, bounds b
    WHERE k.installation_id = $1 AND k.committed_at >= b.lo AND k.committed_at < b.hi
      AND k.repository_id IN (SELECT id FROM repos)
)
INSERT INTO developer_metrics (installation_id, user_id, day, prs_opened, prs_merged, reviews_given,
    review_comments, commits, additions, deletions, cycle_time_hours_sum, cycle_time_count, computed_at)
SELECT $1, a.user_id, a.day, sum(prs_opened), sum(prs_merged), sum(reviews_given), sum(review_comments),
       sum(commits), sum(additions), sum(deletions), sum(cycle_sum), sum(cycle_n), now()
FROM activity a JOIN users u ON u.id = a.user_id
WHERE a.day = ANY($2::date[]) AND NOT {facts.bot_sql("u.login", "u.is_bot", 3, 4)}
GROUP BY a.user_id, a.day
"""
DELETE_TEAM_METRICS = "DELETE FROM team_metrics WHERE installation_id = $1 AND day = ANY($2::date[])"
INSERT_TEAM_METRICS = """
INSERT INTO team_metrics (installation_id, team_id, day, prs_opened, prs_merged, reviews_given, commits,
                          cycle_time_hours_sum, cycle_time_count, computed_at)
SELECT $1, tm.team_id, d.day, sum(d.prs_opened), sum(d.prs_merged), sum(d.reviews_given), sum(d.commits),
       sum(d.cycle_time_hours_sum), sum(d.cycle_time_count), now()
FROM developer_metrics d
JOIN team_members tm ON tm.user_id = d.user_id AND tm.installation_id = $1
JOIN teams t ON t.id = tm.team_id AND t.deleted_at IS NULL
WHERE d.installation_id = $1 AND d.day = ANY($2::date[])
GROUP BY tm.team_id, d.day
"""


# ------------------------------------------------------------------ cumulative histograms

CYCLE_STAGE_SERIES = ("cycle_time", "coding", "pickup", "review", "merge", "deploy", "time_to_approval")
CYCLE_SCALAR_SERIES = ("cycle:bots", "cycle:unreviewed", "cycle:unapproved")
LEAD_SERIES = "lead_time"
LEAD_SCALAR_SERIES = ("lead:bots", "lead:unknown", "lead:skew", "lead:released_committed")
HISTOGRAM_SERIES = CYCLE_STAGE_SERIES + CYCLE_SCALAR_SERIES + (LEAD_SERIES,) + LEAD_SCALAR_SERIES
ROLLUP_LOCK = 0x64726F6C  # "drol" + installation id: one rollup writer per installation at a time
HISTOGRAM_LOCK = 0x64686973  # "dhis" + installation id: one rebuild of an installation at a time

# (series, day, bucket, n, total) of the facts with key time in [$2, $3) (NULL: unbounded) of
# the repositories $4 (NULL: all): the build input, and what a disconnected repository adds.
_HIST_BOT_CYCLE = facts.bot_sql("f.author_login", "f.author_is_bot", 5, 6)
_HIST_BOT_LEAD = facts.bot_sql("c.author_login", "c.author_is_bot", 5, 6)
_STAGE_VALUES = ", ".join(f"('{c}', f.{c})" for c in CYCLE_STAGE_SERIES)
HISTOGRAM_DELTAS_SQL = f"""
WITH cyc AS (
    SELECT f.*, (f.merged_at AT TIME ZONE 'UTC')::date AS day, {_HIST_BOT_CYCLE} AS bot
    FROM pull_request_cycle f
    WHERE f.installation_id = $1 AND ($2::timestamptz IS NULL OR f.merged_at >= $2)
      AND ($3::timestamptz IS NULL OR f.merged_at < $3)
      AND ($4::bigint[] IS NULL OR f.repository_id = ANY($4::bigint[]))
),
lead AS (
    SELECT c.*, (c.released_at AT TIME ZONE 'UTC')::date AS day, {_HIST_BOT_LEAD} AS bot
    FROM release_commits c
    WHERE c.installation_id = $1 AND ($2::timestamptz IS NULL OR c.released_at >= $2)
      AND ($3::timestamptz IS NULL OR c.released_at < $3)
      AND ($4::bigint[] IS NULL OR c.repository_id = ANY($4::bigint[]))
)
SELECT s.series, f.day, metrics_bucket(s.v)::integer AS bucket, count(*) AS n, sum(s.v) AS total
FROM cyc f CROSS JOIN LATERAL (VALUES {_STAGE_VALUES}) AS s (series, v)
WHERE NOT f.bot AND s.v IS NOT NULL
GROUP BY 1, 2, 3
UNION ALL
SELECT s.series, f.day, NULL, sum(s.n)::bigint, 0::float8
FROM (SELECT day, count(*) FILTER (WHERE bot) AS bots,
             count(*) FILTER (WHERE NOT bot AND unreviewed) AS unreviewed,
             count(*) FILTER (WHERE NOT bot AND NOT unreviewed AND time_to_approval IS NULL) AS unapproved
      FROM cyc GROUP BY day) f
CROSS JOIN LATERAL (VALUES ('cycle:bots', f.bots), ('cycle:unreviewed', f.unreviewed),
                           ('cycle:unapproved', f.unapproved)) AS s (series, n)
WHERE s.n > 0
GROUP BY 1, 2
UNION ALL
SELECT 'lead_time', c.day, metrics_bucket(c.lead_hours), count(*), sum(c.lead_hours)
FROM lead c WHERE NOT c.bot AND c.lead_hours >= 0
GROUP BY 2, 3
UNION ALL
SELECT s.series, c.day, NULL, sum(s.n)::bigint, 0::float8
FROM (SELECT day, count(*) FILTER (WHERE bot) AS bots,
             count(*) FILTER (WHERE NOT bot AND committed_at IS NULL) AS unknown,
             count(*) FILTER (WHERE NOT bot AND lead_hours < 0) AS skew
      FROM lead GROUP BY day) c
CROSS JOIN LATERAL (VALUES ('lead:bots', c.bots), ('lead:unknown', c.unknown),
                           ('lead:skew', c.skew)) AS s (series, n)
WHERE s.n > 0
GROUP BY 1, 2
UNION ALL
SELECT 'lead:released_committed', (c.committed_at AT TIME ZONE 'UTC')::date, NULL, count(*), 0::float8
FROM release_commits c
WHERE c.installation_id = $1 AND c.committed_at IS NOT NULL
  AND ($2::timestamptz IS NULL OR c.committed_at >= $2)
  AND ($3::timestamptz IS NULL OR c.committed_at < $3)
  AND ($4::bigint[] IS NULL OR c.repository_id = ANY($4::bigint[]))
GROUP BY 2
"""
HISTOGRAM_BASE_SQL = """
SELECT s.series, h.n, h.total, h.buckets FROM unnest($2::text[]) AS s (series)
JOIN LATERAL (SELECT n, total, buckets FROM metric_histograms h
              WHERE h.installation_id = $1 AND h.series = s.series AND h.day < $3
              ORDER BY h.day DESC LIMIT 1) h ON true
"""


def accumulate(
    deltas: Iterable[tuple[str, date, int | None, int, float]],
    base: dict[str, tuple[int, float, list[int]]],
) -> list[tuple[str, date, int, float, list[int]]]:
    """Cumulative rows (series, day, n, total, per-bucket counts) from daily deltas on a base."""
    by_series: dict[str, dict[date, list[tuple[int | None, int, float]]]] = {}
    for series, day, bucket, n, total in deltas:
        by_series.setdefault(series, {}).setdefault(day, []).append((bucket, int(n), float(total or 0.0)))
    out = []
    for series in sorted(by_series):
        n, total, buckets = base.get(series, (0, 0.0, []))
        buckets = list(buckets)
        for day in sorted(by_series[series]):
            for bucket, count, subtotal in by_series[series][day]:
                n += count
                total += subtotal
                if bucket is not None:
                    if bucket >= len(buckets):
                        buckets.extend([0] * (bucket + 1 - len(buckets)))
                    buckets[bucket] += count
            out.append((series, day, n, total, list(buckets)))
    return out


async def refresh_histograms(
    conn: asyncpg.Connection, installation_id: int, since: date | None, settings: MetricsSettings
) -> int:
    """Rebuild the installation's cumulative histograms from `since` on (None: fully); a build
    with other bot settings, or none, is rebuilt fully. Returns whether it rebuilt fully."""
    key = facts.settings_key(settings)
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", HISTOGRAM_LOCK, installation_id & 0x7FFFFFFF)
    built = await conn.fetchval(
        "SELECT settings_key FROM metric_histogram_builds WHERE installation_id = $1", installation_id
    )
    if built != key:
        since = None
    base: dict[str, tuple[int, float, list[int]]] = {}
    if since is None:
        await conn.execute("DELETE FROM metric_histograms WHERE installation_id = $1", installation_id)
    else:
        await conn.execute(
            "DELETE FROM metric_histograms WHERE installation_id = $1 AND day >= $2", installation_id, since
        )
        for row in await conn.fetch(HISTOGRAM_BASE_SQL, installation_id, list(HISTOGRAM_SERIES), since):
            base[row["series"]] = (row["n"], row["total"], list(row["buckets"]))
    exclude, patterns = facts.bot_params(settings)
    deltas = await conn.fetch(
        HISTOGRAM_DELTAS_SQL,
        installation_id,
        day_start(since) if since is not None else None,
        None,
        None,
        exclude,
        patterns,
    )
    rows = accumulate(((d["series"], d["day"], d["bucket"], d["n"], d["total"]) for d in deltas), base)
    await conn.copy_records_to_table(
        "metric_histograms",
        records=[(installation_id, s, day, n, total, buckets, key) for s, day, n, total, buckets in rows],
        columns=["installation_id", "series", "day", "n", "total", "buckets", "settings_key"],
    )
    await conn.execute(
        """INSERT INTO metric_histogram_builds (installation_id, settings_key) VALUES ($1, $2)
           ON CONFLICT (installation_id) DO UPDATE SET settings_key = EXCLUDED.settings_key,
               built_at = now()""",
        installation_id,
        key,
    )
    return since is None


DELETE_DEVELOPER_TOTALS = "DELETE FROM developer_totals WHERE installation_id = $1 AND day >= $2"
_TOTAL_COLUMNS = (
    "prs_opened", "prs_merged", "reviews_given", "review_comments", "commits", "additions", "deletions",
    "cycle_time_hours_sum", "cycle_time_count",
)
# Cumulative developer_metrics from $2 on, each person continuing from their last row before $2.
INSERT_DEVELOPER_TOTALS = f"""
WITH people AS (SELECT DISTINCT user_id FROM developer_metrics WHERE installation_id = $1 AND day >= $2),
base AS (
    SELECT p.user_id, {", ".join(f"coalesce(b.{c}, 0) AS {c}" for c in _TOTAL_COLUMNS)}
    FROM people p LEFT JOIN LATERAL (
        SELECT * FROM developer_totals t WHERE t.installation_id = $1 AND t.user_id = p.user_id AND t.day < $2
        ORDER BY t.day DESC LIMIT 1) b ON true
)
INSERT INTO developer_totals (installation_id, user_id, day, {", ".join(_TOTAL_COLUMNS)})
SELECT $1, d.user_id, d.day, {", ".join(f"b.{c} + sum(d.{c}) OVER w" for c in _TOTAL_COLUMNS)}
FROM developer_metrics d JOIN base b ON b.user_id = d.user_id
WHERE d.installation_id = $1 AND d.day >= $2
WINDOW w AS (PARTITION BY d.user_id ORDER BY d.day)
"""


async def refresh_developer_totals(
    conn: asyncpg.Connection, installation_id: int, since: date | None
) -> None:
    """developer_totals from `since` on (None: fully), after developer_metrics."""
    since = since or date(1, 1, 1)
    await conn.execute(DELETE_DEVELOPER_TOTALS, installation_id, since)
    await conn.execute(INSERT_DEVELOPER_TOTALS, installation_id, since)


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
    exclude, patterns = facts.bot_params(settings)
    days = list(days)
    await conn.execute(DELETE_INSTALLATION_STATS, installation_id, days)
    await conn.execute(INSERT_INSTALLATION_STATS, installation_id, days)
    await conn.execute(DELETE_DEVELOPER_METRICS, installation_id, days)
    await conn.execute(INSERT_DEVELOPER_METRICS, installation_id, days, exclude, patterns)
    await conn.execute(DELETE_TEAM_METRICS, installation_id, days)
    await conn.execute(INSERT_TEAM_METRICS, installation_id, days)
    if days or full_histograms:
        since = None if full_histograms else min([*days, *([histograms_since] if histograms_since else [])])
        full = await refresh_histograms(conn, installation_id, since, settings)
        await refresh_developer_totals(conn, installation_id, None if full else min(days))


def parse_days(days: Iterable[str | date]) -> list[date]:
    return sorted({d if isinstance(d, date) else date.fromisoformat(d) for d in days})


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


async def _recompute_repository(
    conn: asyncpg.Connection, repo: asyncpg.Record, wanted: list[date], settings: MetricsSettings
) -> tuple[list[date], date | None]:
    """Facts and repository_stats of one repository; returns the days whose installation-wide
    rollups follow and the earliest day from which the cumulative histograms changed."""
    repository_id = repo["id"]
    releases, cuts, times, changed = await _refresh_releases(conn, repo, settings)
    start = day_start(wanted[0] - timedelta(days=DEPLOY_LOOKBACK_DAYS))
    end = day_start(wanted[-1] + timedelta(days=1))
    # A fact whose merged_at moves into the window leaves its old day: histograms from there.
    moved = await conn.fetchval(MOVED_FACTS_SQL, repository_id, start, end)
    await refresh_cycles(conn, repo, start, end, settings, releases, cuts, times)
    await refresh_sprints(conn, repository_id, day_start(wanted[0]), settings)
    await open_work.refresh(conn, repo["installation_id"], repository_id, settings)
    # Cycle facts of the look-back days changed too (deploy stage): their rollups follow.
    stat_days = sorted(
        set(wanted) | {wanted[0] - timedelta(days=i) for i in range(1, DEPLOY_LOOKBACK_DAYS + 1)}
    )
    exclude, patterns = facts.bot_params(settings)
    await conn.execute(
        UPSERT_REPOSITORY_STATS, repository_id, stat_days, repo["installation_id"], exclude, patterns
    )
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
