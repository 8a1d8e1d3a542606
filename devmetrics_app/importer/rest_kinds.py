"""The REST-imported kinds: commits, issues, milestones, workflow runs, deployments.

Each kind yields pages of at most PER_PAGE GitHub objects together with the page number to
resume from, so the runner can commit a page's rows and its cursor together. The lists are
read in orders where concurrent changes on GitHub can only push items *down* (newest first,
or a fixed order): a resumed page number may then re-read a few items (harmless, every write
is an upsert) but never skips one. Live changes during an import arrive as webhooks anyway.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from gidgethub.abc import GitHubAPI

from devmetrics_app.store import ci, deployments, issues
from devmetrics_app.store.commits import insert_push_commits
from devmetrics_app.store.users import upsert_user
from devmetrics_app.timeutil import parse_ts

PER_PAGE = 100  # REST's maximum page size
FIRST_PAGE = 1
REPO = "/repos/{owner}/{repo}"
COMMITS_URL = REPO + "/commits{?sha,since,per_page,page}"
ISSUES_URL = REPO + "/issues{?state,since,sort,direction,per_page,page}"
MILESTONES_URL = REPO + "/milestones{?state,sort,direction,per_page,page}"
RUNS_URL = REPO + "/actions/runs{?created,per_page,page}"
DEPLOYMENTS_URL = REPO + "/deployments{?per_page,page}"
STATUSES_URL = REPO + "/deployments/{deployment_id}/statuses{?per_page}"
RUNS_KEY = "workflow_runs"  # /actions/runs wraps its list: {"total_count", "workflow_runs"}

# REST commits carry the author's account id, which push payloads lack; merges have 2 parents.
NOTE_COMMIT_DETAILS = """
UPDATE commits AS c
SET author_id = COALESCE(d.author_id, c.author_id), is_merge = d.is_merge
FROM unnest($2::text[], $3::bigint[], $4::boolean[]) AS d (sha, author_id, is_merge)
WHERE c.repository_id = $1 AND c.sha = d.sha
  AND (c.author_id IS DISTINCT FROM COALESCE(d.author_id, c.author_id) OR c.is_merge <> d.is_merge)
