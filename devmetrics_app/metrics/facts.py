"""Load the pure calculators' input facts from raw rows (asyncpg, parameterised SQL).

Used where the raw rows are few (one repository's releases, one day's pull requests, one
milestone, the open-work snapshot) and by tests and the benchmark as the reference the
precomputed facts must equal. Long ranges never come through here: see `read/`.

Bot exclusion in SQL mirrors `bots.bot_rule`: GitHub's flag or a `[bot]` login, else the
organisation's globs translated to anchored case-insensitive regexes (`bot_params`).
"""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a $n parameter.
# ruff: noqa: S608

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from devmetrics_app.store.sql import bind

from .calc.builds import WorkflowRunFact
from .calc.cycle_time import DraftInterval, PullRequestFacts, ReviewFact
from .calc.dora import CommitFact, DeploymentFact, DeploymentStatusFact
from .calc.throughput import PullRequestSnapshot
from .calc.velocity import IssueFact, Sprint
from .explain import Period
from .settings import MetricsSettings

DRAFT_START_KINDS = ("converted_to_draft",)
DRAFT_END_KINDS = ("ready_for_review",)
SETTINGS_SQL = """
SELECT o.settings FROM installations i JOIN organizations o ON o.id = i.account_id
WHERE i.id = $1"""


def glob_regex(pattern: str) -> str:
    """An fnmatch glob as an anchored POSIX regex (PostgreSQL `~*`), same matches as fnmatchcase
    on lower-cased input."""
    out = ["^"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(r"\[")
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(ch) if not ch.isalnum() else ch)
        i += 1
    out.append("$")
    return "".join(out)


def bot_params(settings: MetricsSettings) -> tuple[bool, list[str]]:
    """($exclude, $patterns) for `bot_sql`."""
    return settings.exclude_bots, [glob_regex(p.lower()) for p in settings.bot_patterns]


def settings_key(settings: MetricsSettings) -> str:
    """What stored rollups (histograms, open work) depend on: the bot rule."""
    exclude, patterns = bot_params(settings)
    return f"exclude_bots={exclude};patterns={chr(31).join(patterns)}"


# A review by the PR's own author (a comment on their own PR) is not a review given: people
# figures count a review `r` only when this holds.
NOT_SELF_REVIEW_SQL = """NOT EXISTS (
    SELECT 1 FROM pull_requests sp WHERE sp.id = r.pull_request_id
      AND (sp.author_id = r.reviewer_id OR lower(sp.author_login) = lower(r.reviewer_login)))"""


def bot_sql(login: str, flag: str, exclude_param: int | str, patterns_param: int | str) -> str:
    """SQL boolean: is this account a bot under the settings (see `bot_params`). The parameters
    are positions ($n) or, as strings, names for store/sql.named (:name)."""
    exclude, patterns = (f"${p}" if isinstance(p, int) else f":{p}" for p in (exclude_param, patterns_param))
    return (
        f"({exclude}::boolean AND ({flag} OR lower(coalesce({login}, '')) LIKE '%[bot]'"
        f" OR lower(coalesce({login}, '')) ~ ANY({patterns}::text[])))"
    )


async def load_settings(conn: asyncpg.Connection, installation_id: int) -> MetricsSettings:
    row = await conn.fetchrow(SETTINGS_SQL, installation_id)
    return MetricsSettings.from_json(row["settings"] if row else None)


# ------------------------------------------------------------------ pull requests


@dataclass(frozen=True)
class PullRequestRow:
    """What the cycle-time facts table keeps beside the calculator's output."""

    facts: PullRequestFacts
    installation_id: int
    author_id: int | None
    additions: int | None
    deletions: int | None


