"""Run a history import for one repository: resumable, observable, racing safely with webhooks.

Per kind (milestones first: pull requests name theirs by number) an `import_cursors` row holds
where the import stands. Every page's rows and the cursor that moves past them are committed in
one transaction, so a crash at any moment leaves either both or neither: a resumed import
starts at the first page not committed, never skipping one and re-reading at most the page that
was in flight. The cursor update is a compare-and-set, so two importers of the same repository
(an installation job and an API request) cannot both advance it. Rows go through the webhook
handlers' newest-wins upserts, so an older snapshot read by the import never overwrites a newer
webhook. A kind that fails (one endpoint answering 500) has its error recorded on its row and the
other kinds go on; the import then raises `ImportIncomplete`, and a retry redoes only the kinds
not done.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import aiohttp
import asyncpg
from gidgethub import GitHubException, HTTPException
from gidgethub.abc import GitHubAPI

from devmetrics_app.importer import graphql_pulls, rest_kinds
from devmetrics_app.importer.rest_kinds import Page, Target
from devmetrics_app.store import pull_requests
from devmetrics_app.store.lock_order import lock_payload_rows
from devmetrics_app.store.repositories import upsert_repository
from devmetrics_app.timeutil import parse_ts, utcnow

DEFAULT_DAYS = 90
KINDS = ("milestones", "pull_requests", "issues", "commits", "workflow_runs", "deployments")
# A page's write can meet a webhook transaction touching the same rows in another order.
WRITE_ATTEMPTS = 3
RETRYABLE_WRITE_ERRORS = (asyncpg.exceptions.DeadlockDetectedError,
                          asyncpg.exceptions.SerializationError)
ERROR_MAX_CHARS = 2000

START_CURSOR = """
INSERT INTO import_cursors (repository_id, kind, installation_id, since)
VALUES ($1, $2, $3, $4)
ON CONFLICT (repository_id, kind) DO UPDATE
SET installation_id = EXCLUDED.installation_id, since = EXCLUDED.since, cursor = NULL, items = 0,
    done = false, error = NULL, started_at = now(), updated_at = now()
WHERE $5
"""

# Lock the kind's row, provided nobody moved its cursor since we read it (compare-and-set).
LOCK_CURSOR = """
SELECT items FROM import_cursors
WHERE repository_id = $1 AND kind = $2 AND cursor IS NOT DISTINCT FROM $3 AND NOT done
FOR UPDATE
"""

ADVANCE_CURSOR = """
UPDATE import_cursors
SET cursor = $3, items = items + $4, done = $5, error = NULL, updated_at = now()
WHERE repository_id = $1 AND kind = $2
RETURNING items
"""

RECORD_ERROR = """
UPDATE import_cursors SET error = $3, updated_at = now() WHERE repository_id = $1 AND kind = $2
"""


class ImportConflict(RuntimeError):
    """Another import of this repository advanced the cursor first; it carries on, we stop."""


class ImportIncomplete(RuntimeError):
    """Some kinds failed (each error is on its cursor row); the others were imported."""

    def __init__(self, full_name: str, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__(f"import of {full_name} incomplete: " +
                         "; ".join(f"{kind}: {error}" for kind, error in self.errors.items()))


# What one kind's endpoint can fail with (a 500, a dropped connection) without the others being
# affected. Anything else (a rate limit, a conflict, an unavailable installation) stops the import.
KIND_ERRORS = (GitHubException, aiohttp.ClientError, TimeoutError)


def describe(exc: BaseException) -> str:
    status = f"HTTP {exc.status_code} " if isinstance(exc, HTTPException) else ""
    return f"{type(exc).__name__}: {status}{exc}"[:ERROR_MAX_CHARS]


@dataclass(frozen=True)
class KindProgress:
    """What a progress callback hears after every committed page."""

    repository_id: int
    kind: str
    items: int
    done: bool


ProgressCallback = Callable[[KindProgress], Awaitable[None] | None]


@dataclass
class ImportSummary:
    repository_id: int
    full_name: str
    items: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # kind -> what stopped it
    # Pages committed by this run (a resumed run counts its own only) and the GraphQL points
    # GitHub charged for them.
    pages: int = 0
    graphql_cost: int = 0


class PageSource(Protocol):
    def __call__(self, gh: GitHubAPI, target: Target, since: datetime,
                 cursor: str | None) -> AsyncGenerator[Page, None]: ...


Writer = Callable[[asyncpg.Connection, Target, Sequence[Any]], Awaitable[int]]


# ----------------------------------------------------------------------------- pull requests

def pull_request_source(milestone_ids: Mapping[int, int]) -> PageSource:
    """Pages of the GraphQL pull request import, in the runner's Page shape."""

    async def pages(gh: GitHubAPI, target: Target, since: datetime,
                    cursor: str | None) -> AsyncGenerator[Page, None]:
        endpoint = graphql_pulls.graphql_endpoint(gh.base_url)
        while True:
            fetched = await graphql_pulls.fetch_pull_request_page(
                gh, owner=target.owner, name=target.name, after=cursor, since=since,
                repository_id=target.repository_id, milestone_ids=milestone_ids,
                endpoint=endpoint)
            done = fetched.reached_since or not fetched.has_next_page
            cursor = fetched.end_cursor or cursor
            yield Page(records=fetched.pulls, cursor=cursor, done=done,
                       cost=fetched.cost)
            if done:
                return

    return pages


