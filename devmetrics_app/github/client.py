"""One way to talk to GitHub: `await clients.client_for(installation_id)`, `clients.as_app()`,
`clients.as_user(token)`, each a gidgethub `GitHubAPI` with our own rate-limit handling.

gidgethub 6 leaves rate limits to two hooks; we fill them in as GitHub's documentation asks:
- before a request (`manage_rate_limit`): if the primary limit is spent, wait for its reset; pace
  content-creating requests (POST/PATCH/PUT/DELETE) under 80 a minute;
- after a 403/429 (`handle_rate_limit_error`): honour `retry-after`; else, with
  `x-ratelimit-remaining: 0`, wait for `x-ratelimit-reset`; else back off exponentially from a
  minute, capped; give up with `RateLimited` after a bounded number of attempts;
- after a 502/503/504 on an idempotent request (GET, HEAD, PUT, PATCH, DELETE): honour
  `retry-after`, else back off exponentially from a second, a few times, then let the error
  through. Retrying here, not by re-running the job, keeps a job's earlier (costly) steps from
  being repeated. POST is not retried: the gateway may have given up after GitHub created the
  object, and a second POST would create another.
Around the HTTP call itself, a semaphore keeps at most 100 requests in flight per installation.
Limits, pacing and the ETag cache belong to the installation, not to one client object, so every
client a process hands out for an installation shares them (per process: with several worker
processes the caps apply per process).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from gidgethub import BadRequest, GitHubBroken, HTTPException, sansio
from gidgethub.aiohttp import GitHubAPI
from redis.asyncio import Redis

from devmetrics_app.config import Settings
from devmetrics_app.github.app_jwt import AppJWTCache
from devmetrics_app.github.credentials import CredentialsSource, settings_source
from devmetrics_app.github.errors import (
    AppAuthenticationFailed,
    AppNotConfigured,
    InstallationUnavailable,
    RateLimited,
)
from devmetrics_app.github.tokens import (
    DEFAULT_NAMESPACE,
    DEFAULT_REFRESH_MARGIN_SECONDS,
    DEFAULT_UNAVAILABLE_SECONDS,
    InstallationTokens,
    IssuedToken,
)
from devmetrics_app.observability.metrics import record_github_call
from devmetrics_app.ratelimit import RateLimiter

USER_AGENT = "DevMetrics"
# GitHub's secondary limits: at most 100 concurrent requests; at most 80 content-creating
# requests a minute.
MAX_CONCURRENT_REQUESTS = 100
CONTENT_REQUESTS_PER_WINDOW = 80
CONTENT_WINDOW_SECONDS = 60.0
CONTENT_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
# GitHub: with no retry-after and no exhausted primary limit, wait at least a minute, then
# exponentially longer.
BACKOFF_BASE_SECONDS = 60.0
BACKOFF_CAP_SECONDS = 15 * 60.0
MAX_ATTEMPTS = 5
# Waiting longer than this holds a worker hostage; raise RateLimited(retry_at=...) instead.
MAX_WAIT_SECONDS = 15 * 60.0
# X-RateLimit-Reset has one-second resolution and clocks differ: wait a little past it.
RESET_SLACK_SECONDS = 1.0
ETAG_CACHE_ENTRIES = 200
USER_LIMITS_ENTRIES = 256
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60)
SECONDARY_LIMIT_PHRASES = ("secondary rate limit", "abuse")
SERVER_ERROR_STATUSES = frozenset({502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
SERVER_ERROR_BACKOFF_SECONDS = 1.0
SERVER_ERROR_BACKOFF_CAP_SECONDS = 30.0
SERVER_ERROR_ATTEMPTS = 4  # one request and three retries: ~7 s of a gateway's bad moment

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RateLimitPolicy:
    """GitHub's documented limits as defaults; tests shrink them."""

    max_concurrency: int = MAX_CONCURRENT_REQUESTS
    content_requests: int = CONTENT_REQUESTS_PER_WINDOW
    content_window: float = CONTENT_WINDOW_SECONDS
    backoff_base: float = BACKOFF_BASE_SECONDS
    backoff_cap: float = BACKOFF_CAP_SECONDS
    max_attempts: int = MAX_ATTEMPTS
    max_wait: float = MAX_WAIT_SECONDS
    reset_slack: float = RESET_SLACK_SECONDS
    etag_cache_entries: int = ETAG_CACHE_ENTRIES
    server_error_attempts: int = SERVER_ERROR_ATTEMPTS
    server_error_backoff: float = SERVER_ERROR_BACKOFF_SECONDS
    server_error_backoff_cap: float = SERVER_ERROR_BACKOFF_CAP_SECONDS