"""


@dataclass(frozen=True)
class Target:
    """The repository being imported and whom its rows belong to."""

    installation_id: int
    repository_id: int
    owner: str
    name: str
    default_branch: str

    @property
    def url_vars(self) -> dict[str, str]:
        return {"owner": self.owner, "repo": self.name}


@dataclass
class Page:
    """Records to write, the cursor to store with them, and whether the kind is finished."""

    records: list[Any]
    cursor: str | None
    done: bool
    cost: int = 0  # GraphQL points GitHub charged for the page


async def rest_pages(
    gh: GitHubAPI, url: str, url_vars: Mapping[str, Any], *, cursor: str | None,
    iterable_key: str | None = None,
) -> AsyncGenerator[Page, None]:
    """Pages of a Link-paginated list, starting at the stored page number.

    gidgethub's getiter follows the Link headers but hides page boundaries; with per_page=100
    every page but the last is full, so 100 items are one page. The next page is only requested
    once the consumer has committed this one."""
    page = int(cursor) if cursor else FIRST_PAGE
    chunk: list[Any] = []
    items = gh.getiter(url, {**url_vars, "per_page": PER_PAGE, "page": page},
                       iterable_key=iterable_key)
    async with contextlib.aclosing(items):
        async for item in items:
            chunk.append(item)
            if len(chunk) == PER_PAGE:
                page += 1
                yield Page(records=chunk, cursor=str(page), done=False)
                chunk = []
    yield Page(records=chunk, cursor=str(page), done=True)


# ----------------------------------------------------------------------------- milestones

def milestone_pages(gh: GitHubAPI, target: Target, since: datetime,
                    cursor: str | None) -> AsyncGenerator[Page, None]:
    """Every milestone, whatever its age: there are few, and an old open one still burns down."""
    del since
    return rest_pages(gh, MILESTONES_URL, {**target.url_vars, "state": "all"}, cursor=cursor)


async def write_milestones(conn: asyncpg.Connection, target: Target, records: Sequence[Any]) -> int:
    for milestone in records:
        await issues.upsert_milestone(conn, target.installation_id, target.repository_id, milestone)
    return len(records)


# ----------------------------------------------------------------------------- issues

async def issue_pages(gh: GitHubAPI, target: Target, since: datetime,
                      cursor: str | None) -> AsyncGenerator[Page, None]:
    """Issues updated since `since`, newest created first. GitHub lists pull requests here too
    (with a `pull_request` key); the GraphQL import owns those."""
    url_vars = {**target.url_vars, "state": "all", "since": iso(since), "sort": "created",
                "direction": "desc"}
    async for page in rest_pages(gh, ISSUES_URL, url_vars, cursor=cursor):
        page.records = [item for item in page.records if not item.get("pull_request")]
        yield page


async def write_issues(conn: asyncpg.Connection, target: Target, records: Sequence[Any]) -> int:
    for issue in records:
        if issue.get("milestone"):
            await issues.upsert_milestone(conn, target.installation_id, target.repository_id,
                                          issue["milestone"])
        await issues.upsert_issue(conn, target.installation_id, target.repository_id, issue)
    return len(records)


# ----------------------------------------------------------------------------- commits

def commit_pages(gh: GitHubAPI, target: Target, since: datetime,
                 cursor: str | None) -> AsyncGenerator[Page, None]:
    """Commits on the default branch since `since`, newest first (new pushes land on page 1)."""
    url_vars = {**target.url_vars, "sha": target.default_branch, "since": iso(since)}
    return rest_pages(gh, COMMITS_URL, url_vars, cursor=cursor)


def push_commit_from_rest(commit: Mapping[str, Any]) -> dict[str, Any]:
    """A REST commit in the push-payload shape insert_push_commits takes.

    Push payloads date a commit once (`timestamp`); the author date is the one git shows."""
    git = commit.get("commit") or {}
    author = git.get("author") or {}
    committer = git.get("committer") or {}
    account = commit.get("author") or {}
    person: dict[str, Any] = {"name": author.get("name"), "email": author.get("email")}
    if account.get("login"):
        person["username"] = account["login"]
    return {
        "id": commit["sha"],
        "message": git.get("message"),
        "timestamp": author.get("date") or committer.get("date"),
        "author": person,
        "committer": {"name": committer.get("name"), "email": committer.get("email")},
    }


async def note_commit_details(conn: asyncpg.Connection, repository_id: int,
                              commits: Sequence[Mapping[str, Any]]) -> None:
    """Add what REST knows and push payloads do not: the author's account id, merge commits.

    Not in store.commits because only the import has these facts; it touches no column that a
    push writes, so the order of import and webhooks does not matter."""
    author_ids: list[int | None] = []
    for commit in commits:
        account = commit.get("author")
        author_ids.append(await upsert_user(conn, account) if account and account.get("login")
                          else None)
    await conn.execute(NOTE_COMMIT_DETAILS, repository_id, [c["sha"] for c in commits], author_ids,
                       [len(c.get("parents") or []) > 1 for c in commits])


async def write_commits(conn: asyncpg.Connection, target: Target, records: Sequence[Any]) -> int:
    await insert_push_commits(conn, installation_id=target.installation_id,
                              repository_id=target.repository_id, branch=target.default_branch,
                              commits=[push_commit_from_rest(c) for c in records])
    if records:
        await note_commit_details(conn, target.repository_id, records)
    return len(records)


# ----------------------------------------------------------------------------- workflow runs

def workflow_run_pages(gh: GitHubAPI, target: Target, since: datetime,
                       cursor: str | None) -> AsyncGenerator[Page, None]:
    """Runs created since `since`, newest first.

    `created` takes GitHub's search syntax over a value its schema types as a date-time, so it
    is sent as `>=YYYY-MM-DDTHH:MM:SSZ`. GitHub answers at most 1,000 runs for a `created`
    filter; a busier window would need splitting into date ranges."""
    url_vars = {**target.url_vars, "created": ">=" + iso(since)}
    return rest_pages(gh, RUNS_URL, url_vars, cursor=cursor, iterable_key=RUNS_KEY)


async def write_workflow_runs(conn: asyncpg.Connection, target: Target,
                              records: Sequence[Any]) -> int:
    for run in records:
        await ci.upsert_workflow_run(conn, target.installation_id, target.repository_id, run)
    return len(records)


# ----------------------------------------------------------------------------- deployments

async def deployment_pages(gh: GitHubAPI, target: Target, since: datetime,
                           cursor: str | None) -> AsyncGenerator[Page, None]:
    """Deployments newest first with their statuses; the list has no `since` filter, so the
    first deployment created before `since` ends the kind. Statuses are fetched before the
    page is committed, so a page is written whole or not at all."""
    async for page in rest_pages(gh, DEPLOYMENTS_URL, target.url_vars, cursor=cursor):
        raw = page.records
        fresh = [d for d in raw if parse_ts(d["created_at"]) >= since]
        records = []
        for deployment in fresh:
            statuses = [s async for s in gh.getiter(
                STATUSES_URL, {**target.url_vars, "deployment_id": deployment["id"],
                               "per_page": PER_PAGE})]
            records.append((deployment, statuses))
        page.records = records
        page.done = page.done or len(fresh) < len(raw)
        yield page
        if page.done:
            return


async def write_deployments(conn: asyncpg.Connection, target: Target,
                            records: Sequence[Any]) -> int:
    for deployment, statuses in records:
        await deployments.upsert_deployment(conn, target.installation_id, target.repository_id,
                                            deployment)
        for status in statuses:
            await deployments.upsert_status(conn, target.installation_id, target.repository_id,
                                            int(deployment["id"]), status)
        await deployments.refresh_latest_status(conn, int(deployment["id"]))
    return len(records)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