async def write_pull_requests(conn: asyncpg.Connection, target: Target,
                              records: Sequence[Any]) -> int:
    """The PR, its opening and closing on the timeline, and its reviews (versioned by the PR's
    updated_at, the per-PR clock the review webhooks use too)."""
    inst, repo_id = target.installation_id, target.repository_id
    for pr, reviews in records:
        await pull_requests.upsert_pull_request(conn, inst, repo_id, pr)
        pr_id = int(pr["id"])
        author_id = (pr.get("user") or {}).get("id")
        await pull_requests.record_event(conn, pull_request_id=pr_id, installation_id=inst,
                                         kind="opened", occurred_at=parse_ts(pr["created_at"]),
                                         actor_id=author_id)
        if pr.get("closed_at"):
            merged = bool(pr.get("merged_at"))
            await pull_requests.record_event(
                conn, pull_request_id=pr_id, installation_id=inst,
                kind="merged" if merged else "closed",
                occurred_at=parse_ts(pr.get("merged_at") or pr["closed_at"]),
                actor_id=(pr.get("merged_by") or {}).get("id") if merged else None)
        version_at = parse_ts(pr["updated_at"])
        for review in reviews:
            await pull_requests.upsert_review(conn, inst, repo_id, pr_id, review,
                                              version_at=version_at)
    return len(records)


# ----------------------------------------------------------------------------- kinds

def _kinds(milestone_ids: Mapping[int, int]) -> dict[str, tuple[PageSource, Writer]]:
    return {
        "milestones": (rest_kinds.milestone_pages, rest_kinds.write_milestones),
        "pull_requests": (pull_request_source(milestone_ids), write_pull_requests),
        "issues": (rest_kinds.issue_pages, rest_kinds.write_issues),
        "commits": (rest_kinds.commit_pages, rest_kinds.write_commits),
        "workflow_runs": (rest_kinds.workflow_run_pages, rest_kinds.write_workflow_runs),
        "deployments": (rest_kinds.deployment_pages, rest_kinds.write_deployments),
    }


async def _resolve(pool: asyncpg.Pool, gh: GitHubAPI, installation_id: int,
                   repository: Mapping[str, Any] | str) -> Target:
    """Store the repository from its full REST object (fetched unless we were given one): the
    default branch and owner are needed, and the row must exist before its children."""
    if isinstance(repository, str) or "default_branch" not in repository \
            or "updated_at" not in repository:
        full_name = repository if isinstance(repository, str) else repository["full_name"]
        owner, name = full_name.split("/", 1)
        repository = await gh.getitem("/repos/{owner}/{repo}", {"owner": owner, "repo": name})
    async with pool.acquire() as conn:
        repository_id = await upsert_repository(conn, installation_id, repository)
    owner, name = str(repository["full_name"]).split("/", 1)
    return Target(installation_id=installation_id, repository_id=repository_id, owner=owner,
                  name=name, default_branch=str(repository.get("default_branch") or "main"))


async def _start(pool: asyncpg.Pool, target: Target, since: datetime) -> dict[str, asyncpg.Record]:
    """Resume an unfinished import as it was (same window); start afresh after a finished one."""
    async with pool.acquire() as conn, conn.transaction():
        rows = {r["kind"]: r for r in await conn.fetch(
            "SELECT * FROM import_cursors WHERE repository_id = $1 FOR UPDATE",
            target.repository_id)}
        finished = set(rows) >= set(KINDS) and all(rows[k]["done"] for k in KINDS)
        if rows and not finished:
            since = min(r["since"] for r in rows.values() if r["since"] is not None)
        for kind in KINDS:
            await conn.execute(START_CURSOR, target.repository_id, kind, target.installation_id,
                               since, finished)
        return {r["kind"]: r for r in await conn.fetch(
            "SELECT * FROM import_cursors WHERE repository_id = $1", target.repository_id)}


