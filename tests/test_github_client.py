"""Talking to GitHub as the app: the app JWT, installation tokens shared through real Redis, and
the client's rate-limit handling, all against the fake GitHub over HTTP.

Waits that would take a minute on GitHub are recorded instead of slept (an injected `sleep`),
except where the point is that the client really waits (retry-after: 1, a reset 1-2 s ahead).
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import orjson
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from fakes.github import create_fake_github
from fakes.github.state import FakeGitHubState, InjectedFailure
from gidgethub import BadRequest, GitHubBroken
from redis.asyncio import Redis

from devmetrics_app.config import Secret, Settings
from devmetrics_app.github import (
    AppNotConfigured,
    GitHubClients,
    InstallationUnavailable,
    RateLimited,
    RateLimitPolicy,
)
from devmetrics_app.github.app_jwt import encode_app_jwt
from devmetrics_app.github.client import Pacer
from devmetrics_app.importer.graphql_pulls import PULL_REQUESTS_QUERY

APP_ID = 12345
INSTALLATION = 101
OTHER_INSTALLATION = 102
SUSPENDED = 103
WORKER = Path(__file__).with_name("github_token_worker.py")
REPOS_PATH = "/installation/repositories"
TOKENS_PATH = "/app/installations/"

OpenClients = Callable[..., GitHubClients]


class RecordedSleep:
    """Records how long the client wanted to wait; `then` lets the fake's world move on (a
    rate-limit window resets) as if the time had passed."""

    def __init__(self, then: Callable[[], None] | None = None) -> None:
        self.delays: list[float] = []
        self._then = then

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self._then is not None:
            self._then()
        await asyncio.sleep(0)


def arrange(state: FakeGitHubState) -> None:
    for installation_id, login in ((INSTALLATION, "acme"), (OTHER_INSTALLATION, "globex")):
        state.installations[installation_id] = {
            "id": installation_id, "account": {"login": login, "type": "Organization"},
            "suspended_at": None, "repository_selection": "selected", "permissions": {"metadata": "read"}}
        for n in range(3):
            full_name = f"{login}/repo-{n}"
            state.repositories[full_name] = {"id": installation_id * 100 + n, "full_name": full_name}
            state.repository_installation[full_name] = installation_id
    state.installations[SUSPENDED] = {"id": SUSPENDED, "account": {"login": "initech"},
                                      "suspended_at": "2024-01-01T00:00:00Z"}


@pytest.fixture
def github(fake_github: tuple[FakeGitHubState, str]) -> tuple[FakeGitHubState, str]:
    state, base_url = fake_github
    arrange(state)
    return state, base_url


@pytest.fixture
async def open_clients(redis_url: str, private_key_pem: str) -> AsyncIterator[OpenClients]:
    """Builds GitHubClients like separate processes would: each its own session and in-process
    caches, all sharing one Redis namespace (unique to the test)."""
    redis = Redis.from_url(redis_url)
    namespace = f"devmetrics-test-{uuid.uuid4().hex[:8]}"
    sessions: list[aiohttp.ClientSession] = []

    def open_(base_url: str, **kwargs: Any) -> GitHubClients:
        session = aiohttp.ClientSession()
        sessions.append(session)
        settings = Settings(github_app_id=APP_ID, github_private_key=Secret(private_key_pem),
                            github_api_url=base_url, github_url=base_url)
        kwargs.setdefault("namespace", namespace)
        return GitHubClients(session=session, redis=redis, settings=settings, **kwargs)

    yield open_
    for session in sessions:
        await session.close()
    await redis.aclose()


Middleware = Callable[[web.Request, Any], Awaitable[web.StreamResponse]]


async def serve(aiohttp_server, state: FakeGitHubState, *middlewares: Middleware) -> str:
    """A second fake GitHub over the same state, with test-specific middlewares (delays,
    timing) inside the fake's own recording middleware."""
    app = create_fake_github(state)
    app.middlewares.extend(middlewares)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")


# --- the app JWT -----------------------------------------------------------------------------