class LRUCache(MutableMapping[str, Any]):
    """gidgethub's ETag cache (url → etag, last-modified, data, next page), bounded so a
    long-running worker does not keep every response it ever saw."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._data: OrderedDict[str, Any] = OrderedDict()

    def __getitem__(self, key: str) -> Any:
        value = self._data[key]
        self._data.move_to_end(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class Pacer:
    """At most `limit` starts in any `window` seconds (a sliding window), waiters served in order."""

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self, sleep: Sleep) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                while self._starts and now - self._starts[0] >= self._window:
                    self._starts.popleft()
                if len(self._starts) < self._limit:
                    self._starts.append(now)
                    return
                await sleep(self._starts[0] + self._window - now)


class SharedPacer:
    """GitHub's content-creation pacing for one installation, shared by every process through
    Redis (ratelimit.py): each request books the next free slot and sleeps until it, so N
    worker processes together stay under the limit one process would. Redis unreachable: this
    process paces alone, as before."""

    def __init__(self, limiter: RateLimiter, key: str, local: Pacer, *, limit: int,
                 window: float) -> None:
        self._limiter = limiter
        self._key = key
        self._local = local
        self._limit = limit
        self._window = window

    async def acquire(self, sleep: Sleep) -> None:
        try:
            decision = await self._limiter.hit(self._key, per_minute=self._limit, reserve=True,
                                               period_seconds=self._window)
        except Exception:
            await self._local.acquire(sleep)
            return
        if not decision.allowed:
            await sleep(decision.retry_after)


@dataclass
class PrimaryLimit:
    remaining: int
    reset_at: float  # epoch seconds


@dataclass
class Limits:
    """What every client for one installation (or the app, or one user) shares in a process."""

    policy: RateLimitPolicy
    clock: Callable[[], float] = time.monotonic
    concurrency: asyncio.Semaphore = field(init=False)
    pacer: Pacer | SharedPacer = field(init=False)
    cache: LRUCache = field(init=False)
    primary: dict[str, PrimaryLimit] = field(default_factory=dict)  # by X-RateLimit-Resource

    def __post_init__(self) -> None:
        self.concurrency = asyncio.Semaphore(self.policy.max_concurrency)
        self.pacer = Pacer(self.policy.content_requests, self.policy.content_window, clock=self.clock)
        self.cache = LRUCache(self.policy.etag_cache_entries)

    def observe(self, url: str, headers: Mapping[str, str]) -> None:
        rate = sansio.RateLimit.from_http(headers)
        if rate is not None:
            resource = headers.get("x-ratelimit-resource") or resource_of(url)
            self.primary[resource] = PrimaryLimit(rate.remaining, rate.reset_datetime.timestamp())


class Authorization(Protocol):
    """Supplies the Authorization header at request time, so a long job never sends a stale
    token, and learns when GitHub rejected it."""

    async def header(self) -> str: ...

    async def invalidate(self) -> None: ...


class InstallationAuth:
    def __init__(self, tokens: InstallationTokens, installation_id: int) -> None:
        self._tokens = tokens
        self._installation_id = installation_id
        self._last = ""

    async def header(self) -> str:
        self._last = await self._tokens.get(self._installation_id)
        return f"token {self._last}"

    async def invalidate(self) -> None:
        await self._tokens.invalidate(self._installation_id, self._last)


class AppAuth:
    def __init__(self, credentials: CredentialsSource, jwts: AppJWTCache) -> None:
        self._credentials = credentials
        self._jwts = jwts

    async def header(self) -> str:
        creds = await self._credentials()
        if creds is None:
            raise AppNotConfigured()
        return f"bearer {self._jwts.get(creds.app_id, creds.private_key.get())}"

    async def invalidate(self) -> None:
        self._jwts.clear()


def resource_of(url: str) -> str:
    """GitHub keeps separate primary budgets for REST ("core"), search and GraphQL."""
    path = urlsplit(url).path
    if path.endswith("/graphql"):
        return "graphql"
    if "/search/" in path:
        return "search"
    return "core"


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from `retry-after`, which may be a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - now, 0.0)
    except (TypeError, ValueError):
        return None


def rate_limit_delay(exc: HTTPException, attempt: int, policy: RateLimitPolicy,
                     now: float) -> tuple[float, float | None] | None:
    """(seconds to wait, reset epoch if GitHub named one) when `exc` is a rate limit, else None.

    Order as GitHub documents it: retry-after; else an exhausted primary limit waits for its
    reset; else (a secondary limit without advice) exponential back-off from a minute."""
    if exc.status_code not in (403, 429):
        return None
    headers: Mapping[str, str] = exc.headers or {}
    retry_after = parse_retry_after(headers.get("retry-after"), now)
    if retry_after is not None:
        return retry_after, now + retry_after
    reset = headers.get("x-ratelimit-reset")
    if headers.get("x-ratelimit-remaining") == "0" and reset:
        return max(float(reset) - now, 0.0) + policy.reset_slack, float(reset)
    message = " ".join(str(arg) for arg in exc.args).lower()
    if exc.status_code == 429 or any(phrase in message for phrase in SECONDARY_LIMIT_PHRASES):
        return min(policy.backoff_base * 2 ** (attempt - 1), policy.backoff_cap), None
    return None  # a 403 for permissions: retrying will not help


def server_error_delay(exc: HTTPException, method: str, attempt: int, policy: RateLimitPolicy,
                       now: float) -> float | None:
    """Seconds to wait before sending an idempotent request again after a gateway error, or
    None when it should not be retried (not a 5xx we retry, a POST, attempts or patience spent)."""
    if exc.status_code not in SERVER_ERROR_STATUSES or method.upper() not in IDEMPOTENT_METHODS:
        return None
    if attempt >= policy.server_error_attempts:
        return None
    retry_after = parse_retry_after((exc.headers or {}).get("retry-after"), now)
    delay = retry_after if retry_after is not None else min(
        policy.server_error_backoff * 2 ** (attempt - 1), policy.server_error_backoff_cap)
    return delay if delay <= policy.max_wait else None


def is_mutation(query: str) -> bool:
    return query.lstrip().startswith("mutation")


class GitHubClient(GitHubAPI):
    """gidgethub's aiohttp client with shared per-installation limits and late-bound auth."""

    def __init__(self, session: aiohttp.ClientSession, requester: str, *, limits: Limits,
                 base_url: str, graphql_url: str, auth: Authorization | None = None,
                 oauth_token: str | None = None, cache: LRUCache | None = None, paced: bool = True,
                 sleep: Sleep = asyncio.sleep, clock: Callable[[], float] = time.time,
                 metrics_label: str = "app") -> None:
        super().__init__(session, requester, oauth_token=oauth_token, cache=cache, base_url=base_url)
        self.metrics_label = metrics_label  # the installation id, or "app" / "user"
        self.graphql_url = graphql_url
        self._limits = limits
        self._auth = auth
        self._paced = paced
        self._sleep = sleep
        self._clock = clock

    async def sleep(self, seconds: float) -> None:
        await self._sleep(seconds)

    async def manage_rate_limit(self, *, method: str, url: str) -> None:
        policy = self._limits.policy
        primary = self._limits.primary.get(resource_of(url))
        if primary is not None and primary.remaining <= 0:
            wait = primary.reset_at - self._clock() + policy.reset_slack
            if wait > policy.max_wait:
                raise RateLimited(f"primary rate limit spent until {primary.reset_at:.0f}; "
                                  f"not waiting {wait:.0f} s", retry_at=primary.reset_at)
            if wait > 0:
                await self.sleep(wait)
            if self._limits.primary.get(resource_of(url)) is primary:
                del self._limits.primary[resource_of(url)]  # a fresh window: learn it anew
        if self._paced and method in CONTENT_METHODS and resource_of(url) != "graphql":
            await self._limits.pacer.acquire(self.sleep)

    async def handle_rate_limit_error(self, *, method: str, url: str, exception: HTTPException,
                                      attempt: int) -> bool:
        if exception.status_code == 401 and self._auth is not None and attempt == 1:
            await self._auth.invalidate()  # revoked or expired early: one retry with a fresh one
            return True
        policy = self._limits.policy
        if exception.status_code in SERVER_ERROR_STATUSES:
            delay_5xx = server_error_delay(exception, method, attempt, policy, self._clock())
            if delay_5xx is None:
                return False
            await self.sleep(delay_5xx)
            return True
        decision = rate_limit_delay(exception, attempt, policy, self._clock())
        if decision is None:
            return False
        delay, retry_at = decision
        path = urlsplit(url).path
        if attempt >= policy.max_attempts:
            raise RateLimited(f"{method} {path}: still rate-limited after {attempt} attempts "
                              f"({exception.status_code}: {exception})",
                              status_code=exception.status_code, retry_at=retry_at) from exception
        if delay > policy.max_wait:
            raise RateLimited(f"{method} {path}: GitHub asks us to wait {delay:.0f} s",
                              status_code=exception.status_code, retry_at=retry_at) from exception
        await self.sleep(delay)
        return True

    async def _request(self, method: str, url: str, headers: Mapping[str, str],
                       body: bytes = b"") -> tuple[int, Mapping[str, str], bytes]:
        if self._auth is not None:
            headers = {**headers, "authorization": await self._auth.header()}
        async with self._limits.concurrency:
            status, response_headers, data = await super()._request(method, url, headers, body)
        self._limits.observe(url, response_headers)
        record_github_call(self.metrics_label, status, response_headers.get("x-ratelimit-remaining"),
                           response_headers.get("x-ratelimit-resource") or resource_of(url))
        return status, response_headers, data

    async def graphql(self, query: str, *, endpoint: str | None = None, **variables: Any) -> Any:
        """GraphQL at the configured endpoint (gidgethub defaults to api.github.com's). A query
        only reads, so a 502/503/504 is retried as for a GET; a mutation is not retried."""
        endpoint = endpoint or self.graphql_url
        method = "POST" if is_mutation(query) else "GET"
        attempt = 0
        while True:
            attempt += 1
            await self.manage_rate_limit(method="POST", url=endpoint)
            try:
                return await super().graphql(query, endpoint=endpoint, **variables)
            except GitHubBroken as exc:
                delay = server_error_delay(exc, method, attempt, self._limits.policy, self._clock())
                if delay is None:
                    raise
                await self.sleep(delay)