PULL_REQUESTS_SQL = """
SELECT p.id, p.number, p.repository_id, p.installation_id, p.title, p.author_id, p.author_login,
       coalesce(u.is_bot, false) OR lower(coalesce(p.author_login, '')) LIKE '%[bot]' AS author_is_bot,
       p.github_created_at, p.ready_for_review_at, p.first_commit_at, p.merged_at,
       p.merge_commit_sha, p.head_ref, p.additions, p.deletions
FROM pull_requests p LEFT JOIN users u ON u.id = p.author_id
WHERE p.id = ANY($1::bigint[])
"""
TIMELINE_SQL = """
SELECT pull_request_id, kind, occurred_at, details FROM pull_request_events
WHERE pull_request_id = ANY($1::bigint[])
  AND kind IN ('opened', 'converted_to_draft', 'ready_for_review')
ORDER BY pull_request_id, occurred_at
"""
REVIEWS_SQL = """
SELECT r.pull_request_id, r.reviewer_login, r.state, r.submitted_at,
       coalesce(u.is_bot, false) AS reviewer_is_bot
FROM pull_request_reviews r LEFT JOIN users u ON u.id = r.reviewer_id
WHERE r.pull_request_id = ANY($1::bigint[])
"""
# First commit of each branch of a repository: the PR's head branch names its commits.
BRANCH_FIRST_COMMIT_SQL = """
SELECT b.branch, min(c.committed_at) AS first_at
FROM commits c CROSS JOIN LATERAL unnest(c.branches) AS b (branch)
WHERE c.repository_id = $1 AND b.branch = ANY($2::text[])
GROUP BY b.branch
"""


def draft_intervals(created_at: datetime, events: Sequence[asyncpg.Record]) -> tuple[DraftInterval, ...]:
    """Draft intervals from the timeline: opened as draft or converted → ready_for_review."""
    intervals: list[DraftInterval] = []
    start: datetime | None = None
    for event in events:
        kind = event["kind"]
        if kind == "opened" and (event["details"] or {}).get("draft"):
            start = start or event["occurred_at"]
        elif kind in DRAFT_START_KINDS:
            start = start or event["occurred_at"]
        elif kind in DRAFT_END_KINDS and start is not None:
            intervals.append((start, event["occurred_at"]))
            start = None
    if start is not None:
        intervals.append((start, None))
    return tuple(intervals)


async def load_pull_requests(conn: asyncpg.Connection, ids: Sequence[int]) -> list[PullRequestRow]:
    """Cycle-time facts of the given PRs (timeline, reviews and head-branch first commit)."""
    if not ids:
        return []
    rows = await conn.fetch(PULL_REQUESTS_SQL, list(ids))
    timeline: dict[int, list[asyncpg.Record]] = {}
    for event in await conn.fetch(TIMELINE_SQL, list(ids)):
        timeline.setdefault(event["pull_request_id"], []).append(event)
    reviews: dict[int, list[ReviewFact]] = {}
    for r in await conn.fetch(REVIEWS_SQL, list(ids)):
        reviews.setdefault(r["pull_request_id"], []).append(
            ReviewFact(r["reviewer_login"], r["state"], r["submitted_at"], r["reviewer_is_bot"])
        )
    first_commits: dict[tuple[int, str], datetime] = {}
    by_repo: dict[int, set[str]] = {}
    for row in rows:
        if row["first_commit_at"] is None and row["head_ref"]:
            by_repo.setdefault(row["repository_id"], set()).add(row["head_ref"])
    for repository_id, branches in by_repo.items():
        for b in await conn.fetch(BRANCH_FIRST_COMMIT_SQL, repository_id, sorted(branches)):
            first_commits[(repository_id, b["branch"])] = b["first_at"]
    out = []
    for row in rows:
        first_commit = row["first_commit_at"] or first_commits.get((row["repository_id"], row["head_ref"]))
        facts = PullRequestFacts(
            id=row["id"],
            number=row["number"],
            repository_id=row["repository_id"],
            author_login=row["author_login"],
            author_is_bot=row["author_is_bot"],
            created_at=row["github_created_at"],
            ready_for_review_at=row["ready_for_review_at"],
            draft_intervals=draft_intervals(row["github_created_at"], timeline.get(row["id"], [])),
            first_commit_at=first_commit,
            merged_at=row["merged_at"],
            merge_commit_sha=row["merge_commit_sha"],
            reviews=tuple(reviews.get(row["id"], [])),
            title=row["title"],
        )
        out.append(
            PullRequestRow(
                facts, row["installation_id"], row["author_id"], row["additions"], row["deletions"]
            )
        )
    return out


