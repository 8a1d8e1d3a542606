"""What the fake GitHub knows, and what it saw. Tests arrange the world here, then assert on
`requests` (every request the fake answered) and on the data."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class InjectedFailure:
    """Answer the next `times` requests whose path starts with `path_prefix` (and, when given,
    whose method is `method`) with `status`."""

    path_prefix: str
    status: int
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    body: Json = field(default_factory=lambda: {"message": "You have exceeded a secondary rate limit."})
    method: str | None = None
    when: Callable[[Any], bool] | None = None  # a test on the request's JSON body
    # Do the request's work, then answer with the failure: a gateway that lost GitHub's answer.
    after_handling: bool = False


@dataclass
class HeldRequests:
    """Hold the next `times` requests whose path starts with `path_prefix` (and whose method is
    `method`, when given) until `released` is set: a test can then act while the app waits."""

    path_prefix: str
    method: str | None = None
    times: int = 1
    waiting: int = 0
    released: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class FakeGitHubState:
    # The app itself (GET /app) and its key, to verify app JWTs.
    app: Json = field(default_factory=dict)
    app_public_key_pem: str = ""
    webhook_secret: str = "fake-webhook-secret"
    client_id: str = "Iv1.fakeclientid"
    client_secret: str = "fake-client-secret"

    # Installations: id -> installation object (account, suspended_at, ...).
    installations: dict[int, Json] = field(default_factory=dict)
    # Which installations each user may see (GET /user/installations): login -> ids.
    user_installations: dict[str, list[int]] = field(default_factory=dict)
    # Users by login (GET /user with their token).
    users: dict[str, Json] = field(default_factory=dict)
    # Organisation memberships (GET /orgs/{org}/memberships/{username}): (org, login) -> role.
    org_roles: dict[tuple[str, str], str] = field(default_factory=dict)
    # Who the fake consent page signs in when the request does not say (?login=).
    default_login: str = "alice"
    user_token_seconds: int = 8 * 3600

    # Repositories by "owner/name"; per-repository lists of GitHub objects.
    repositories: dict[str, Json] = field(default_factory=dict)
    repository_installation: dict[str, int] = field(default_factory=dict)
    pulls: dict[str, list[Json]] = field(default_factory=dict)
    reviews: dict[tuple[str, int], list[Json]] = field(default_factory=dict)  # (repo, number)
    pull_files: dict[tuple[str, int], list[Json]] = field(default_factory=dict)
    commits: dict[str, list[Json]] = field(default_factory=dict)
    issues: dict[str, list[Json]] = field(default_factory=dict)
    milestones: dict[str, list[Json]] = field(default_factory=dict)
    workflow_runs: dict[str, list[Json]] = field(default_factory=dict)
    deployments: dict[str, list[Json]] = field(default_factory=dict)
    deployment_statuses: dict[int, list[Json]] = field(default_factory=dict)
    # Files by (repo, ref, path) for the contents API (e.g. .github/devmetrics.yml).
    contents: dict[tuple[str, str, str], bytes] = field(default_factory=dict)

    # Tokens the fake issued: token -> {"installation_id"|"login", "expires_at"}.
    tokens: dict[str, Json] = field(default_factory=dict)
    token_lifetime_seconds: int = 3600
    # OAuth codes: code -> login; manifest codes: code -> app conversion payload.
    oauth_codes: dict[str, str] = field(default_factory=dict)
    manifest_codes: dict[str, Json] = field(default_factory=dict)

    # Deliveries of the app's hook (GET /app/hook/deliveries), newest first.
    hook_deliveries: list[Json] = field(default_factory=list)

    # Things the app created (check runs, comments) by repo.
    check_runs: dict[str, list[Json]] = field(default_factory=dict)
    comments: dict[tuple[str, int], list[Json]] = field(default_factory=dict)

    # Every request answered, and failures to inject.
    requests: list[RecordedRequest] = field(default_factory=list)
    failures: list[InjectedFailure] = field(default_factory=list)
    holds: list[HeldRequests] = field(default_factory=list)
    # Remaining primary rate limit per token (None: unlimited) and its reset (epoch seconds).
    rate_limit_remaining: int | None = None
    rate_limit_reset: int = 0

    _ids: itertools.count = field(default_factory=lambda: itertools.count(9_000_000))

    def next_id(self) -> int:
        return next(self._ids)

    def requests_to(self, method: str, path_prefix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]
