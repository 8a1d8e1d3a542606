"""Repository read endpoints of the fake GitHub, in GitHub's shapes, with Link pagination.

Lists are answered from the state (REST-shaped objects the test put there), filtered and
ordered the way GitHub documents each endpoint. Every route wants an installation (or user)
token and answers 404 for a repository that token cannot see, as GitHub does.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web

from fakes.github import (
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    json_response,
    not_found,
    paginate,
    state_of,
    token_identity,
    unauthorized,
)
from fakes.github.state import FakeGitHubState, Json

# Keys of the full pull request that the list endpoint leaves out.
FULL_PR_ONLY_KEYS = ("merged", "mergeable", "rebaseable", "mergeable_state", "merged_by", "comments",
                     "review_comments", "maintainer_can_modify", "commits", "additions", "deletions",
                     "changed_files")
CREATED_QUALIFIER = re.compile(r"^(>=|<=|>|<)?(\S+?)(?:\.\.(\S+))?$")
# GitHub's OpenAPI description types /actions/runs' `created` as a date-time (in search syntax);
# the fake holds clients to that documented form rather than to what github.com also tolerates.
_DATE_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)"
RUNS_CREATED = re.compile(rf"^(?:>=|<=|>|<)?{_DATE_TIME}(?:\.\.{_DATE_TIME})?$")
BASE64_LINE = 60


def add_routes(app: web.Application) -> None:
    base = "/repos/{owner}/{repo}"
    app.router.add_get(base, get_repository)
    app.router.add_get(base + "/pulls", list_pulls)
    app.router.add_get(base + "/pulls/{number:\\d+}", get_pull)
    app.router.add_get(base + "/pulls/{number:\\d+}/reviews", list_reviews)
    app.router.add_get(base + "/pulls/{number:\\d+}/files", list_pull_files)
    app.router.add_get(base + "/commits", list_commits)
    app.router.add_get(base + "/issues", list_issues)
    app.router.add_get(base + "/milestones", list_milestones)
    app.router.add_get(base + "/actions/runs", list_workflow_runs)
    app.router.add_get(base + "/deployments", list_deployments)
    app.router.add_get(base + "/deployments/{id:\\d+}/statuses", list_deployment_statuses)
    app.router.add_get(base + "/contents/{path:.+}", get_contents)


# ----------------------------------------------------------------------------- access


def may_see(state: FakeGitHubState, identity: Json, full_name: str) -> bool:
    """An installation token sees its installation's repositories; a user token those of the
    installations the user may see."""
    installation = state.repository_installation.get(full_name)
    if installation is None or full_name not in state.repositories:
        return False
    if "installation_id" in identity:
        return identity["installation_id"] == installation
    return installation in state.user_installations.get(identity.get("login", ""), [])


def repository_route(handler: Callable[[web.Request, FakeGitHubState, str], Any]):
    """Authenticate, resolve owner/repo case-insensitively as GitHub does, then answer."""

    async def route(request: web.Request) -> web.StreamResponse:
        identity = token_identity(request)
        if identity is None:
            return unauthorized()
        state = state_of(request)
        wanted = f"{request.match_info['owner']}/{request.match_info['repo']}".lower()
        full_name = next((name for name in state.repositories if name.lower() == wanted), None)
        if full_name is None or not may_see(state, identity, full_name):
            return not_found()
        return await handler(request, state, full_name)

    route.__name__ = handler.__name__
    return route


def ts(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def query_since(request: web.Request) -> datetime | None:
    return ts(request.query.get("since"))


def ordered(items: list[Json], key: str, direction: str) -> list[Json]:
    return sorted(items, key=lambda item: (item.get(key) or "", item.get("id") or 0),
                  reverse=direction == "desc")


def by_state(items: list[Json], wanted: str) -> list[Json]:
    if wanted == "all":
        return list(items)
    return [item for item in items if item.get("state") == wanted]


# ----------------------------------------------------------------------------- repository


@repository_route
async def get_repository(request: web.Request, state: FakeGitHubState, full_name: str):
    return json_response(request, state.repositories[full_name])


# ----------------------------------------------------------------------------- pull requests

PR_SORT_KEYS = {"created": "created_at", "updated": "updated_at", "popularity": "comments",
                "long-running": "created_at"}


def pull_list_item(pr: Json) -> Json:
    return {key: copy.deepcopy(value) for key, value in pr.items() if key not in FULL_PR_ONLY_KEYS}


@repository_route
async def list_pulls(request: web.Request, state: FakeGitHubState, full_name: str):
    """GET /pulls: state open|closed|all (default open), sort created|updated|popularity|
    long-running, direction default desc for created else asc; head/base filters."""
    sort = request.query.get("sort", "created")
    if sort not in PR_SORT_KEYS:
        return web.json_response({"message": "Validation Failed"}, status=422)
    direction = request.query.get("direction", "desc" if sort == "created" else "asc")
    pulls = by_state(state.pulls.get(full_name, []), request.query.get("state", "open"))
    if "base" in request.query:
        pulls = [p for p in pulls if p["base"]["ref"] == request.query["base"]]
    if "head" in request.query:
        pulls = [p for p in pulls if p["head"]["label"] == request.query["head"]]
    pulls = ordered(pulls, PR_SORT_KEYS[sort], direction)
    return paginate(request, [pull_list_item(p) for p in pulls])


def find_pull(state: FakeGitHubState, full_name: str, number: int) -> Json | None:
    return next((p for p in state.pulls.get(full_name, []) if p["number"] == number), None)


@repository_route
async def get_pull(request: web.Request, state: FakeGitHubState, full_name: str):
    pr = find_pull(state, full_name, int(request.match_info["number"]))
    return json_response(request, pr) if pr is not None else not_found()


def rest_review(review: Json) -> Json:
    """Reviews are stored as webhooks send them; the REST API spells states in upper case."""
    out = copy.deepcopy(review)
    out["state"] = str(out.get("state") or "commented").upper()
    return out


@repository_route
async def list_reviews(request: web.Request, state: FakeGitHubState, full_name: str):
    number = int(request.match_info["number"])
    if find_pull(state, full_name, number) is None:
        return not_found()
    reviews = sorted(state.reviews.get((full_name, number), []),
                     key=lambda r: (r.get("submitted_at") or "", r["id"]))
    return paginate(request, [rest_review(r) for r in reviews])


@repository_route
async def list_pull_files(request: web.Request, state: FakeGitHubState, full_name: str):
    number = int(request.match_info["number"])
    if find_pull(state, full_name, number) is None:
        return not_found()
    return paginate(request, state.pull_files.get((full_name, number), []))


# ----------------------------------------------------------------------------- commits


def commit_date(commit: Json) -> datetime | None:
    return ts(((commit.get("commit") or {}).get("committer") or {}).get("date"))


@repository_route
async def list_commits(request: web.Request, state: FakeGitHubState, full_name: str):
    """GET /commits: the stored list is the default branch's history; `sha` may name it or a
    commit on it; since/until filter on the committer date; newest first."""
    commits = sorted(state.commits.get(full_name, []), key=lambda c: commit_date(c) or datetime.min,
                     reverse=True)
    wanted = request.query.get("sha")
    default_branch = state.repositories[full_name].get("default_branch", "main")
    if wanted and wanted != default_branch:
        position = next((i for i, c in enumerate(commits) if c["sha"] == wanted), None)
        if position is None:
            return web.json_response({"message": f"No commit found for SHA: {wanted}"}, status=404)
        commits = commits[position:]
    since, until = query_since(request), ts(request.query.get("until"))
    if since is not None:
        commits = [c for c in commits if (commit_date(c) or since) >= since]
    if until is not None:
        commits = [c for c in commits if (commit_date(c) or until) <= until]
    return paginate(request, commits)


# ----------------------------------------------------------------------------- issues


def issue_of_pull(pr: Json) -> Json:
    """A pull request as the issues API lists it: issue fields plus a `pull_request` key."""
    api = pr["url"].replace("/pulls/", "/issues/")
    return {
        "url": api,
        "repository_url": pr["base"]["repo"]["url"] if pr["base"].get("repo") else None,
        "html_url": pr["html_url"],
        "id": pr["id"] + 1,  # the issue side has its own id on GitHub
        "node_id": pr["node_id"],
        "number": pr["number"],
        "title": pr["title"],
        "user": copy.deepcopy(pr["user"]),
        "labels": copy.deepcopy(pr.get("labels") or []),
        "state": pr["state"],
        "locked": pr.get("locked", False),
        "assignee": copy.deepcopy(pr.get("assignee")),
        "assignees": copy.deepcopy(pr.get("assignees") or []),
        "milestone": copy.deepcopy(pr.get("milestone")),
        "comments": pr.get("comments", 0),
        "created_at": pr["created_at"],
        "updated_at": pr["updated_at"],
        "closed_at": pr.get("closed_at"),
        "author_association": pr.get("author_association"),
        "draft": pr.get("draft", False),
        "pull_request": {"url": pr["url"], "html_url": pr["html_url"],
                         "diff_url": pr["html_url"] + ".diff",
                         "patch_url": pr["html_url"] + ".patch", "merged_at": pr.get("merged_at")},
        "body": pr.get("body"),
        "state_reason": None,
    }


@repository_route
async def list_issues(request: web.Request, state: FakeGitHubState, full_name: str):
    """GET /issues: state open|closed|all (default open), since (updated at or after),
    sort created|updated|comments, direction (default desc); pull requests included."""
    sort_key = {"created": "created_at", "updated": "updated_at", "comments": "comments"}.get(
        request.query.get("sort", "created"))
    if sort_key is None:
        return web.json_response({"message": "Validation Failed"}, status=422)
    items = [*state.issues.get(full_name, []), *map(issue_of_pull, state.pulls.get(full_name, []))]
    items = by_state(items, request.query.get("state", "open"))
    since = query_since(request)
    if since is not None:
        items = [i for i in items if ts(i["updated_at"]) >= since]
    if "milestone" in request.query and request.query["milestone"] not in {"*", "none"}:
        items = [i for i in items
                 if str((i.get("milestone") or {}).get("number")) == request.query["milestone"]]
    return paginate(request, ordered(items, sort_key, request.query.get("direction", "desc")))


# ----------------------------------------------------------------------------- milestones


@repository_route
async def list_milestones(request: web.Request, state: FakeGitHubState, full_name: str):
    """GET /milestones: state open|closed|all (default open), sort due_on|completeness
    (default due_on), direction (default asc)."""
    items = by_state(state.milestones.get(full_name, []), request.query.get("state", "open"))
    sort_key = "due_on" if request.query.get("sort", "due_on") == "due_on" else "closed_issues"
    return paginate(request, ordered(items, sort_key, request.query.get("direction", "asc")))


# ----------------------------------------------------------------------------- workflow runs


def _day_bounds(value: str) -> tuple[datetime, datetime]:
    """A date (or date-time) of GitHub's search syntax as [start, end] of what it names."""
    if "T" in value:
        moment = ts(value)
        return moment, moment
    day = date.fromisoformat(value)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1) - timedelta(microseconds=1)