# The open pull requests of a scope (:installation, :repositories ids or NULL for every
# connected one), as p with its author u: the snapshot figures' rows (also metrics/open_work.py).
# Named parameters (store/sql.bind): the queries it is part of add their own.
OPEN_PULL_REQUESTS = """
FROM pull_requests p
JOIN repositories r ON r.id = p.repository_id
LEFT JOIN users u ON u.id = p.author_id
WHERE p.installation_id = :installation AND p.state = 'OPEN'
  AND r.installation_id = :installation AND r.connected AND r.removed_at IS NULL
  AND (:repositories::bigint[] IS NULL OR p.repository_id = ANY(:repositories::bigint[]))
"""
SNAPSHOT_SQL = (
    """SELECT p.id, p.number, p.repository_id, p.title, p.state, p.author_login, p.author_id,
       coalesce(u.is_bot, false) AS author_is_bot, p.github_created_at, p.draft, p.merged_at,
       p.closed_at, p.requested_reviewers"""
    + OPEN_PULL_REQUESTS
)


async def open_pull_requests(
    conn: asyncpg.Connection, installation_id: int, repository_ids: Sequence[int] | None
) -> list[tuple[PullRequestSnapshot, int | None]]:
    """Open PRs of the scope (a snapshot: review load and WIP), with each author's id."""
    repositories = list(repository_ids) if repository_ids is not None else None
    params = {"installation": installation_id, "repositories": repositories}
    rows = await conn.fetch(*bind(SNAPSHOT_SQL, params))
    bots = await _bot_logins(
        conn, [r["login"] for row in rows for r in row["requested_reviewers"] if r.get("kind") == "user"]
    )
    out = []
    for row in rows:
        people = tuple(
            (r["login"], r["login"] in bots)
            for r in row["requested_reviewers"]
            if r.get("kind") == "user" and r.get("login")
        )
        teams = tuple(r["login"] for r in row["requested_reviewers"] if r.get("kind") == "team")
        out.append(
            (
                PullRequestSnapshot(
                    id=row["id"],
                    number=row["number"],
                    repository_id=row["repository_id"],
                    title=row["title"],
                    state=row["state"],
                    author_login=row["author_login"],
                    author_is_bot=row["author_is_bot"],
                    created_at=row["github_created_at"],
                    draft=row["draft"],
                    merged_at=row["merged_at"],
                    closed_at=row["closed_at"],
                    requested_reviewers=people,
                    requested_teams=teams,
                ),
                row["author_id"],
            )
        )
    return out


async def _bot_logins(conn: asyncpg.Connection, logins: Sequence[str]) -> set[str]:
    if not logins:
        return set()
    rows = await conn.fetch(
        "SELECT login FROM users WHERE login = ANY($1::text[]) AND is_bot", sorted(set(logins))
    )
    return {r["login"] for r in rows}


# ------------------------------------------------------------------ issues and sprints

ISSUE_COLUMNS = """
i.id, i.number, i.repository_id, i.title, i.state, i.github_created_at, i.closed_at,
i.state_reason, i.labels, i.milestone_id, i.author_login,
coalesce(u.is_bot, false) AS author_is_bot,
coalesce((SELECT array_agg(a.login ORDER BY a.id) FROM users a WHERE a.id = ANY(i.assignee_ids)),
         '{}') AS assignee_logins,
coalesce((SELECT array_agg(a.is_bot ORDER BY a.id) FROM users a WHERE a.id = ANY(i.assignee_ids)),
         '{}') AS assignee_bots
"""


