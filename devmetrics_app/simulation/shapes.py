"""Factories for GitHub webhook payloads with GitHub's real shapes.

Handlers are only as good as the payloads they were tested with, so every object here
mirrors what GitHub actually sends (checked against octokit/webhooks payload examples and
schemas and GitHub's webhook OpenAPI description): the same field names, nesting, types and
nullable fields -- including GitHub's inconsistencies (see ``push_repository`` and
``installation``), because those are exactly what break handlers in production.

Everything is deterministic: ids, node ids, SHAs and timestamps are derived from the
arguments, never from randomness or the clock, so a test can rebuild the "same" object and
compare. Builders return fresh dicts; event builders deep-copy their result so a test that
mutates one payload never leaks into another.

Pure stdlib on purpose, and importing nothing of the app: the test fixtures
(tests/payloads.py re-exports everything here) must not depend on the code they test. It sits
in the package only so that the organisation simulator (``devmetrics demo``) builds its
deliveries with exactly the shapes the handlers are tested against. The defaults name a small
sample world (acme, alice, bob, carol); the simulator passes every id and account explicitly.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

Payload = dict[str, Any]

# --------------------------------------------------------------------------- constants

API = "https://api.github.com"
WEB = "https://github.com"
EPOCH = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)  # minute 0 of the sample world
ZERO_SHA = "0" * 40  # GitHub's "no commit" marker in push before/after

APP_ID = 123456
APP_SLUG = "devmetrics"
APP_NAME = "DevMetrics"
HOOK_ID = 480001
WEBHOOK_URL = "https://devmetrics.example.com/api/webhooks/github"

ORG_LOGIN = "acme"
ORG_ID = 9001
ORG_INSTALLATION_ID = 4242
REPO_API_ID = 501
REPO_WEB_ID = 502
REPO_LEGACY_ID = 503  # only used for repository archived/deleted and installation removal

SOLO_LOGIN = "solo"
SOLO_ID = 7007
SOLO_INSTALLATION_ID = 4343
REPO_TOOL_ID = 601

FORKER_LOGIN = "outsider"
FORKER_ID = 1101
REPO_FORK_ID = 701

GHOST_LOGIN = "ghost"
GHOST_ID = 10137  # GitHub's placeholder for deleted accounts
DEPENDABOT_LOGIN = "dependabot[bot]"
DEPENDABOT_ID = 49699333
GITHUB_ACTIONS_APP_ID = 15368

# Which installation receives events for a given account id (the natural tenant key).
INSTALLATION_BY_ACCOUNT_ID: dict[int, int] = {
    ORG_ID: ORG_INSTALLATION_ID,
    SOLO_ID: SOLO_INSTALLATION_ID,
}

APP_PERMISSIONS: dict[str, str] = {
    "actions": "read",
    "checks": "write",
    "contents": "read",
    "deployments": "read",
    "issues": "read",
    "members": "read",
    "metadata": "read",
    "pull_requests": "write",
    "statuses": "read",
}
APP_EVENTS: list[str] = [
    "check_run",
    "check_suite",
    "deployment",
    "deployment_status",
    "issues",
    "milestone",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "push",
    "repository",
    "workflow_run",
]

_USER_URL_SUFFIXES = {
    "followers_url": "/followers",
    "following_url": "/following{/other_user}",
    "gists_url": "/gists{/gist_id}",
    "starred_url": "/starred{/owner}{/repo}",
    "subscriptions_url": "/subscriptions",
    "organizations_url": "/orgs",
    "repos_url": "/repos",
    "events_url": "/events{/privacy}",
    "received_events_url": "/received_events",
}

_REPO_URL_SUFFIXES = {
    "forks_url": "/forks",
    "keys_url": "/keys{/key_id}",
    "collaborators_url": "/collaborators{/collaborator}",
    "teams_url": "/teams",
    "hooks_url": "/hooks",
    "issue_events_url": "/issues/events{/number}",
    "events_url": "/events",
    "assignees_url": "/assignees{/user}",
    "branches_url": "/branches{/branch}",
    "tags_url": "/tags",
    "blobs_url": "/git/blobs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "trees_url": "/git/trees{/sha}",
    "statuses_url": "/statuses/{sha}",
    "languages_url": "/languages",
    "stargazers_url": "/stargazers",
    "contributors_url": "/contributors",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "commits_url": "/commits{/sha}",
    "git_commits_url": "/git/commits{/sha}",
    "comments_url": "/comments{/number}",
    "issue_comment_url": "/issues/comments{/number}",
    "contents_url": "/contents/{+path}",
    "compare_url": "/compare/{base}...{head}",
    "merges_url": "/merges",
    "archive_url": "/{archive_format}{/ref}",
    "downloads_url": "/downloads",
    "issues_url": "/issues{/number}",
    "pulls_url": "/pulls{/number}",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "labels_url": "/labels{/name}",
    "releases_url": "/releases{/id}",
    "deployments_url": "/deployments",
}

# Keys that exist on the full pull request object but not on the "simple pull request"
# GitHub embeds in pull_request_review and pull_request_review_comment events.
_FULL_PR_ONLY_KEYS = (
    "merged",
    "mergeable",
    "rebaseable",
    "mergeable_state",
    "merged_by",
    "comments",
    "review_comments",
    "maintainer_can_modify",
    "commits",
    "additions",
    "deletions",
    "changed_files",
)

# --------------------------------------------------------------------------- primitives


def at(minutes: float = 0) -> str:
    """ISO-8601 'Z' timestamp `minutes` after EPOCH; negative means before."""
    moment = EPOCH + timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def unix(iso: str) -> int:
    """Unix seconds for an ISO timestamp (push payloads and old installations use these)."""
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def sha(seed: str) -> str:
    """A stable 40-hex commit SHA for a human-readable seed."""
    return hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()


def stable_id(*parts: object) -> int:
    """A stable 10-digit id for objects whose id GitHub assigns (labels, reviews, runs...).

    Ten digits on purpose: real GitHub ids no longer fit in int32, and the store uses bigint.
    """
    digest = hashlib.sha1("/".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()
    return 1_000_000_000 + int(digest[:8], 16) % 8_000_000_000


def node_id(kind: str, number: int) -> str:
    """GitHub's legacy global node id: base64 of '0<len(kind)>:<kind><id>'."""
    raw = f"0{len(kind)}:{kind}{number}"
    return base64.b64encode(raw.encode()).decode()


def pr_id(repo_id: int, number: int) -> int:
    """Database id of pull request `number` in repository `repo_id` (same in every sample)."""
    return 2_000_000_000 + repo_id * 10_000 + number


def issue_id(repo_id: int, number: int) -> int:
    """Database id of issue `number` in repository `repo_id` (same in every sample)."""
    return 3_000_000_000 + repo_id * 10_000 + number


def noreply_email(login: str, id: int) -> str:
    """The address GitHub uses when a user keeps their email private."""
    return f"{id}+{login}@users.noreply.github.com"


def _full_name(repo: Payload) -> str:
    return str(repo["full_name"])


def _repo_api(repo: Payload) -> str:
    return f"{API}/repos/{_full_name(repo)}"


def _repo_web(repo: Payload) -> str:
    return f"{WEB}/{_full_name(repo)}"


def _link(href: str) -> dict[str, str]:
    return {"href": href}


# --------------------------------------------------------------------------- accounts