def created_filter(qualifier: str) -> Callable[[datetime], bool] | None:
    """GitHub's `created` search qualifier: DATE, >=DATE, >DATE, <=DATE, <DATE, A..B."""
    match = CREATED_QUALIFIER.match(qualifier)
    if match is None:
        return None
    operator, first, second = match.groups()
    try:
        low, high = _day_bounds(first)
        if second is not None:
            end = _day_bounds(second)[1]
            return lambda moment: low <= moment <= end
    except ValueError:
        return None
    tests: dict[str | None, Callable[[datetime], bool]] = {
        None: lambda m: low <= m <= high, ">=": lambda m: m >= low, ">": lambda m: m > high,
        "<=": lambda m: m <= high, "<": lambda m: m < low,
    }
    return tests[operator]


def wrapped_page(request: web.Request, key: str, items: list[Json]) -> web.Response:
    """One page of a list GitHub wraps as {"total_count", key: [...]}, with a Link header."""
    listed = paginate(request, items)
    if listed.status != 200:
        return listed
    per_page = min(int(request.query.get("per_page", DEFAULT_PER_PAGE)), MAX_PER_PAGE)
    page = max(int(request.query.get("page", 1)), 1)
    chunk = items[(page - 1) * per_page:page * per_page]
    headers = {"Link": listed.headers["Link"]} if "Link" in listed.headers else None
    return json_response(request, {"total_count": len(items), key: chunk}, headers=headers)