class GitHubClients:
    """The factory every part of DevMetrics uses to reach GitHub (REST, GraphQL) as the app, as
    an installation, or as a signed-in user. One per process, on its event loop."""

    def __init__(self, *, session: aiohttp.ClientSession, redis: Redis, settings: Settings,
                 credentials: CredentialsSource | None = None,
                 policy: RateLimitPolicy | None = None, namespace: str = DEFAULT_NAMESPACE,
                 refresh_margin: float = DEFAULT_REFRESH_MARGIN_SECONDS,
                 unavailable_seconds: float = DEFAULT_UNAVAILABLE_SECONDS,
                 sleep: Sleep = asyncio.sleep, requester: str = USER_AGENT) -> None:
        self.session = session
        self.settings = settings
        self.policy = policy or RateLimitPolicy()
        self.tokens = InstallationTokens(redis, self._mint, namespace=namespace,
                                         refresh_margin=refresh_margin,
                                         unavailable_seconds=unavailable_seconds)
        self._credentials = credentials or settings_source(settings)
        self._sleep = sleep
        self._requester = requester
        self._jwts = AppJWTCache()
        self._app_limits = Limits(self.policy)
        self._limiter = RateLimiter(redis)
        self._namespace = namespace
        self._installation_limits: dict[int, Limits] = {}
        self._user_limits: OrderedDict[str, Limits] = OrderedDict()

    def _client(self, limits: Limits, *, auth: Authorization | None = None,
                oauth_token: str | None = None, cache: LRUCache | None = None,
                paced: bool = True, metrics_label: str = "app") -> GitHubClient:
        return GitHubClient(self.session, self._requester, limits=limits,
                            base_url=self.settings.github_api_url,
                            graphql_url=self.settings.github_graphql_url, auth=auth,
                            oauth_token=oauth_token, cache=cache, paced=paced, sleep=self._sleep,
                            metrics_label=metrics_label)

    async def client_for(self, installation_id: int) -> GitHubAPI:
        """A client acting as the installation. Raises InstallationUnavailable at once for an
        uninstalled or suspended installation, AppNotConfigured without credentials."""
        token = await self.tokens.get(installation_id)
        limits = self._installation_limits.get(installation_id)
        if limits is None:
            limits = self._installation_limits[installation_id] = Limits(self.policy)
            limits.pacer = SharedPacer(self._limiter, f"github:content:{self._namespace}:{installation_id}",
                                       limits.pacer, limit=self.policy.content_requests,
                                       window=self.policy.content_window)
        return self._client(limits, auth=InstallationAuth(self.tokens, installation_id),
                            oauth_token=token, cache=limits.cache, metrics_label=str(installation_id))

    def as_app(self) -> GitHubAPI:
        """A client authenticated by the app JWT (GET /app, installations, redeliveries)."""
        return self._client(self._app_limits, auth=AppAuth(self._credentials, self._jwts),
                            cache=self._app_limits.cache)

    def as_user(self, oauth_token: str) -> GitHubAPI:
        """A client acting as a signed-in user. No ETag cache: a cache keyed by URL alone must
        never answer one user with what another user was allowed to see."""
        key = hashlib.sha256(oauth_token.encode()).hexdigest()
        limits = self._user_limits.get(key)
        if limits is None:
            limits = self._user_limits[key] = Limits(self.policy)
            while len(self._user_limits) > USER_LIMITS_ENTRIES:
                self._user_limits.popitem(last=False)
        self._user_limits.move_to_end(key)
        return self._client(limits, oauth_token=oauth_token, metrics_label="user")

    async def installation_token(self, installation_id: int) -> str:
        """The raw token, for tools that are not gidgethub (e.g. `git` over HTTPS)."""
        return await self.tokens.get(installation_id)

    async def _mint(self, installation_id: int) -> IssuedToken:
        # Unpaced: minting gates every other request of the installation, and is not content.
        client = self._client(self._app_limits, auth=AppAuth(self._credentials, self._jwts),
                              paced=False)
        try:
            data = await client.post("/app/installations/{installation_id}/access_tokens",
                                     {"installation_id": installation_id}, data={})
        except BadRequest as exc:
            if exc.status_code == 404:
                raise InstallationUnavailable(installation_id, "not installed",
                                              "GitHub knows no such installation of this app "
                                              "(uninstalled?)") from None
            if exc.status_code == 403:
                raise InstallationUnavailable(installation_id, "suspended", str(exc)) from None
            if exc.status_code == 401:
                raise AppAuthenticationFailed(
                    "GitHub rejected the app JWT: check the app id and private key, and the clock"
                ) from None
            raise
        expires_at = datetime.fromisoformat(data["expires_at"].replace("Z", "+00:00")).timestamp()
        return IssuedToken(data["token"], expires_at)