async def test_app_jwt_claims_and_fake_accepts_it(github, open_clients: OpenClients) -> None:
    state, base_url = github
    token = encode_app_jwt(APP_ID, open_clients(base_url).settings.github_private_key.get())
    claims = jwt.decode(token, state.app_public_key_pem, algorithms=["RS256"])
    now = time.time()
    assert claims["iss"] == "12345"  # a string, as GitHub requires
    assert now - 62 <= claims["iat"] <= now - 58
    assert claims["exp"] - claims["iat"] <= 9 * 60
    assert jwt.get_unverified_header(token)["alg"] == "RS256"

    app = await open_clients(base_url).as_app().getitem("/app")
    assert app["slug"] == "devmetrics-test"
    assert state.requests_to("GET", "/app")[0].headers["Authorization"].startswith("bearer ")


async def test_fake_rejects_jwts_github_would_reject(github, private_key_pem: str) -> None:
    _, base_url = github
    now = int(time.time())
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = [
        jwt.encode({"iat": now - 60, "exp": now + 480, "iss": "12345"}, other_key, "RS256"),
        jwt.encode({"iat": now - 60, "exp": now + 480, "iss": "54321"}, private_key_pem, "RS256"),
        jwt.encode({"iat": now - 60, "exp": now + 700, "iss": "12345"}, private_key_pem, "RS256"),
        jwt.encode({"iat": now - 700, "exp": now - 100, "iss": "12345"}, private_key_pem, "RS256"),
    ]
    async with aiohttp.ClientSession() as session:
        for token in bad:
            async with session.get(f"{base_url}/app",
                                   headers={"Authorization": f"Bearer {token}"}) as response:
                assert response.status == 401


async def test_missing_credentials_is_a_clear_error(github, open_clients: OpenClients) -> None:
    state, base_url = github

    async def nothing() -> None:
        return None

    clients = open_clients(base_url, credentials=nothing)
    with pytest.raises(AppNotConfigured, match="GITHUB_APP_ID"):
        await clients.client_for(INSTALLATION)
    with pytest.raises(AppNotConfigured):
        await clients.as_app().getitem("/app")
    assert state.requests == []


# --- installation tokens ---------------------------------------------------------------------


async def test_token_is_minted_once_and_shared(github, open_clients: OpenClients) -> None:
    state, base_url = github
    clients = open_clients(base_url)

    async def list_repos() -> list[str]:
        gh = await clients.client_for(INSTALLATION)
        return [r["full_name"] async for r in gh.getiter(REPOS_PATH, iterable_key="repositories")]

    results = await asyncio.gather(*(list_repos() for _ in range(10)))
    assert all(names == ["acme/repo-0", "acme/repo-1", "acme/repo-2"] for names in results)
    assert len(state.requests_to("POST", TOKENS_PATH)) == 1

    # Another process (own in-process cache) finds the token in Redis.
    elsewhere = open_clients(base_url)
    assert await elsewhere.installation_token(INSTALLATION) == await clients.installation_token(INSTALLATION)
    assert len(state.requests_to("POST", TOKENS_PATH)) == 1
    # Tokens are per installation.
    assert await clients.installation_token(OTHER_INSTALLATION) != await clients.installation_token(
        INSTALLATION)
    assert len(state.requests_to("POST", TOKENS_PATH)) == 2


async def test_token_is_refreshed_before_it_expires(github, open_clients: OpenClients) -> None:
    state, base_url = github
    state.token_lifetime_seconds = 2
    clients = open_clients(base_url, refresh_margin=1.5)
    first = await clients.installation_token(INSTALLATION)
    assert await clients.installation_token(INSTALLATION) == first
    await asyncio.sleep(1.05)
    second = await clients.installation_token(INSTALLATION)
    assert second != first
    assert state.tokens[first]["expires_at"] > time.time()  # refreshed early, not after expiry
    assert len(state.requests_to("POST", TOKENS_PATH)) == 2


async def test_revoked_token_is_replaced_and_the_request_retried(github, open_clients: OpenClients) -> None:
    state, base_url = github
    gh = await open_clients(base_url).client_for(INSTALLATION)
    state.tokens.clear()  # GitHub forgot every token (expired early, or revoked)
    data = await gh.getitem(REPOS_PATH)
    assert data["total_count"] == 3
    statuses = [r.headers["Authorization"] for r in state.requests_to("GET", REPOS_PATH)]
    assert len(statuses) == 2 and statuses[0] != statuses[1]
    assert len(state.requests_to("POST", TOKENS_PATH)) == 2