async def _commit_page(pool: asyncpg.Pool, target: Target, kind: str, previous: str | None,
                       page: Page, write: Writer) -> tuple[int, int]:
    """Write a page's rows and move the cursor past them, atomically. Returns (written, total)."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            async with pool.acquire() as conn, conn.transaction():
                locked = await conn.fetchval(LOCK_CURSOR, target.repository_id, kind, previous)
                if locked is None:
                    raise ImportConflict(f"import of {target.owner}/{target.name} {kind} moved on")
                # The same lock order as webhook deliveries, which write the same people.
                await lock_payload_rows(conn, list(page.records), repository_ids=[target.repository_id])
                written = await write(conn, target, page.records)
                total = await conn.fetchval(ADVANCE_CURSOR, target.repository_id, kind,
                                            page.cursor, written, page.done)
                return written, int(total)
        except RETRYABLE_WRITE_ERRORS:
            if attempt == WRITE_ATTEMPTS:
                raise
            await asyncio.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


async def _notify(progress: ProgressCallback | None, event: KindProgress) -> None:
    if progress is None:
        return
    result = progress(event)
    if inspect.isawaitable(result):
        await result


async def _import_kind(pool: asyncpg.Pool, gh: GitHubAPI, target: Target, kind: str,
                       row: asyncpg.Record, source: PageSource, write: Writer,
                       summary: ImportSummary, progress: ProgressCallback | None) -> None:
    cursor: str | None = row["cursor"]
    pages = source(gh, target, row["since"], cursor)
    try:
        async for page in pages:
            written, total = await _commit_page(pool, target, kind, cursor, page, write)
            cursor = page.cursor
            summary.items[kind] = summary.items.get(kind, 0) + written
            summary.pages += 1
            summary.graphql_cost += page.cost
            await _notify(progress, KindProgress(target.repository_id, kind, total, page.done))
            if page.done:
                return
    finally:
        await pages.aclose()


async def import_repository(
    pool: asyncpg.Pool,
    gh: GitHubAPI,
    *,
    installation_id: int,
    repository: Mapping[str, Any] | str,
    days: int = DEFAULT_DAYS,
    progress: ProgressCallback | None = None,
) -> ImportSummary:
    """Import the last `days` of a repository's history through the installation client `gh`.

    Safe to call again after any failure: it resumes where the committed cursors say. Once an
    import has finished, calling it again starts a new one. A kind's failure is recorded on its
    cursor row (shown by progress_for); after a GitHub or transport error the other kinds carry
    on and `ImportIncomplete` is raised at the end for the job system to retry. Anything else
    (a rate limit every kind would meet, a conflict) stops the import at once."""
    target = await _resolve(pool, gh, installation_id, repository)
    rows = await _start(pool, target, utcnow() - timedelta(days=days))
    async with pool.acquire() as conn:
        milestone_ids = {r["number"]: r["id"] for r in await conn.fetch(
            "SELECT number, id FROM milestones WHERE repository_id = $1", target.repository_id)}
    summary = ImportSummary(target.repository_id, f"{target.owner}/{target.name}")
    for kind, (source, write) in _kinds(milestone_ids).items():
        if rows[kind]["done"]:
            continue
        if kind == "pull_requests":  # milestones were just imported: refresh the map
            async with pool.acquire() as conn:
                milestone_ids.update({r["number"]: r["id"] for r in await conn.fetch(
                    "SELECT number, id FROM milestones WHERE repository_id = $1",
                    target.repository_id)})
        try:
            await _import_kind(pool, gh, target, kind, rows[kind], source, write, summary, progress)
        except KIND_ERRORS as exc:
            summary.errors[kind] = describe(exc)
            await pool.execute(RECORD_ERROR, target.repository_id, kind, summary.errors[kind])
        except (ImportConflict, asyncio.CancelledError):
            raise
        except Exception as exc:
            await pool.execute(RECORD_ERROR, target.repository_id, kind, describe(exc))
            raise
    if summary.errors:
        raise ImportIncomplete(summary.full_name, summary.errors)
    return summary


async def progress_for(conn: asyncpg.Connection, repository_id: int) -> dict[str, Any]:
    """The import's state for `GET /api/repositories/:id`: overall and per kind."""
    rows = await conn.fetch(
        """SELECT kind, items, done, since, error, started_at, updated_at
           FROM import_cursors WHERE repository_id = $1""", repository_id)
    if not rows:
        return {"state": "not_started", "items": 0, "kinds": {}}
    by_kind = {r["kind"]: r for r in rows}
    kinds = {
        kind: {"items": r["items"], "done": r["done"], "error": r["error"]}
        for kind in (*KINDS, *sorted(set(by_kind) - set(KINDS))) if (r := by_kind.get(kind))
    }
    if all(r["done"] for r in rows):
        state = "done"
    elif any(r["error"] for r in rows if not r["done"]):
        state = "failed"
    else:
        state = "running"
    return {
        "state": state,
        "items": sum(r["items"] for r in rows),
        "kinds_done": sum(1 for r in rows if r["done"]),
        "kinds_total": len(rows),
        "since": min(r["since"] for r in rows if r["since"]).isoformat()
        if any(r["since"] for r in rows) else None,
        "started_at": min(r["started_at"] for r in rows).isoformat(),
        "updated_at": max(r["updated_at"] for r in rows).isoformat(),
        "kinds": kinds,
    }