@repository_route
async def list_workflow_runs(request: web.Request, state: FakeGitHubState, full_name: str):
    """GET /actions/runs: newest first; filters created, event, status, branch, head_sha."""
    runs = ordered(state.workflow_runs.get(full_name, []), "created_at", "desc")
    if "created" in request.query:
        keep = created_filter(request.query["created"])
        if keep is None or not RUNS_CREATED.match(request.query["created"]):
            return web.json_response({"message": "Invalid created qualifier"}, status=422)
        runs = [r for r in runs if keep(ts(r["created_at"]))]
    for field, key in (("event", "event"), ("status", "status"), ("branch", "head_branch"),
                       ("head_sha", "head_sha")):
        if field in request.query:
            wanted = request.query[field]
            runs = [r for r in runs if wanted in {r.get(key), r.get("conclusion")}]
    return wrapped_page(request, "workflow_runs", runs)


# ----------------------------------------------------------------------------- deployments


@repository_route
async def list_deployments(request: web.Request, state: FakeGitHubState, full_name: str):
    """GET /deployments: newest first; filters sha, ref, task, environment."""
    items = ordered(state.deployments.get(full_name, []), "created_at", "desc")
    for field in ("sha", "ref", "task", "environment"):
        if field in request.query:
            items = [d for d in items if d.get(field) == request.query[field]]
    return paginate(request, items)