async def test_two_processes_mint_one_token(github, aiohttp_server, open_clients: OpenClients,
                                            redis_url: str, private_key_pem: str,
                                            tmp_path: Path) -> None:
    state, _ = github

    @web.middleware
    async def slow_tokens(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(TOKENS_PATH):
            await asyncio.sleep(0.5)  # both processes are surely asking while this one is out
        return await handler(request)

    base_url = await serve(aiohttp_server, state, slow_tokens)
    namespace = f"devmetrics-test-{uuid.uuid4().hex[:8]}"
    key_file = tmp_path / "app.pem"
    key_file.write_text(private_key_pem)
    start_at = str(time.time() + 2.0)
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, str(WORKER), redis_url, base_url, str(key_file), str(APP_ID),
        str(INSTALLATION), namespace, start_at,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE) for _ in range(2)]
    outputs = [await asyncio.wait_for(p.communicate(), 20) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
    tokens = {orjson.loads(out)["token"] for out, _ in outputs}
    assert len(tokens) == 1
    assert len(state.requests_to("POST", TOKENS_PATH)) == 1


async def test_suspended_or_uninstalled_fails_fast_and_is_remembered(
        github, open_clients: OpenClients) -> None:
    state, base_url = github
    clients = open_clients(base_url)
    with pytest.raises(InstallationUnavailable, match="suspended") as raised:
        await clients.client_for(SUSPENDED)
    assert raised.value.reason == "suspended"
    assert "This installation has been suspended" in str(raised.value)
    with pytest.raises(InstallationUnavailable, match="remembered"):
        await open_clients(base_url).client_for(SUSPENDED)  # another process: no request either
    assert len(state.requests_to("POST", TOKENS_PATH)) == 1

    with pytest.raises(InstallationUnavailable) as raised:
        await clients.client_for(999)
    assert raised.value.reason == "not installed"
    with pytest.raises(InstallationUnavailable):
        await clients.client_for(999)
    assert len(state.requests_to("POST", TOKENS_PATH)) == 2

    # An `installation: unsuspend` webhook clears the verdict.
    state.installations[SUSPENDED]["suspended_at"] = None
    await clients.tokens.forget(SUSPENDED)
    assert await clients.client_for(SUSPENDED)
    assert len(state.requests_to("POST", TOKENS_PATH)) == 3


# --- rate limits -----------------------------------------------------------------------------


async def test_primary_limit_spent_waits_for_the_reset(github, open_clients: OpenClients) -> None:
    state, base_url = github
    gh = await open_clients(base_url, policy=RateLimitPolicy(reset_slack=0.1)).client_for(INSTALLATION)
    reset = int(time.time()) + 2
    state.rate_limit_remaining, state.rate_limit_reset = 0, reset
    loop = asyncio.get_running_loop()
    loop.call_later(reset - time.time(), lambda: setattr(state, "rate_limit_remaining", 5000))
    started = time.time()
    data = await gh.getitem(REPOS_PATH)
    assert data["total_count"] == 3
    assert time.time() >= reset and time.time() - started < 3.5
    assert len(state.requests_to("GET", REPOS_PATH)) == 2  # the 403, then the retry after reset


async def test_primary_limit_seen_in_headers_waits_before_sending(
        github, open_clients: OpenClients) -> None:
    state, base_url = github
    sleep = RecordedSleep(then=lambda: setattr(state, "rate_limit_remaining", 5000))
    clients = open_clients(base_url, sleep=sleep, policy=RateLimitPolicy(reset_slack=0))
    gh = await clients.client_for(INSTALLATION)
    state.rate_limit_remaining, state.rate_limit_reset = 1, int(time.time()) + 30
    await gh.getitem(REPOS_PATH)  # answered with X-RateLimit-Remaining: 0
    other = await clients.client_for(INSTALLATION)  # a new client shares the installation's budget
    await other.getitem(REPOS_PATH + "?per_page=2")
    assert len(sleep.delays) == 1 and 28 <= sleep.delays[0] <= 30
    assert len(state.requests_to("GET", REPOS_PATH)) == 2  # no 403 was provoked


async def test_too_long_a_wait_raises_with_the_reset_time(github, open_clients: OpenClients) -> None:
    state, base_url = github
    sleep = RecordedSleep()
    gh = await open_clients(base_url, sleep=sleep).client_for(INSTALLATION)
    reset = int(time.time()) + 3000
    state.rate_limit_remaining, state.rate_limit_reset = 0, reset
    with pytest.raises(RateLimited) as raised:
        await gh.getitem(REPOS_PATH)
    assert raised.value.retry_at == reset
    assert sleep.delays == []


@pytest.mark.parametrize("status", [403, 429])
async def test_secondary_limit_honours_retry_after(github, open_clients: OpenClients, status: int) -> None:
    state, base_url = github
    gh = await open_clients(base_url).client_for(INSTALLATION)
    state.failures.append(InjectedFailure(REPOS_PATH, status, headers={"Retry-After": "1"}))
    started = time.monotonic()
    assert (await gh.getitem(REPOS_PATH))["total_count"] == 3
    assert 1.0 <= time.monotonic() - started < 2.0  # really waited the second GitHub asked for
    assert len(state.requests_to("GET", REPOS_PATH)) == 2


async def test_secondary_limit_without_retry_after_backs_off_exponentially(
        github, open_clients: OpenClients) -> None:
    state, base_url = github
    sleep = RecordedSleep()
    policy = RateLimitPolicy(backoff_base=60, backoff_cap=200)
    gh = await open_clients(base_url, sleep=sleep, policy=policy).client_for(INSTALLATION)
    state.failures.append(InjectedFailure(REPOS_PATH, 403, times=2))
    state.failures.append(InjectedFailure(REPOS_PATH, 429, times=1, body={"message": "Too many"}))
    assert (await gh.getitem(REPOS_PATH))["total_count"] == 3
    assert sleep.delays == [60, 120, 200]  # a minute, doubling, capped
    assert len(state.requests_to("GET", REPOS_PATH)) == 4


async def test_secondary_limit_gives_up_after_bounded_attempts(github, open_clients: OpenClients) -> None:
    state, base_url = github
    sleep = RecordedSleep()
    gh = await open_clients(base_url, sleep=sleep, policy=RateLimitPolicy(max_attempts=4)).client_for(
        INSTALLATION)
    state.failures.append(InjectedFailure(REPOS_PATH, 403, times=10))
    with pytest.raises(RateLimited, match="after 4 attempts"):
        await gh.getitem(REPOS_PATH)
    assert len(state.requests_to("GET", REPOS_PATH)) == 4
    assert len(sleep.delays) == 3


async def test_permission_403_is_not_retried(github, open_clients: OpenClients) -> None:
    state, base_url = github
    sleep = RecordedSleep()
    gh = await open_clients(base_url, sleep=sleep).client_for(INSTALLATION)
    state.failures.append(InjectedFailure(REPOS_PATH, 403, body={
        "message": "Resource not accessible by integration"}))
    with pytest.raises(BadRequest):
        await gh.getitem(REPOS_PATH)
    assert len(state.requests_to("GET", REPOS_PATH)) == 1
    assert sleep.delays == []


# --- gateway errors (502/503/504) -----------------------------------------------------------

BAD_GATEWAY = {"message": "Server Error"}


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_error_on_an_idempotent_request_is_retried(
        github, open_clients: OpenClients, status: int) -> None:
    state, base_url = github
    sleep = RecordedSleep()
    gh = await open_clients(base_url, sleep=sleep).client_for(INSTALLATION)
    state.failures.append(InjectedFailure(REPOS_PATH, status, body=BAD_GATEWAY))
    assert (await gh.getitem(REPOS_PATH))["total_count"] == 3
    assert len(state.requests_to("GET", REPOS_PATH)) == 2
    assert sleep.delays == [1.0]


async def test_gateway_error_backs_off_honours_retry_after_and_gives_up(
        github, open_clients: OpenClients) -> None:
    state, base_url = github
    sleep = RecordedSleep()
    gh = await open_clients(base_url, sleep=sleep).client_for(INSTALLATION)
    state.failures.append(InjectedFailure(REPOS_PATH, 503, times=1, body=BAD_GATEWAY,
                                          headers={"Retry-After": "7"}))
    state.failures.append(InjectedFailure(REPOS_PATH, 502, times=10, body=BAD_GATEWAY))
    with pytest.raises(GitHubBroken):
        await gh.getitem(REPOS_PATH)
    assert sleep.delays == [7.0, 2.0, 4.0]  # retry-after, then doubling from a second
    assert len(state.requests_to("GET", REPOS_PATH)) == 4


async def test_patch_is_retried_but_post_is_not(github, open_clients: OpenClients) -> None:
    """A POST that met a 502 may have created its object: sending it again could make two."""
    state, base_url = github
    sleep = RecordedSleep()
    gh = await open_clients(base_url, sleep=sleep).client_for(INSTALLATION)
    state.check_runs["acme/repo-0"] = []
    state.failures.append(InjectedFailure("/repos/acme/repo-0/check-runs", 502, method="POST",
                                          body=BAD_GATEWAY))
    with pytest.raises(GitHubBroken):
        await gh.post("/repos/acme/repo-0/check-runs", data={"name": "x", "head_sha": "a" * 40})
    assert len(state.requests_to("POST", "/repos/acme/repo-0/check-runs")) == 1
    run = await gh.post("/repos/acme/repo-0/check-runs", data={"name": "x", "head_sha": "a" * 40})
    state.failures.append(InjectedFailure("/repos/acme/repo-0/check-runs", 502, method="PATCH",
                                          body=BAD_GATEWAY))
    done = await gh.patch(f"/repos/acme/repo-0/check-runs/{run['id']}",
                          data={"status": "completed", "conclusion": "success"})
    assert done["status"] == "completed"
    assert len(state.requests_to("PATCH", "/repos/acme/repo-0/check-runs")) == 2


async def test_graphql_query_is_retried_after_a_gateway_error(github, open_clients: OpenClients) -> None:
    state, base_url = github
    sleep = RecordedSleep()
    gh = await open_clients(base_url, sleep=sleep).client_for(INSTALLATION)
    state.failures.append(InjectedFailure("/graphql", 502, body=BAD_GATEWAY))
    data = await gh.graphql(PULL_REQUESTS_QUERY, owner="acme", name="repo-0", after=None, pageSize=10)
    assert data["repository"]["pullRequests"]["nodes"] == []
    assert len(state.requests_to("POST", "/graphql")) == 2 and sleep.delays == [1.0]
    state.failures.append(InjectedFailure("/graphql", 502, body=BAD_GATEWAY))
    with pytest.raises(GitHubBroken):  # a mutation may have been applied: not sent again
        await gh.graphql("mutation { addStar(input: {starrableId: \"x\"}) { clientMutationId } }")
    assert len(state.requests_to("POST", "/graphql")) == 3


# --- ETags -----------------------------------------------------------------------------------


async def test_etag_cache_answers_304_per_installation(github, open_clients: OpenClients) -> None:
    state, base_url = github
    clients = open_clients(base_url)
    first = await (await clients.client_for(INSTALLATION)).getitem(REPOS_PATH)
    state.rate_limit_remaining = 100
    second = await (await clients.client_for(INSTALLATION)).getitem(REPOS_PATH)
    assert second == first
    sent = state.requests_to("GET", REPOS_PATH)
    assert "If-None-Match" not in sent[0].headers
    assert sent[1].headers["If-None-Match"].startswith('"')
    assert state.rate_limit_remaining == 100  # the fake answered 304, which is free

    await (await clients.client_for(OTHER_INSTALLATION)).getitem(REPOS_PATH)
    assert "If-None-Match" not in state.requests_to("GET", REPOS_PATH)[2].headers


# --- concurrency and pacing ------------------------------------------------------------------


async def test_at_most_cap_requests_in_flight_per_installation(github, aiohttp_server,
                                                               open_clients: OpenClients) -> None:
    state, _ = github
    in_flight = {"now": 0, "max": 0}

    @web.middleware
    async def slow(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path != REPOS_PATH:
            return await handler(request)
        in_flight["now"] += 1
        in_flight["max"] = max(in_flight["max"], in_flight["now"])
        try:
            await asyncio.sleep(0.1)
            return await handler(request)
        finally:
            in_flight["now"] -= 1

    base_url = await serve(aiohttp_server, state, slow)
    clients = open_clients(base_url, policy=RateLimitPolicy(max_concurrency=2))

    async def fetch(page: int) -> None:
        gh = await clients.client_for(INSTALLATION)  # separate clients share the cap
        await gh.getitem(f"{REPOS_PATH}?per_page=1&page={page}")

    await asyncio.gather(*(fetch(page) for page in range(1, 7)))
    assert in_flight["max"] == 2
    assert len(state.requests_to("GET", REPOS_PATH)) == 6


async def test_content_requests_are_paced(github, aiohttp_server, open_clients: OpenClients) -> None:
    state, _ = github
    state.hook_deliveries = [{"id": n, "guid": str(uuid.uuid4())} for n in range(5)]
    arrived: list[float] = []

    @web.middleware
    async def timed(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "POST":
            arrived.append(time.monotonic())
        return await handler(request)

    base_url = await serve(aiohttp_server, state, timed)
    gh = open_clients(base_url, policy=RateLimitPolicy(content_requests=2, content_window=1.0)).as_app()
    await asyncio.gather(*(gh.post("/app/hook/deliveries/{id}/attempts", {"id": n}, data={})
                           for n in range(5)))
    assert len(arrived) == 5
    arrived.sort()
    # Any three consecutive starts span at least one window, less how late a loaded machine
    # may deliver the earlier one (a wide margin: this checks pacing, not speed); five span two.
    for i in range(2, 5):
        assert arrived[i] - arrived[i - 2] >= 0.6
    assert arrived[4] - arrived[0] >= 1.6
    gets = await gh.getitem("/app")  # reads are not paced
    assert gets["id"] == APP_ID


async def test_pacer_keeps_a_sliding_window() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(3, 60.0, clock=lambda: now[0])
    starts = []
    for _ in range(7):
        await pacer.acquire(sleep)
        starts.append(now[0])
    assert starts == [0, 0, 0, 60, 60, 60, 120]
    assert slept == [60, 60]


async def test_calls_and_remaining_limit_are_exported_per_installation(
        github, open_clients: OpenClients) -> None:
    from prometheus_client import REGISTRY

    state, base_url = github
    state.rate_limit_remaining = 4321
    clients = open_clients(base_url)
    labels = {"installation": str(INSTALLATION), "status": "200"}
    before = REGISTRY.get_sample_value("devmetrics_github_api_calls_total", labels) or 0
    gh = await clients.client_for(INSTALLATION)
    await gh.getitem(REPOS_PATH)
    assert REGISTRY.get_sample_value("devmetrics_github_api_calls_total", labels) == before + 1
    assert REGISTRY.get_sample_value("devmetrics_github_rate_limit_remaining",
                                     {"installation": str(INSTALLATION), "resource": "core"}) < 4321


async def test_content_pacing_is_shared_by_processes(github, open_clients: OpenClients) -> None:
    """Two GitHubClients (two worker processes) pace one installation's writes together."""
    state, base_url = github
    sleeps = RecordedSleep()
    policy = RateLimitPolicy(content_requests=2, content_window=60)
    processes = [open_clients(base_url, policy=policy, sleep=sleeps) for _ in range(2)]
    for clients in processes:
        gh = await clients.client_for(INSTALLATION)
        for _ in range(2):
            await gh.post("/repos/acme/repo-0/check-runs", data={"name": "x", "head_sha": "a" * 40})
    assert len(state.requests_to("POST", "/repos/acme/repo-0/check-runs")) == 4
    # The budget is two a minute in all: the second process's writes wait for their slots.
    assert len(sleeps.delays) == 2
    assert 25 < sleeps.delays[0] <= 30 and 55 < sleeps.delays[1] <= 60