def issue_fact(row: asyncpg.Record) -> IssueFact:
    return IssueFact(
        id=row["id"],
        number=row["number"],
        repository_id=row["repository_id"],
        title=row["title"],
        state=row["state"],
        created_at=row["github_created_at"],
        closed_at=row["closed_at"],
        state_reason=row["state_reason"],
        labels=tuple(row["labels"]),
        milestone_id=row["milestone_id"],
        author_login=row["author_login"],
        author_is_bot=row["author_is_bot"],
        assignee_logins=tuple(row["assignee_logins"]),
        assignees_are_bots=tuple(row["assignee_bots"]),
    )


async def milestone_issues(
    conn: asyncpg.Connection, milestone_ids: Sequence[int]
) -> dict[int, list[IssueFact]]:
    rows = await conn.fetch(
        f"""SELECT {ISSUE_COLUMNS} FROM issues i LEFT JOIN users u ON u.id = i.author_id
            WHERE i.milestone_id = ANY($1::bigint[]) AND i.deleted_at IS NULL
              AND i.transferred_to IS NULL""",
        list(milestone_ids),
    )
    out: dict[int, list[IssueFact]] = {}
    for row in rows:
        out.setdefault(row["milestone_id"], []).append(issue_fact(row))
    return out


MILESTONES_SQL = """
SELECT id, installation_id, repository_id, title, state, github_created_at, due_on, closed_at
FROM milestones WHERE id = ANY($1::bigint[]) AND deleted_at IS NULL
"""


def sprint_bounds(row: asyncpg.Record) -> tuple[datetime, datetime]:
    """A milestone's sprint: created → due date, else close date, else creation (still open)."""
    starts = row["github_created_at"] or row["due_on"] or row["closed_at"]
    ends = row["due_on"] or row["closed_at"] or starts
    return starts, ends


async def load_sprints(
    conn: asyncpg.Connection, milestone_ids: Sequence[int]
) -> list[tuple[Sprint, asyncpg.Record]]:
    rows = await conn.fetch(MILESTONES_SQL, list(milestone_ids))
    issues = await milestone_issues(conn, [r["id"] for r in rows])
    out = []
    for row in rows:
        starts, ends = sprint_bounds(row)
        if starts is None:
            continue
        out.append(
            (
                Sprint(row["id"], row["title"], row["state"], starts, ends, tuple(issues.get(row["id"], []))),
                row,
            )
        )
    return out


OPEN_ASSIGNED_ISSUES_SQL = """
SELECT i.id, i.number, i.repository_id, i.title, i.state, i.github_created_at, i.closed_at,
       i.state_reason, i.labels, i.milestone_id, i.author_login,
       coalesce(u.is_bot, false) AS author_is_bot,
       coalesce(a.logins, '{}') AS assignee_logins, coalesce(a.bots, '{}') AS assignee_bots
FROM issues i
JOIN repositories r ON r.id = i.repository_id
LEFT JOIN users u ON u.id = i.author_id
LEFT JOIN LATERAL (SELECT array_agg(x.login ORDER BY x.id) AS logins,
                          array_agg(x.is_bot ORDER BY x.id) AS bots
                   FROM users x WHERE x.id = ANY(i.assignee_ids)) a ON true
WHERE i.installation_id = $1 AND i.state = 'OPEN' AND i.deleted_at IS NULL
  AND cardinality(i.assignee_ids) > 0
  AND r.installation_id = $1 AND r.connected AND r.removed_at IS NULL
  AND ($2::bigint[] IS NULL OR i.repository_id = ANY($2::bigint[]))
"""


async def open_assigned_issues(
    conn: asyncpg.Connection, installation_id: int, repository_ids: Sequence[int] | None
) -> list[IssueFact]:
    """Open issues with assignees (the WIP snapshot); one users lookup per issue."""
    rows = await conn.fetch(
        OPEN_ASSIGNED_ISSUES_SQL,
        installation_id,
        list(repository_ids) if repository_ids is not None else None,
    )
    return [issue_fact(r) for r in rows]


# ------------------------------------------------------------------ releases (one repository)