@repository_route
async def list_deployment_statuses(request: web.Request, state: FakeGitHubState, full_name: str):
    deployment_id = int(request.match_info["id"])
    if not any(d["id"] == deployment_id for d in state.deployments.get(full_name, [])):
        return not_found()
    statuses = ordered(state.deployment_statuses.get(deployment_id, []), "created_at", "desc")
    return paginate(request, statuses)


# ----------------------------------------------------------------------------- contents


@repository_route
async def get_contents(request: web.Request, state: FakeGitHubState, full_name: str):
    """GET /contents/{path}?ref=: a file as GitHub sends it (base64 in 60-char lines)."""
    path = request.match_info["path"]
    ref = request.query.get("ref") or state.repositories[full_name].get("default_branch", "main")
    raw = state.contents.get((full_name, ref, path))
    if raw is None:
        return not_found()
    encoded = base64.b64encode(raw).decode()
    content = "\n".join(encoded[i:i + BASE64_LINE] for i in range(0, len(encoded), BASE64_LINE))
    blob_sha = hashlib.sha1(b"blob %d\0" % len(raw) + raw, usedforsecurity=False).hexdigest()
    origin = request.url.origin()
    api = f"{origin}/repos/{full_name}/contents/{path}"
    git = f"{origin}/repos/{full_name}/git/blobs/{blob_sha}"
    html = f"https://github.com/{full_name}/blob/{ref}/{path}"
    return json_response(request, {
        "type": "file", "encoding": "base64", "size": len(raw), "name": path.rsplit("/", 1)[-1],
        "path": path, "content": content + "\n", "sha": blob_sha, "url": f"{api}?ref={ref}",
        "git_url": git, "html_url": html,
        "download_url": f"https://raw.githubusercontent.com/{full_name}/{ref}/{path}",
        "_links": {"self": f"{api}?ref={ref}", "git": git, "html": html},
    })