def user(login: str = "octocat", id: int = 1, type: str = "User", **overrides: Any) -> Payload:
    """A user-shaped account as embedded everywhere (sender, author, owner, reviewer...).

    Organizations and bots use the same shape with a different ``type``; bots' html_url
    points at the app page and their API url escapes the brackets, as GitHub does.
    """
    kind = {"Bot": "Bot", "Organization": "Organization"}.get(type, "User")
    api_url = f"{API}/users/{login.replace('[', '%5B').replace(']', '%5D')}"
    html_url = f"{WEB}/apps/{login.removesuffix('[bot]')}" if type == "Bot" else f"{WEB}/{login}"
    out: Payload = {
        "login": login,
        "id": id,
        "node_id": node_id(kind, id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{id}?v=4",
        "gravatar_id": "",
        "url": api_url,
        "html_url": html_url,
    }
    out.update({key: api_url + suffix for key, suffix in _USER_URL_SUFFIXES.items()})
    out.update({"type": type, "site_admin": False})
    out.update(overrides)
    return out


def bot(login: str = DEPENDABOT_LOGIN, id: int = DEPENDABOT_ID, **overrides: Any) -> Payload:
    """A GitHub App's bot account (type "Bot"), e.g. Dependabot opening PRs."""
    return user(login, id, "Bot", **overrides)


def account(login: str = ORG_LOGIN, id: int = ORG_ID, type: str = "Organization") -> Payload:
    """The account an installation belongs to (installation.account, repository.owner)."""
    return user(login, id, type)


def organization(login: str = ORG_LOGIN, id: int = ORG_ID, **overrides: Any) -> Payload:
    """The top-level ``organization`` object: a different, shorter shape than an account."""
    api_url = f"{API}/orgs/{login}"
    out: Payload = {
        "login": login,
        "id": id,
        "node_id": node_id("Organization", id),
        "url": api_url,
        "repos_url": f"{api_url}/repos",
        "events_url": f"{api_url}/events",
        "hooks_url": f"{api_url}/hooks",
        "issues_url": f"{api_url}/issues",
        "members_url": f"{api_url}/members{{/member}}",
        "public_members_url": f"{api_url}/public_members{{/member}}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{id}?v=4",
        "description": None,
    }
    out.update(overrides)
    return out


def team(name: str = "Backend", id: int = 3001, org: str = ORG_LOGIN, **overrides: Any) -> Payload:
    """A team, as in requested_teams and requested_team."""
    slug = name.lower().replace(" ", "-")
    api_url = f"{API}/organizations/{ORG_ID}/team/{id}"
    out: Payload = {
        "name": name,
        "id": id,
        "node_id": node_id("Team", id),
        "slug": slug,
        "description": None,
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "url": api_url,
        "html_url": f"{WEB}/orgs/{org}/teams/{slug}",
        "members_url": f"{api_url}/members{{/member}}",
        "repositories_url": f"{api_url}/repos",
        "permission": "pull",
        "parent": None,
    }
    out.update(overrides)
    return out


def installation_ref(id: int = ORG_INSTALLATION_ID) -> Payload:
    """The small ``installation`` object in every event delivered to an app."""
    return {"id": id, "node_id": node_id("IntegrationInstallation", id)}


# The deleted-user placeholder GitHub substitutes for authors whose account is gone.
GHOST = user(GHOST_LOGIN, GHOST_ID)

# The sample world's people.
ACME = account(ORG_LOGIN, ORG_ID, "Organization")
SOLO = account(SOLO_LOGIN, SOLO_ID, "User")
ALICE = user("alice", 1001)  # developer at acme, author of most PRs
BOB = user("bob", 1002)  # reviewer
CAROL = user("carol", 1003)  # org admin: installs the app, merges, dismisses reviews
OUTSIDER = user(FORKER_LOGIN, FORKER_ID)  # contributes from a fork
DEPENDABOT = bot()
REVIEW_BOT = bot("coderabbitai[bot]", 136622811)
BACKEND_TEAM = team("Backend", 3001)

# --------------------------------------------------------------------------- repositories


def repository(
    *,
    id: int = REPO_API_ID,
    name: str = "api",
    owner: Payload | None = None,
    private: bool = True,
    fork: bool = False,
    default_branch: str = "main",
    description: str | None = None,
    created_at: str = at(-60 * 24 * 365),
    updated_at: str = at(-60 * 24),
    pushed_at: str = at(-60),
    **overrides: Any,
) -> Payload:
    """The full repository object (``repository``, ``pull_request.base.repo``...)."""
    owner = owner if owner is not None else ACME
    full_name = f"{owner['login']}/{name}"
    api_url = f"{API}/repos/{full_name}"
    html_url = f"{WEB}/{full_name}"
    out: Payload = {
        "id": id,
        "node_id": node_id("Repository", id),
        "name": name,
        "full_name": full_name,
        "private": private,
        "owner": copy.deepcopy(owner),
        "html_url": html_url,
        "description": description,
        "fork": fork,
        "url": api_url,
    }
    out.update({key: api_url + suffix for key, suffix in _REPO_URL_SUFFIXES.items()})
    out.update(
        {
            "created_at": created_at,
            "updated_at": updated_at,
            "pushed_at": pushed_at,
            "git_url": f"git://github.com/{full_name}.git",
            "ssh_url": f"git@github.com:{full_name}.git",
            "clone_url": f"{html_url}.git",
            "svn_url": html_url,
            "homepage": None,
            "size": 1024,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": "Python",
            "has_issues": True,
            "has_projects": True,
            "has_downloads": True,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": 0,
            "license": None,
            "allow_forking": True,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [],
            "visibility": "private" if private else "public",
            "forks": 0,
            "open_issues": 0,
            "watchers": 0,
            "default_branch": default_branch,
        }
    )
    out.update(overrides)
    return out


def push_repository(repo: Payload) -> Payload:
    """The repository as GitHub embeds it in ``push`` payloads -- a different shape.

    In push payloads only, ``created_at`` and ``pushed_at`` are integer unix seconds while
    ``updated_at`` stays an ISO string, ``url`` is the web URL (not the API URL), the owner
    carries ``name``/``email``, and ``stargazers``/``master_branch`` appear.
    """
    out = copy.deepcopy(repo)
    owner = out["owner"]
    email = None if owner["type"] == "Organization" else noreply_email(owner["login"], owner["id"])
    out["owner"] = {"name": owner["login"], "email": email, **owner}
    out["url"] = repo["html_url"]
    out["created_at"] = unix(repo["created_at"])
    out["pushed_at"] = unix(repo["pushed_at"])
    out["stargazers"] = repo["stargazers_count"]
    out["master_branch"] = repo["default_branch"]
    return out


def repository_lite(repo: Payload) -> Payload:
    """The url-only repository GitHub nests in workflow_run (no dates, no counters)."""
    keep = ("id", "node_id", "name", "full_name", "private", "owner", "html_url")
    out = {key: copy.deepcopy(repo[key]) for key in keep}
    out.update({"description": repo["description"], "fork": repo["fork"], "url": repo["url"]})
    out.update({key: repo[key] for key in _REPO_URL_SUFFIXES})
    return out


def installation_repository(repo: Payload) -> Payload:
    """The five-field repository in installation / installation_repositories events."""
    keys = ("id", "node_id", "name", "full_name", "private")
    return {key: repo[key] for key in keys}


def repo_ref(repo: Payload) -> Payload:
    """The {id, url, name} repository inside check/workflow ``pull_requests`` entries."""
    return {"id": repo["id"], "url": repo["url"], "name": repo["name"]}


REPO_API = repository(id=REPO_API_ID, name="api")
REPO_WEB = repository(id=REPO_WEB_ID, name="web", language="TypeScript")
REPO_LEGACY = repository(id=REPO_LEGACY_ID, name="legacy", pushed_at=at(-60 * 24 * 400))
REPO_TOOL = repository(id=REPO_TOOL_ID, name="tool", owner=SOLO, private=False)
REPO_FORK = repository(
    id=REPO_FORK_ID,
    name="api",
    owner=OUTSIDER,
    fork=True,
    private=False,
    created_at=at(-60 * 24 * 3),
)

# --------------------------------------------------------------------------- small objects


def label(
    name: str = "enhancement",
    *,
    repo: Payload | None = None,
    color: str = "a2eeef",
    description: str | None = None,
    default: bool = False,
    id: int | None = None,
) -> Payload:
    """A label; its id is derived from repository and name, as labels are per repository."""
    repo = repo if repo is not None else REPO_API
    label_id = id if id is not None else stable_id("label", repo["id"], name)
    return {
        "id": label_id,
        "node_id": node_id("Label", label_id),
        "url": f"{_repo_api(repo)}/labels/{name.replace(' ', '%20')}",
        "name": name,
        "color": color,
        "default": default,
        "description": description,
    }


def reactions(url: str) -> Payload:
    """The reaction rollup GitHub attaches to issues and comments."""
    counts = dict.fromkeys(
        ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes"), 0
    )
    return {"url": url, "total_count": 0, **counts}


def milestone(
    number: int = 1,
    title: str = "v1.0",
    *,
    repo: Payload | None = None,
    state: str = "open",
    description: str | None = "First release",
    creator: Payload | None = None,
    open_issues: int = 0,
    closed_issues: int = 0,
    created_at: str = at(-60 * 24 * 7),
    updated_at: str = at(-60 * 24 * 7),
    due_on: str | None = at(60 * 24 * 14),
    closed_at: str | None = None,
    id: int | None = None,
) -> Payload:
    """A milestone (velocity and burndown read number, state, due_on and the counters)."""
    repo = repo if repo is not None else REPO_WEB
    ms_id = id if id is not None else stable_id("milestone", repo["id"], number)
    api_url = f"{_repo_api(repo)}/milestones/{number}"
    return {
        "url": api_url,
        "html_url": f"{_repo_web(repo)}/milestone/{number}",
        "labels_url": f"{api_url}/labels",
        "id": ms_id,
        "node_id": node_id("Milestone", ms_id),
        "number": number,
        "title": title,
        "description": description,
        "creator": copy.deepcopy(creator if creator is not None else CAROL),
        "open_issues": open_issues,
        "closed_issues": closed_issues,
        "state": state,
        "created_at": created_at,
        "updated_at": updated_at,
        "due_on": due_on,
        "closed_at": closed_at,
    }


# --------------------------------------------------------------------------- pull requests


def _branch(repo: Payload | None, owner: Payload, ref: str, commit_sha: str) -> Payload:
    """pull_request.head / .base; ``repo`` is None when a fork was deleted."""
    return {
        "label": f"{owner['login']}:{ref}",
        "ref": ref,
        "sha": commit_sha,
        "user": copy.deepcopy(owner),
        "repo": copy.deepcopy(repo),
    }


def pull_request(
    number: int = 1,
    *,
    repo: Payload | None = None,
    user: Payload | None = None,
    title: str = "Add login endpoint",
    body: str | None = "Implements the login endpoint.",
    state: str = "open",
    draft: bool = False,
    merged: bool = False,
    head_ref: str = "feature/login",
    head_sha: str | None = None,
    base_ref: str = "main",
    base_sha: str | None = None,
    head_repo: Payload | None = None,
    head_repo_deleted: bool = False,
    labels: list[Payload] | None = None,
    milestone: Payload | None = None,
    assignees: list[Payload] | None = None,
    requested_reviewers: list[Payload] | None = None,
    requested_teams: list[Payload] | None = None,
    created_at: str = at(0),
    updated_at: str | None = None,
    closed_at: str | None = None,
    merged_at: str | None = None,
    merge_commit_sha: str | None = None,
    merged_by: Payload | None = None,
    comments: int = 0,
    review_comments: int = 0,
    commits: int = 1,
    additions: int = 10,
    deletions: int = 2,
    changed_files: int = 1,
    author_association: str = "MEMBER",
    auto_merge: Payload | None = None,
    id: int | None = None,
    **overrides: Any,
) -> Payload:
    """The full pull request object of ``pull_request`` events.

    ``head_repo`` defaults to the base repository; pass a fork for fork PRs, or
    ``head_repo_deleted=True`` for the null ``head.repo`` GitHub sends once a fork is gone.
    A merged PR needs state="closed", merged=True; merged_at/closed_at/merge_commit_sha
    default sensibly from ``updated_at``.
    """
    repo = repo if repo is not None else REPO_API
    author = user if user is not None else ALICE
    pull_id = id if id is not None else pr_id(repo["id"], number)
    updated_at = updated_at if updated_at is not None else created_at
    head_sha = head_sha if head_sha is not None else sha(f"{_full_name(repo)}#{number}:head")
    base_sha = base_sha if base_sha is not None else sha(f"{_full_name(repo)}:{base_ref}")
    if state == "closed" and closed_at is None:
        closed_at = updated_at
    if merged:
        merged_at = merged_at if merged_at is not None else closed_at
        merge_commit_sha = merge_commit_sha or sha(f"{_full_name(repo)}#{number}:merge")
        merged_by = merged_by if merged_by is not None else CAROL
    source = None if head_repo_deleted else (head_repo if head_repo is not None else repo)
    source_owner = source["owner"] if source is not None else author
    api_url = f"{_repo_api(repo)}/pulls/{number}"
    html_url = f"{_repo_web(repo)}/pull/{number}"
    issue_url = f"{_repo_api(repo)}/issues/{number}"
    statuses_url = f"{_repo_api(repo)}/statuses/{head_sha}"
    out: Payload = {
        "url": api_url,
        "id": pull_id,
        "node_id": node_id("PullRequest", pull_id),
        "html_url": html_url,
        "diff_url": f"{html_url}.diff",
        "patch_url": f"{html_url}.patch",
        "issue_url": issue_url,
        "number": number,
        "state": state,
        "locked": False,
        "title": title,
        "user": copy.deepcopy(author),
        "body": body,
        "created_at": created_at,
        "updated_at": updated_at,
        "closed_at": closed_at,
        "merged_at": merged_at,
        "merge_commit_sha": merge_commit_sha,
        "assignee": copy.deepcopy(assignees[0]) if assignees else None,
        "assignees": copy.deepcopy(assignees or []),
        "requested_reviewers": copy.deepcopy(requested_reviewers or []),
        "requested_teams": copy.deepcopy(requested_teams or []),
        "labels": copy.deepcopy(labels or []),
        "milestone": copy.deepcopy(milestone),
        "draft": draft,
        "commits_url": f"{api_url}/commits",
        "review_comments_url": f"{api_url}/comments",
        "review_comment_url": f"{_repo_api(repo)}/pulls/comments{{/number}}",
        "comments_url": f"{issue_url}/comments",
        "statuses_url": statuses_url,
        "head": _branch(source, source_owner, head_ref, head_sha),
        "base": _branch(repo, repo["owner"], base_ref, base_sha),
        "_links": {
            "self": _link(api_url),
            "html": _link(html_url),
            "issue": _link(issue_url),
            "comments": _link(f"{issue_url}/comments"),
            "review_comments": _link(f"{api_url}/comments"),
            "review_comment": _link(f"{_repo_api(repo)}/pulls/comments{{/number}}"),
            "commits": _link(f"{api_url}/commits"),
            "statuses": _link(statuses_url),
        },
        "author_association": author_association,
        "auto_merge": auto_merge,
        "active_lock_reason": None,
        "merged": merged,
        "mergeable": None,
        "rebaseable": None,
        "mergeable_state": "unknown",
        "merged_by": copy.deepcopy(merged_by),
        "comments": comments,
        "review_comments": review_comments,
        "maintainer_can_modify": False,
        "commits": commits,
        "additions": additions,
        "deletions": deletions,
        "changed_files": changed_files,
    }
    out.update(overrides)
    return out


def simple_pull_request(pr: Payload) -> Payload:
    """The trimmed PR embedded in review events: no merged/mergeable/size counters."""
    return {key: copy.deepcopy(value) for key, value in pr.items() if key not in _FULL_PR_ONLY_KEYS}


def pull_request_minimal(pr: Payload) -> Payload:
    """The {url, id, number, head, base} entries of check_suite/check_run/workflow_run."""

    def side(branch: Payload) -> Payload:
        return {"ref": branch["ref"], "sha": branch["sha"], "repo": repo_ref(branch["repo"])}

    return {
        "url": pr["url"],
        "id": pr["id"],
        "number": pr["number"],
        "head": side(pr["head"]),
        "base": side(pr["base"]),
    }


def review(
    pr: Payload,
    *,
    seq: int = 1,
    user: Payload | None = None,
    state: str = "approved",
    body: str | None = "Looks good to me.",
    commit_id: str | None = None,
    submitted_at: str = at(120),
    author_association: str = "MEMBER",
    user_deleted: bool = False,
    id: int | None = None,
) -> Payload:
    """A pull request review. Webhook ``state`` is lowercase ("approved",
    "changes_requested", "commented", "dismissed") unlike the REST API's uppercase.
    ``user_deleted=True`` gives the null ``user`` GitHub's webhook schema allows.
    """
    review_id = id if id is not None else stable_id("review", pr["id"], seq)
    html_url = f"{pr['html_url']}#pullrequestreview-{review_id}"
    return {
        "id": review_id,
        "node_id": node_id("PullRequestReview", review_id),
        "user": None if user_deleted else copy.deepcopy(user if user is not None else BOB),
        "body": body,
        "commit_id": commit_id if commit_id is not None else pr["head"]["sha"],
        "submitted_at": submitted_at,
        "state": state,
        "html_url": html_url,
        "pull_request_url": pr["url"],
        "author_association": author_association,
        "_links": {"html": _link(html_url), "pull_request": _link(pr["url"])},
    }


def review_comment(
    pr: Payload,
    *,
    seq: int = 1,
    review_id: int | None = None,
    user: Payload | None = None,
    body: str = "Please handle the empty password case.",
    path: str = "app/auth.py",
    line: int | None = 42,
    created_at: str = at(121),
    updated_at: str | None = None,
    in_reply_to_id: int | None = None,
    author_association: str = "MEMBER",
    id: int | None = None,
) -> Payload:
    """A review (diff) comment; ``line``/``position`` go null once the line is outdated."""
    comment_id = id if id is not None else stable_id("review_comment", pr["id"], seq)
    api_url = f"{pr['base']['repo']['url']}/pulls/comments/{comment_id}"
    html_url = f"{pr['html_url']}#discussion_r{comment_id}"
    out: Payload = {
        "url": api_url,
        "pull_request_review_id": review_id
        if review_id is not None
        else stable_id("review", pr["id"], 1),
        "id": comment_id,
        "node_id": node_id("PullRequestReviewComment", comment_id),
        "diff_hunk": "@@ -40,6 +40,8 @@ def login(request):",
        "path": path,
        "position": line,
        "original_position": 4,
        "commit_id": pr["head"]["sha"],
        "original_commit_id": pr["head"]["sha"],
        "user": copy.deepcopy(user if user is not None else BOB),
        "body": body,
        "created_at": created_at,
        "updated_at": updated_at if updated_at is not None else created_at,
        "html_url": html_url,
        "pull_request_url": pr["url"],
        "author_association": author_association,
        "_links": {
            "self": _link(api_url),
            "html": _link(html_url),
            "pull_request": _link(pr["url"]),
        },
        "reactions": reactions(f"{api_url}/reactions"),
        "start_line": None,
        "original_start_line": None,
        "start_side": None,
        "line": line,
        "original_line": 42,
        "side": "RIGHT",
        "subject_type": "line",
    }
    if in_reply_to_id is not None:
        out["in_reply_to_id"] = in_reply_to_id
    return out


# --------------------------------------------------------------------------- issues


def issue(
    number: int = 20,
    *,
    repo: Payload | None = None,
    user: Payload | None = None,
    title: str = "Dashboard shows wrong cycle time",
    body: str | None = "The median looks off by a day.",
    state: str = "open",
    state_reason: str | None = None,
    labels: list[Payload] | None = None,
    assignees: list[Payload] | None = None,
    milestone: Payload | None = None,
    comments: int = 0,
    created_at: str = at(0),
    updated_at: str | None = None,
    closed_at: str | None = None,
    author_association: str = "MEMBER",
    id: int | None = None,
    **overrides: Any,
) -> Payload:
    """An issue; ``state_reason`` is "completed"/"not_planned" when closed, "reopened" after."""
    repo = repo if repo is not None else REPO_WEB
    the_id = id if id is not None else issue_id(repo["id"], number)
    updated_at = updated_at if updated_at is not None else created_at
    if state == "closed" and closed_at is None:
        closed_at = updated_at
    api_url = f"{_repo_api(repo)}/issues/{number}"
    out: Payload = {
        "url": api_url,
        "repository_url": _repo_api(repo),
        "labels_url": f"{api_url}/labels{{/name}}",
        "comments_url": f"{api_url}/comments",
        "events_url": f"{api_url}/events",
        "html_url": f"{_repo_web(repo)}/issues/{number}",
        "id": the_id,
        "node_id": node_id("Issue", the_id),
        "number": number,
        "title": title,
        "user": copy.deepcopy(user if user is not None else CAROL),
        "labels": copy.deepcopy(labels or []),
        "state": state,
        "locked": False,
        "assignee": copy.deepcopy(assignees[0]) if assignees else None,
        "assignees": copy.deepcopy(assignees or []),
        "milestone": copy.deepcopy(milestone),
        "comments": comments,
        "created_at": created_at,
        "updated_at": updated_at,
        "closed_at": closed_at,
        "author_association": author_association,
        "active_lock_reason": None,
        "body": body,
        "reactions": reactions(f"{api_url}/reactions"),
        "timeline_url": f"{api_url}/timeline",
        "performed_via_github_app": None,
        "state_reason": state_reason,
    }
    out.update(overrides)
    return out


# --------------------------------------------------------------------------- commits & CI


def commit(
    message: str = "Add login endpoint",
    *,
    repo: Payload | None = None,
    author: Payload | None = None,
    username: str | None = None,
    name: str | None = None,
    email: str | None = None,
    timestamp: str = at(0),
    added: list[str] | None = None,
    removed: list[str] | None = None,
    modified: list[str] | None = None,
    distinct: bool = True,
    id: str | None = None,
) -> Payload:
    """A commit as listed in push ``commits``/``head_commit``.

    author/committer carry ``username`` only when the email maps to a GitHub account; pass
    ``author=None, name=..., email=...`` for an unlinked author (no ``username`` key at all).
    """
    repo = repo if repo is not None else REPO_API
    commit_id = id if id is not None else sha(f"{_full_name(repo)}:{message}:{timestamp}")
    person: dict[str, str] = {}
    if author is not None:
        person = {
            "name": name or author["login"],
            "email": email or noreply_email(author["login"], author["id"]),
            "username": username or author["login"],
        }
    else:
        person = {"name": name or "Unlinked Dev", "email": email or "dev@example.com"}
    return {
        "id": commit_id,
        "tree_id": sha(f"tree:{commit_id}"),
        "distinct": distinct,
        "message": message,
        "timestamp": timestamp,
        "url": f"{_repo_web(repo)}/commit/{commit_id}",
        "author": dict(person),
        "committer": dict(person),
        "added": list(added or []),
        "removed": list(removed or []),
        "modified": list(modified if modified is not None else ["app/auth.py"]),
    }


def simple_commit(commit_id: str, message: str, timestamp: str, author: Payload) -> Payload:
    """The {id, tree_id, message, timestamp, author, committer} head_commit of CI events."""
    person = {"name": author["login"], "email": noreply_email(author["login"], author["id"])}
    return {
        "id": commit_id,
        "tree_id": sha(f"tree:{commit_id}"),
        "message": message,
        "timestamp": timestamp,
        "author": dict(person),
        "committer": dict(person),
    }


def app(
    *,
    id: int = APP_ID,
    slug: str = APP_SLUG,
    name: str = APP_NAME,
    owner: Payload | None = None,
) -> Payload:
    """A GitHub App object (check_suite.app, check_run.app)."""
    return {
        "id": id,
        "slug": slug,
        "node_id": node_id("App", id),
        "owner": copy.deepcopy(owner if owner is not None else ACME),
        "name": name,
        "description": "",
        "external_url": f"https://{slug}.example.com",
        "html_url": f"{WEB}/apps/{slug}",
        "created_at": at(-60 * 24 * 30),
        "updated_at": at(-60 * 24 * 30),
        "permissions": dict(APP_PERMISSIONS),
        "events": list(APP_EVENTS),
    }


GITHUB_ACTIONS_APP = app(
    id=GITHUB_ACTIONS_APP_ID,
    slug="github-actions",
    name="GitHub Actions",
    owner=user("github", 9919, "Organization"),
)


def workflow(
    *, repo: Payload | None = None, name: str = "CI", path: str = ".github/workflows/ci.yml"
) -> Payload:
    """The ``workflow`` object sent beside workflow_run."""
    repo = repo if repo is not None else REPO_API
    workflow_id = stable_id("workflow", repo["id"], path)
    return {
        "id": workflow_id,
        "node_id": node_id("Workflow", workflow_id),
        "name": name,
        "path": path,
        "state": "active",
        "created_at": at(-60 * 24 * 30),
        "updated_at": at(-60 * 24 * 30),
        "url": f"{_repo_api(repo)}/actions/workflows/{workflow_id}",
        "html_url": f"{_repo_web(repo)}/blob/{repo['default_branch']}/{path}",
        "badge_url": f"{_repo_web(repo)}/workflows/{name}/badge.svg",
    }


def workflow_run(
    *,
    repo: Payload | None = None,
    head_repo: Payload | None = None,
    pr: Payload | None = None,
    event: str = "pull_request",
    head_branch: str = "feature/login",
    head_sha: str | None = None,
    status: str = "completed",
    conclusion: str | None = "success",
    run_number: int = 1,
    run_attempt: int = 1,
    actor: Payload | None = None,
    created_at: str = at(150),
    updated_at: str | None = None,
    run_started_at: str | None = None,
    include_pull_requests: bool = True,
    id: int | None = None,
) -> Payload:
    """A workflow run. ``pull_requests`` is filled from ``pr`` unless the PR comes from a
    fork: GitHub leaves it empty then, so a handler must fall back to head_sha/head_branch.
    """
    repo = repo if repo is not None else REPO_API
    if pr is not None:
        head_branch = pr["head"]["ref"]
        head_sha = head_sha or pr["head"]["sha"]
        head_repo = head_repo or pr["head"]["repo"] or repo
    head_repo = head_repo if head_repo is not None else repo
    head_sha = head_sha if head_sha is not None else sha(f"{_full_name(repo)}:{head_branch}")
    run_id = id if id is not None else stable_id("workflow_run", repo["id"], head_sha, run_number)
    suite_id = stable_id("check_suite", repo["id"], head_sha, GITHUB_ACTIONS_APP_ID)
    flow = workflow(repo=repo)
    actor = actor if actor is not None else (pr["user"] if pr is not None else ALICE)
    is_fork = head_repo["id"] != repo["id"]
    pulls = (
        [pull_request_minimal(pr)]
        if pr is not None and include_pull_requests and not is_fork
        else []
    )
    api_url = f"{_repo_api(repo)}/actions/runs/{run_id}"
    return {
        "id": run_id,
        "name": flow["name"],
        "node_id": node_id("WorkflowRun", run_id),
        "head_branch": head_branch,
        "head_sha": head_sha,
        "path": flow["path"],
        "display_title": pr["title"] if pr is not None else "CI",
        "run_number": run_number,
        "event": event,
        "status": status,
        "conclusion": conclusion,
        "workflow_id": flow["id"],
        "check_suite_id": suite_id,
        "check_suite_node_id": node_id("CheckSuite", suite_id),
        "url": api_url,
        "html_url": f"{_repo_web(repo)}/actions/runs/{run_id}",
        "pull_requests": pulls,
        "created_at": created_at,
        "updated_at": updated_at if updated_at is not None else created_at,
        "actor": copy.deepcopy(actor),
        "run_attempt": run_attempt,
        "referenced_workflows": [],
        "run_started_at": run_started_at if run_started_at is not None else created_at,
        "triggering_actor": copy.deepcopy(actor),
        "jobs_url": f"{api_url}/jobs",
        "logs_url": f"{api_url}/logs",
        "check_suite_url": f"{_repo_api(repo)}/check-suites/{suite_id}",
        "artifacts_url": f"{api_url}/artifacts",
        "cancel_url": f"{api_url}/cancel",
        "rerun_url": f"{api_url}/rerun",
        "previous_attempt_url": f"{api_url}/attempts/{run_attempt - 1}"
        if run_attempt > 1
        else None,
        "workflow_url": flow["url"],
        "head_commit": simple_commit(head_sha, "Add login endpoint", created_at, actor),
        "repository": repository_lite(repo),
        "head_repository": repository_lite(head_repo),
    }


def check_suite(
    *,
    repo: Payload | None = None,
    pr: Payload | None = None,
    head_branch: str | None = "feature/login",
    head_sha: str | None = None,
    status: str = "completed",
    conclusion: str | None = "success",
    suite_app: Payload | None = None,
    before: str | None = None,
    created_at: str = at(150),
    updated_at: str | None = None,
    latest_check_runs_count: int = 1,
    id: int | None = None,
) -> Payload:
    """A check suite; ``pull_requests`` stays empty for fork PRs, as on GitHub."""
    repo = repo if repo is not None else REPO_API
    owner_app = suite_app if suite_app is not None else app()
    if pr is not None:
        head_branch, head_sha = pr["head"]["ref"], head_sha or pr["head"]["sha"]
    head_sha = head_sha if head_sha is not None else sha(f"{_full_name(repo)}:{head_branch}")
    suite_id = (
        id if id is not None else stable_id("check_suite", repo["id"], head_sha, owner_app["id"])
    )
    from_fork = pr is not None and (pr["head"]["repo"] or {}).get("id") != repo["id"]
    api_url = f"{_repo_api(repo)}/check-suites/{suite_id}"
    return {
        "id": suite_id,
        "node_id": node_id("CheckSuite", suite_id),
        "head_branch": head_branch,
        "head_sha": head_sha,
        "status": status,
        "conclusion": conclusion,
        "url": api_url,
        "before": before if before is not None else sha(f"{head_sha}:before"),
        "after": head_sha,
        "pull_requests": [pull_request_minimal(pr)] if pr is not None and not from_fork else [],
        "app": copy.deepcopy(owner_app),
        "created_at": created_at,
        "updated_at": updated_at if updated_at is not None else created_at,
        "rerequestable": True,
        "runs_rerequestable": True,
        "latest_check_runs_count": latest_check_runs_count,
        "check_runs_url": f"{api_url}/check-runs",
        "head_commit": simple_commit(head_sha, "Add login endpoint", created_at, ALICE),
    }


def check_run(
    name: str = "DevMetrics PR analysis",
    *,
    repo: Payload | None = None,
    pr: Payload | None = None,
    suite: Payload | None = None,
    status: str = "completed",
    conclusion: str | None = "success",
    started_at: str = at(151),
    completed_at: str | None = None,
    title: str | None = "Risk: low",
    summary: str | None = "No risky changes found.",
    external_id: str = "",
    id: int | None = None,
) -> Payload:
    """A check run with its nested check_suite summary, app and ``pull_requests``."""
    repo = repo if repo is not None else REPO_API
    suite = (
        suite
        if suite is not None
        else check_suite(repo=repo, pr=pr, status=status, conclusion=conclusion)
    )
    run_id = id if id is not None else stable_id("check_run", suite["id"], name)
    if status == "completed" and completed_at is None:
        completed_at = at(160)
    nested_keys = (
        "id",
        "node_id",
        "head_branch",
        "head_sha",
        "status",
        "conclusion",
        "url",
        "before",
        "after",
        "pull_requests",
        "app",
        "created_at",
        "updated_at",
    )
    api_url = f"{_repo_api(repo)}/check-runs/{run_id}"
    return {
        "id": run_id,
        "node_id": node_id("CheckRun", run_id),
        "head_sha": suite["head_sha"],
        "external_id": external_id,
        "url": api_url,
        "html_url": f"{_repo_web(repo)}/runs/{run_id}",
        "details_url": f"https://{suite['app']['slug']}.example.com/runs/{run_id}",
        "status": status,
        "conclusion": conclusion,
        "started_at": started_at,
        "completed_at": completed_at,
        "output": {
            "title": title,
            "summary": summary,
            "text": None,
            "annotations_count": 0,
            "annotations_url": f"{api_url}/annotations",
        },
        "name": name,
        "check_suite": {key: copy.deepcopy(suite[key]) for key in nested_keys},
        "app": copy.deepcopy(suite["app"]),
        "pull_requests": copy.deepcopy(suite["pull_requests"]),
    }


def deployment(
    *,
    repo: Payload | None = None,
    sha_: str | None = None,
    ref: str = "main",
    environment: str = "production",
    creator: Payload | None = None,
    description: str | None = None,
    created_at: str = at(210),
    updated_at: str | None = None,
    id: int | None = None,
) -> Payload:
    """A deployment (DORA: deployment frequency and lead time start here).

    ``sha_`` has a trailing underscore only to avoid shadowing the module's ``sha()``.
    """
    repo = repo if repo is not None else REPO_API
    commit_sha = sha_ if sha_ is not None else sha(f"{_full_name(repo)}:{ref}")
    dep_id = id if id is not None else stable_id("deployment", repo["id"], commit_sha, environment)
    api_url = f"{_repo_api(repo)}/deployments/{dep_id}"
    return {
        "url": api_url,
        "id": dep_id,
        "node_id": node_id("Deployment", dep_id),
        "sha": commit_sha,
        "ref": ref,
        "task": "deploy",
        "payload": {},
        "original_environment": environment,
        "environment": environment,
        "transient_environment": False,
        "production_environment": environment == "production",
        "description": description,
        "creator": copy.deepcopy(creator if creator is not None else CAROL),
        "created_at": created_at,
        "updated_at": updated_at if updated_at is not None else created_at,
        "statuses_url": f"{api_url}/statuses",
        "repository_url": _repo_api(repo),
        "performed_via_github_app": None,
    }


def deployment_status(
    dep: Payload,
    *,
    state: str = "success",
    creator: Payload | None = None,
    description: str = "",
    created_at: str = at(220),
    id: int | None = None,
) -> Payload:
    """A deployment status: success/failure/error/pending/in_progress/queued/inactive."""
    status_id = (
        id if id is not None else stable_id("deployment_status", dep["id"], state, created_at)
    )
    return {
        "url": f"{dep['url']}/statuses/{status_id}",
        "id": status_id,
        "node_id": node_id("DeploymentStatus", status_id),
        "state": state,
        "creator": copy.deepcopy(creator if creator is not None else dep["creator"]),
        "description": description,
        "environment": dep["environment"],
        "target_url": "",
        "log_url": "",
        "environment_url": "",
        "created_at": created_at,
        "updated_at": created_at,
        "deployment_url": dep["url"],
        "repository_url": dep["repository_url"],
        "performed_via_github_app": None,
    }


# --------------------------------------------------------------------------- installations


def installation(
    id: int = ORG_INSTALLATION_ID,
    *,
    target: Payload | None = None,
    repository_selection: str = "selected",
    created_at: str = at(-60 * 24),
    updated_at: str | None = None,
    suspended_by: Payload | None = None,
    suspended_at: str | None = None,
    epoch_timestamps: bool = False,
    permissions: dict[str, str] | None = None,
) -> Payload:
    """The full installation object of installation / installation_repositories events.

    GitHub has sent ``created_at``/``updated_at`` both as ISO strings and as integer unix
    seconds (the schema allows either); ``epoch_timestamps=True`` reproduces the latter.
    """
    target = target if target is not None else ACME
    updated_at = updated_at if updated_at is not None else created_at
    is_org = target["type"] == "Organization"
    settings = f"{WEB}/organizations/{target['login']}/settings" if is_org else f"{WEB}/settings"
    return {
        "id": id,
        "client_id": "Iv1.0123456789abcdef",
        "account": copy.deepcopy(target),
        "repository_selection": repository_selection,
        "access_tokens_url": f"{API}/app/installations/{id}/access_tokens",
        "repositories_url": f"{API}/installation/repositories",
        "html_url": f"{settings}/installations/{id}",
        "app_id": APP_ID,
        "app_slug": APP_SLUG,
        "target_id": target["id"],
        "target_type": target["type"],
        "permissions": dict(permissions if permissions is not None else APP_PERMISSIONS),
        "events": list(APP_EVENTS),
        "created_at": unix(created_at) if epoch_timestamps else created_at,
        "updated_at": unix(updated_at) if epoch_timestamps else updated_at,
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": copy.deepcopy(suspended_by),
        "suspended_at": suspended_at,
    }


def marketplace_plan(
    *,
    id: int = 9101,
    name: str = "Team",
    monthly_price_in_cents: int = 4900,
    yearly_price_in_cents: int = 49000,
    price_model: str = "FLAT_RATE",
    has_free_trial: bool = True,
    unit_name: str | None = None,
) -> Payload:
    """A Marketplace listing plan; ``unit_name`` is set only for per-unit plans.

    ``price_model`` uses the REST enum (FREE / FLAT_RATE / PER_UNIT); GitHub's own webhook
    example spells it "per-unit", so handlers should compare case-insensitively.
    """
    return {
        "id": id,
        "name": name,
        "description": f"DevMetrics {name} plan",
        "monthly_price_in_cents": monthly_price_in_cents,
        "yearly_price_in_cents": yearly_price_in_cents,
        "price_model": price_model,
        "has_free_trial": has_free_trial,
        "unit_name": unit_name,
        "bullets": ["Cycle time", "DORA metrics"],
    }


FREE_PLAN = marketplace_plan(
    id=9100,
    name="Free",
    monthly_price_in_cents=0,
    yearly_price_in_cents=0,
    price_model="FREE",
    has_free_trial=False,
)
TEAM_PLAN = marketplace_plan()
BUSINESS_PLAN = marketplace_plan(
    id=9102,
    name="Business",
    monthly_price_in_cents=1500,
    yearly_price_in_cents=15000,
    price_model="PER_UNIT",
    unit_name="seat",
)


def marketplace_purchase(
    *,
    target: Payload | None = None,
    plan: Payload | None = None,
    billing_cycle: str = "monthly",
    unit_count: int = 1,
    on_free_trial: bool = False,
    free_trial_ends_on: str | None = None,
    next_billing_date: str | None = "2024-06-01T00:00:00+00:00",
    billing_email: str | None = "billing@acme.example",
) -> Payload:
    """The marketplace_purchase object. Its ``account`` is a five-field shape of its own,
    and Marketplace dates are "+00:00"-style, not "Z"-style.
    """
    target = target if target is not None else ACME
    out: Payload = {
        "account": {
            "type": target["type"],
            "id": target["id"],
            "node_id": target["node_id"],
            "login": target["login"],
            "organization_billing_email": billing_email,
        },
        "billing_cycle": billing_cycle,
        "unit_count": unit_count,
        "on_free_trial": on_free_trial,
        "free_trial_ends_on": free_trial_ends_on,
        "next_billing_date": next_billing_date,
        "plan": copy.deepcopy(plan if plan is not None else TEAM_PLAN),
    }
    return out


def hook(*, id: int = HOOK_ID, url: str = WEBHOOK_URL, hook_type: str = "App") -> Payload:
    """The app's webhook as described in a ``ping``.

    ``hook_type`` "App" is what an app-level hook reports; octokit's older schema only
    lists "Repository"/"Organization", so handlers should not branch on it.
    """
    return {
        "type": hook_type,
        "id": id,
        "name": "web",
        "active": True,
        "events": list(APP_EVENTS),
        "config": {"content_type": "json", "insecure_ssl": "0", "url": url},
        "updated_at": at(-60 * 24 * 30),
        "created_at": at(-60 * 24 * 30),
        "app_id": APP_ID,
        "deliveries_url": f"{API}/app/hook/deliveries",
    }


# --------------------------------------------------------------------------- event envelope


def _finish(payload: Payload) -> Payload:
    """Deep-copy so payloads never share nested objects with each other or constants."""
    return copy.deepcopy(payload)


def _context(repo: Payload, sender: Payload, installation_id: int | None) -> Payload:
    """repository / organization / sender / installation, as GitHub appends them.

    ``organization`` appears only for organisation-owned repositories.
    """
    owner = repo["owner"]
    out: Payload = {"repository": repo}
    if owner["type"] == "Organization":
        out["organization"] = organization(owner["login"], owner["id"])
    out["sender"] = sender
    inst = (
        installation_id if installation_id is not None else INSTALLATION_BY_ACCOUNT_ID[owner["id"]]
    )
    out["installation"] = installation_ref(inst)
    return out


# --------------------------------------------------------------------------- events: app


def installation_event(
    action: str = "created",
    *,
    target: Payload | None = None,
    id: int | None = None,
    repositories: list[Payload] | None = None,
    requester: Payload | None = None,
    sender: Payload | None = None,
    installation_obj: Payload | None = None,
    **overrides: Any,
) -> Payload:
    """installation: created / deleted / suspend / unsuspend / new_permissions_accepted.

    ``repositories`` (five-field shape) comes with created and deleted; ``requester`` only
    with created (null unless someone without rights asked for the install).
    """
    target = target if target is not None else ACME
    inst_id = (
        id if id is not None else INSTALLATION_BY_ACCOUNT_ID.get(target["id"], ORG_INSTALLATION_ID)
    )
    sender = (
        sender if sender is not None else (CAROL if target["type"] == "Organization" else target)
    )
    inst = (
        installation_obj if installation_obj is not None else installation(inst_id, target=target)
    )
    if action == "suspend" and inst["suspended_by"] is None:
        inst = {**inst, "suspended_by": sender, "suspended_at": at(60 * 24)}
    payload: Payload = {"action": action, "installation": inst}
    if action in ("created", "deleted"):
        default_repos = [REPO_API, REPO_WEB] if target["id"] == ORG_ID else [REPO_TOOL]
        repos = repositories if repositories is not None else default_repos
        payload["repositories"] = [installation_repository(repo) for repo in repos]
    if action == "created":
        payload["requester"] = requester
    payload["sender"] = sender
    payload.update(overrides)
    return _finish(payload)


def installation_repositories_event(
    action: str = "added",
    *,
    added: list[Payload] | None = None,
    removed: list[Payload] | None = None,
    target: Payload | None = None,
    repository_selection: str = "selected",
    sender: Payload | None = None,
    **overrides: Any,
) -> Payload:
    """installation_repositories: added / removed, with both lists always present."""
    target = target if target is not None else ACME
    inst_id = INSTALLATION_BY_ACCOUNT_ID.get(target["id"], ORG_INSTALLATION_ID)
    payload: Payload = {
        "action": action,
        "installation": installation(
            inst_id, target=target, repository_selection=repository_selection
        ),
        "repository_selection": repository_selection,
        "repositories_added": [installation_repository(r) for r in (added or [])],
        "repositories_removed": [installation_repository(r) for r in (removed or [])],
        "requester": None,
        "sender": sender if sender is not None else CAROL,
    }
    payload.update(overrides)
    return _finish(payload)


def repository_event(
    action: str = "created",
    *,
    repo: Payload | None = None,
    sender: Payload | None = None,
    installation_id: int | None = None,
    **overrides: Any,
) -> Payload:
    """repository: created / deleted / archived / unarchived / renamed / transferred / ...

    renamed carries ``changes.repository.name.from`` (pass ``changes=`` to override).
    """
    repo = repo if repo is not None else REPO_WEB
    payload: Payload = {"action": action}
    if action == "renamed":
        payload["changes"] = {"repository": {"name": {"from": "website"}}}
    payload.update(_context(repo, sender if sender is not None else CAROL, installation_id))
    payload.update(overrides)
    return _finish(payload)


def marketplace_purchase_event(
    action: str = "purchased",
    *,
    purchase: Payload | None = None,
    previous: Payload | None = None,
    effective_date: str = "2024-05-01T00:00:00+00:00",
    sender: Payload | None = None,
    **overrides: Any,
) -> Payload:
    """marketplace_purchase: purchased / changed / cancelled / pending_change /
    pending_change_cancelled. No ``installation`` (a purchase can precede it); the sender
    carries ``email``. ``previous_marketplace_purchase`` accompanies changed and the
    pending_* actions.
    """
    who = sender if sender is not None else CAROL
    payload: Payload = {
        "action": action,
        "effective_date": effective_date,
        "sender": {**who, "email": noreply_email(who["login"], who["id"])},
        "marketplace_purchase": purchase if purchase is not None else marketplace_purchase(),
    }
    if action in ("changed", "pending_change", "pending_change_cancelled"):
        payload["previous_marketplace_purchase"] = (
            previous if previous is not None else marketplace_purchase(plan=FREE_PLAN)
        )
    payload.update(overrides)
    return _finish(payload)


def github_app_authorization_event(
    action: str = "revoked", *, sender: Payload | None = None, **overrides: Any
) -> Payload:
    """github_app_authorization: revoked -- only action and sender, no installation."""
    payload: Payload = {"action": action, "sender": sender if sender is not None else ALICE}
    payload.update(overrides)
    return _finish(payload)


def ping_event(
    *, hook_obj: Payload | None = None, sender: Payload | None = None, **overrides: Any
) -> Payload:
    """ping: sent once when the app's webhook is created; no action, no installation."""
    the_hook = hook_obj if hook_obj is not None else hook()
    payload: Payload = {
        "zen": "Keep it logically awesome.",
        "hook_id": the_hook["id"],
        "hook": the_hook,
        "sender": sender if sender is not None else CAROL,
    }
    payload.update(overrides)
    return _finish(payload)


# --------------------------------------------------------------------------- events: code


def push_event(
    *,
    repo: Payload | None = None,
    ref: str = "refs/heads/main",
    before: str | None = None,
    after: str | None = None,
    commits: list[Payload] | None = None,
    deleted: bool = False,
    forced: bool = False,
    created: bool = False,
    sender: Payload | None = None,
    pushed_at: str | None = None,
    installation_id: int | None = None,
    **overrides: Any,
) -> Payload:
    """push. A branch deletion has deleted=True, after=ZERO_SHA, commits=[] and a null
    head_commit; a new branch has created=True and before=ZERO_SHA.
    """
    repo = repo if repo is not None else REPO_API
    sender = sender if sender is not None else ALICE
    commits = (
        [] if deleted else (commits if commits is not None else [commit(repo=repo, author=sender)])
    )
    head = commits[-1] if commits else None
    after = ZERO_SHA if deleted else (after or (head["id"] if head else sha(f"{ref}:after")))
    before = ZERO_SHA if created else (before or sha(f"{_full_name(repo)}:{ref}:before:{after}"))
    when = pushed_at or (head["timestamp"] if head else at(0))
    if created:
        compare = f"{_repo_web(repo)}/commit/{after}"
    else:
        compare = f"{_repo_web(repo)}/compare/{before[:12]}...{after[:12]}"
    payload: Payload = {
        "ref": ref,
        "before": before,
        "after": after,
        "created": created,
        "deleted": deleted,
        "forced": forced,
        "base_ref": None,
        "compare": compare,
        "commits": commits,
        "head_commit": head,
        "pusher": {"name": sender["login"], "email": noreply_email(sender["login"], sender["id"])},
    }
    payload.update(_context(push_repository({**repo, "pushed_at": when}), sender, installation_id))
    payload.update(overrides)
    return _finish(payload)


def _pr_action_defaults(action: str, pr: Payload) -> Payload:
    """The extra top-level keys GitHub adds for some pull_request actions."""
    if action == "synchronize":
        return {"before": sha(f"{pr['head']['sha']}:previous"), "after": pr["head"]["sha"]}
    if action in ("review_requested", "review_request_removed"):
        reviewer = pr["requested_reviewers"][0] if pr["requested_reviewers"] else BOB
        return {"requested_reviewer": reviewer}
    if action in ("labeled", "unlabeled"):
        return {"label": pr["labels"][0] if pr["labels"] else label("enhancement")}
    if action in ("assigned", "unassigned"):
        return {"assignee": pr["assignee"] if pr["assignee"] else pr["user"]}
    if action == "edited":
        return {"changes": {"title": {"from": "WIP: " + pr["title"]}}}
    return {}


def pull_request_event(
    action: str = "opened",
    pr: Payload | None = None,
    *,
    sender: Payload | None = None,
    installation_id: int | None = None,
    **overrides: Any,
) -> Payload:
    """pull_request with any action; repository comes from ``pr.base.repo``.

    Action extras default sensibly (synchronize: before/after; review_requested: a
    requested_reviewer -- pass ``requested_team=`` and ``requested_reviewer`` is dropped;
    labeled: label; assigned: assignee; edited: changes) and can be overridden.
    """
    pr = pr if pr is not None else pull_request()
    extras = _pr_action_defaults(action, pr)
    if "requested_team" in overrides:
        extras.pop("requested_reviewer", None)
    sender = sender if sender is not None else pr["user"]
    payload: Payload = {"action": action, "number": pr["number"], "pull_request": pr, **extras}
    payload.update(_context(pr["base"]["repo"], sender, installation_id))
    payload.update(overrides)
    return _finish(payload)


def pull_request_review_event(
    action: str = "submitted",
    pr: Payload | None = None,
    rev: Payload | None = None,
    *,
    sender: Payload | None = None,
    installation_id: int | None = None,
    **overrides: Any,
) -> Payload:
    """pull_request_review: submitted / edited / dismissed, with a *simple* pull request."""
    pr = pr if pr is not None else pull_request()
    rev = rev if rev is not None else review(pr)
    payload: Payload = {"action": action, "review": rev, "pull_request": simple_pull_request(pr)}
    if action == "edited":
        payload["changes"] = {"body": {"from": "Looks good."}}
    default_sender = rev["user"] if rev["user"] is not None else GHOST
    payload.update(
        _context(
            pr["base"]["repo"], sender if sender is not None else default_sender, installation_id
        )
    )
    payload.update(overrides)
    return _finish(payload)


def pull_request_review_comment_event(
    action: str = "created",
    pr: Payload | None = None,
    comment: Payload | None = None,
    *,
    sender: Payload | None = None,
    installation_id: int | None = None,
    **overrides: Any,
) -> Payload:
    """pull_request_review_comment: created / edited (changes.body.from) / deleted."""
    pr = pr if pr is not None else pull_request()
    comment = comment if comment is not None else review_comment(pr)
    payload: Payload = {
        "action": action,
        "comment": comment,
        "pull_request": simple_pull_request(pr),
    }
    if action == "edited":
        payload["changes"] = {"body": {"from": "Please handle empty passwords."}}
    payload.update(
        _context(
            pr["base"]["repo"], sender if sender is not None else comment["user"], installation_id
        )
    )
    payload.update(overrides)
    return _finish(payload)


# --------------------------------------------------------------------------- events: planning


def issues_event(
    action: str = "opened",
    iss: Payload | None = None,
    *,
    repo: Payload | None = None,
    sender: Payload | None = None,
    installation_id: int | None = None,
    **overrides: Any,
) -> Payload:
    """issues: opened / edited / closed / reopened / labeled / unlabeled / milestoned /
    demilestoned / assigned / unassigned / transferred / deleted.

    Pass ``label=``, ``milestone=``, ``assignee=`` or ``changes=`` for the action extras
    (demilestoned: the issue's milestone is already null, the top-level one was removed).
    """
    iss = iss if iss is not None else issue()
    repo = repo if repo is not None else _repo_of_issue(iss)
    payload: Payload = {"action": action, "issue": iss}
    if action == "edited":
        payload["changes"] = {"title": {"from": "Cycle time wrong"}}
    payload.update(
        _context(repo, sender if sender is not None else (iss["user"] or GHOST), installation_id)
    )
    payload.update(overrides)
    return _finish(payload)


def _repo_of_issue(iss: Payload) -> Payload:
    """Find the sample-world repository an issue/milestone URL points into."""
    for repo in (REPO_API, REPO_WEB, REPO_TOOL, REPO_LEGACY):
        if iss["url"].startswith(repo["url"] + "/"):
            return repo
    raise ValueError(f"pass repo= for an issue outside the sample world: {iss['url']}")


def milestone_event(
    action: str = "created",
    ms: Payload | None = None,
    *,
    repo: Payload | None = None,
    sender: Payload | None = None,
    installation_id: int | None = None,
    **overrides: Any,
) -> Payload:
    """milestone: created / edited (changes) / closed / opened / deleted."""
    ms = ms if ms is not None else milestone()
    repo = repo if repo is not None else _repo_of_issue(ms)
    payload: Payload = {"action": action, "milestone": ms}
    if action == "edited":
        payload["changes"] = {"due_on": {"from": at(60 * 24 * 7)}}
    payload.update(_context(repo, sender if sender is not None else ms["creator"], installation_id))
    payload.update(overrides)
    return _finish(payload)


# --------------------------------------------------------------------------- events: CI/CD


def workflow_run_event(
    action: str = "completed",
    run: Payload | None = None,
    *,
    repo: Payload | None = None,
    sender: Payload | None = None,
    installation_id: int | None = None,
    **overrides: Any,
) -> Payload:
    """workflow_run: requested / in_progress / completed, with the ``workflow`` object."""
    repo = repo if repo is not None else REPO_API
    if run is None:
        status = {"requested": "queued", "in_progress": "in_progress"}.get(action, "completed")
        run = workflow_run(
            repo=repo, status=status, conclusion="success" if status == "completed" else None
        )
    payload: Payload = {"action": action, "workflow_run": run, "workflow": workflow(repo=repo)}
    payload.update(_context(repo, sender if sender is not None else run["actor"], installation_id))
    payload.update(overrides)
    return _finish(payload)


def deployment_event(
    action: str = "created",
    dep: Payload | None = None,
    *,
    repo: Payload | None = None,
    sender: Payload | None = None,
    installation_id: int | None = None,
    **overrides: Any,
) -> Payload:
    """deployment: created. ``workflow``/``workflow_run`` are null unless Actions deployed."""
    repo = repo if repo is not None else REPO_API
    dep = dep if dep is not None else deployment(repo=repo)
    payload: Payload = {"action": action, "deployment": dep, "workflow": None, "workflow_run": None}
    payload.update(
        _context(repo, sender if sender is not None else dep["creator"], installation_id)
    )
    payload.update(overrides)
    return _finish(payload)


def deployment_status_event(
    state: str = "success",
    dep: Payload | None = None,
    *,
    status: Payload | None = None,
    repo: Payload | None = None,
    sender: Payload | None = None,
    created_at: str = at(220),
    installation_id: int | None = None,
    **overrides: Any,
) -> Payload:
    """deployment_status: created (the only action), carrying the status and its deployment."""
    repo = repo if repo is not None else REPO_API
    dep = dep if dep is not None else deployment(repo=repo)
    status = (
        status if status is not None else deployment_status(dep, state=state, created_at=created_at)
    )
    payload: Payload = {"action": "created", "deployment_status": status, "deployment": dep}
    payload.update(
        _context(repo, sender if sender is not None else status["creator"], installation_id)
    )
    payload.update(overrides)
    return _finish(payload)


def check_suite_event(
    action: str = "completed",
    suite: Payload | None = None,
    *,
    repo: Payload | None = None,
    sender: Payload | None = None,
    installation_id: int | None = None,
    **overrides: Any,
) -> Payload:
    """check_suite: requested / rerequested / completed."""
    repo = repo if repo is not None else REPO_API
    if suite is None:
        done = action == "completed"
        suite = check_suite(
            repo=repo,
            status="completed" if done else "queued",
            conclusion="success" if done else None,
        )
    payload: Payload = {"action": action, "check_suite": suite}
    payload.update(_context(repo, sender if sender is not None else ALICE, installation_id))
    payload.update(overrides)
    return _finish(payload)


def check_run_event(
    action: str = "completed",
    run: Payload | None = None,
    *,
    repo: Payload | None = None,
    sender: Payload | None = None,
    identifier: str = "rerun-analysis",
    installation_id: int | None = None,
    **overrides: Any,
) -> Payload:
    """check_run: created / completed / rerequested / requested_action.

    requested_action carries ``requested_action.identifier`` (the button the user pressed).
    """
    repo = repo if repo is not None else REPO_API
    if run is None:
        done = action != "created"
        run = check_run(
            repo=repo,
            status="completed" if done else "queued",
            conclusion="success" if done else None,
        )
    payload: Payload = {"action": action, "check_run": run}
    if action == "requested_action":
        payload["requested_action"] = {"identifier": identifier}
    payload.update(_context(repo, sender if sender is not None else ALICE, installation_id))
    payload.update(overrides)
    return _finish(payload)