DEPLOYMENTS_SQL = """
SELECT d.id, d.repository_id, d.environment, d.sha, d.github_created_at,
       coalesce(array_agg(s.state ORDER BY s.github_created_at, s.id) FILTER (WHERE s.id IS NOT NULL),
                '{}') AS states,
       coalesce(array_agg(s.github_created_at ORDER BY s.github_created_at, s.id)
                FILTER (WHERE s.id IS NOT NULL), '{}') AS status_times
FROM deployments d LEFT JOIN deployment_statuses s ON s.deployment_id = d.id
WHERE d.repository_id = $1
GROUP BY d.id
"""
RUNS_SQL = """
SELECT w.id, w.repository_id, w.name, w.head_branch, w.head_sha, w.status, w.conclusion,
       w.github_created_at, w.completed_at, w.github_updated_at, w.event,
       u.login AS actor_login, coalesce(u.is_bot, false) AS actor_is_bot
FROM workflow_runs w LEFT JOIN users u ON u.id = w.actor_id
WHERE w.repository_id = $1
"""


def run_fact(row: asyncpg.Record) -> WorkflowRunFact:
    return WorkflowRunFact(
        id=row["id"],
        repository_id=row["repository_id"],
        name=row["name"],
        head_branch=row["head_branch"],
        head_sha=row["head_sha"],
        status=row["status"],
        conclusion=row["conclusion"],
        created_at=row["github_created_at"] or row["github_updated_at"],
        completed_at=row["completed_at"],
        updated_at=row["github_updated_at"],
        event=row["event"],
        actor_login=row["actor_login"],
        actor_is_bot=row["actor_is_bot"],
    )


async def repository_deployments(conn: asyncpg.Connection, repository_id: int) -> list[DeploymentFact]:
    """A repository's deployments (shas empty: containment is `cut_at` in the facts)."""
    return [
        DeploymentFact(
            r["id"],
            r["repository_id"],
            r["environment"],
            r["sha"],
            r["github_created_at"],
            tuple(DeploymentStatusFact(s, t) for s, t in zip(r["states"], r["status_times"], strict=True)),
        )
        for r in await conn.fetch(DEPLOYMENTS_SQL, repository_id)
    ]


async def repository_runs(conn: asyncpg.Connection, repository_id: int) -> list[WorkflowRunFact]:
    return [run_fact(r) for r in await conn.fetch(RUNS_SQL, repository_id)]


def reached_at_sql(alias: str) -> str:
    """When commit `alias` reached the default branch (its push there; else, for commits that
    came by history import, its commit time): what a release's cut compares."""
    return f"coalesce({alias}.default_branch_pushed_at, {alias}.committed_at, {alias}.authored_at)"


async def commit_times(
    conn: asyncpg.Connection, repository_id: int, shas: Sequence[str]
) -> dict[str, datetime]:
    """When each commit reached the default branch (reached_at_sql)."""
    rows = await conn.fetch(
        f"""SELECT sha, {reached_at_sql("c")} AS at FROM commits c
           WHERE repository_id = $1 AND sha = ANY($2::text[])""",
        repository_id,
        sorted(set(shas)),
    )
    return {r["sha"]: r["at"] for r in rows if r["at"] is not None}


async def default_branch_commits(
    conn: asyncpg.Connection, repository_id: int, branch: str
) -> list[CommitFact]:
    rows = await conn.fetch(
        """SELECT c.sha, c.repository_id, c.committed_at, c.authored_at, c.author_login,
                  coalesce((SELECT bool_or(u.is_bot) FROM users u
                            WHERE lower(u.login) = lower(c.author_login)), false) AS is_bot
           FROM commits c
           WHERE c.repository_id = $1 AND $2 = ANY(c.branches)""",
        repository_id,
        branch,
    )
    return [
        CommitFact(
            r["sha"], r["repository_id"], r["committed_at"], r["authored_at"], r["author_login"], r["is_bot"]
        )
        for r in rows
    ]


def day_bounds(period: Period) -> tuple[datetime, datetime]:
    return period.start, period.end
