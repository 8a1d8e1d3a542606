"""Installation access tokens, cached in Redis and shared by every DevMetrics process.

A token lives an hour (GitHub's default); we hand it out until a few minutes before it expires.
Refreshing is single-flight twice over: an asyncio lock per installation inside a process, and a
Redis lock (`SET key NX PX`) across processes, so a burst of jobs in many workers mints one
token, not one each. An installation GitHub refuses (uninstalled, suspended) is remembered
briefly, so the same burst does not hammer the access_tokens endpoint either.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
from redis.asyncio import Redis

from devmetrics_app.github.errors import InstallationUnavailable, TokenUnavailable

# Refresh this long before GitHub's expiry (tokens live 1 h), so a request started with a
# cached token never meets an expired one halfway through a job.
DEFAULT_REFRESH_MARGIN_SECONDS = 5 * 60
# Remember "uninstalled/suspended" this long: long enough to absorb a burst of jobs, short
# enough that an unsuspended installation works again without anyone clearing the cache.
DEFAULT_UNAVAILABLE_SECONDS = 60.0
# The Redis refresh lock outlives a slow access_tokens request but frees itself if its holder dies.
DEFAULT_LOCK_SECONDS = 30.0
# How often a process waiting for another's refresh looks for the new token.
DEFAULT_POLL_SECONDS = 0.05
DEFAULT_NAMESPACE = "devmetrics"

# Delete a key only if it still holds the value we put there (lock owner or token).
_COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_DELETE_IF_HOLDS = """
local raw = redis.call('GET', KEYS[1])
if raw and cjson.decode(raw)['token'] == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class IssuedToken:
    """What GitHub answered: the token and its expiry (epoch seconds)."""

    token: str
    expires_at: float


@dataclass(frozen=True)
class CachedToken:
    token: str
    expires_at: float
    refresh_at: float


Mint = Callable[[int], Awaitable[IssuedToken]]


def refresh_time(issued_at: float, expires_at: float, margin: float) -> float:
    """When to stop handing a token out: `margin` before expiry, but never before half its life
    (a GitHub Enterprise Server with short-lived tokens must not mint on every request)."""
    return max(expires_at - margin, issued_at + (expires_at - issued_at) / 2)


class InstallationTokens:
    """`await tokens.get(installation_id)` → a token valid for at least the refresh margin."""

    def __init__(self, redis: Redis, mint: Mint, *, namespace: str = DEFAULT_NAMESPACE,
                 refresh_margin: float = DEFAULT_REFRESH_MARGIN_SECONDS,
                 unavailable_seconds: float = DEFAULT_UNAVAILABLE_SECONDS,
                 lock_seconds: float = DEFAULT_LOCK_SECONDS,
                 poll_seconds: float = DEFAULT_POLL_SECONDS) -> None:
        self._redis = redis
        self._mint = mint
        self._namespace = namespace
        self._refresh_margin = refresh_margin
        self._unavailable_seconds = unavailable_seconds
        self._lock_seconds = lock_seconds
        self._poll_seconds = poll_seconds
        self._local: dict[int, CachedToken] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def _key(self, kind: str, installation_id: int) -> str:
        return f"{self._namespace}:github:{kind}:{installation_id}"

    async def get(self, installation_id: int) -> str:
        cached = self._local.get(installation_id)
        if cached is not None and time.time() < cached.refresh_at:
            return cached.token
        lock = self._locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            cached = self._local.get(installation_id)
            if cached is not None and time.time() < cached.refresh_at:
                return cached.token  # another task of this process refreshed it meanwhile
            cached = await self._shared(installation_id)
            self._local[installation_id] = cached
            return cached.token

    async def invalidate(self, installation_id: int, token: str) -> None:
        """GitHub rejected `token` (revoked, or expired early): stop handing it out. A newer token
        another process already stored is left alone."""
        cached = self._local.get(installation_id)
        if cached is not None and cached.token == token:
            del self._local[installation_id]
        await self._redis.eval(_DELETE_IF_HOLDS, 1, self._key("token", installation_id), token)

    async def forget(self, installation_id: int) -> None:
        """Drop everything known about an installation (an `installation` webhook said it was
        created, unsuspended or deleted)."""
        self._local.pop(installation_id, None)
        await self._redis.delete(self._key("token", installation_id),
                                 self._key("unavailable", installation_id))

    async def _shared(self, installation_id: int) -> CachedToken:
        token_key = self._key("token", installation_id)
        lock_key = self._key("refresh-lock", installation_id)
        deadline = time.monotonic() + self._lock_seconds + 5 * self._poll_seconds
        while True:
            await self._raise_if_unavailable(installation_id)
            found = await self._read(token_key)
            if found is not None:
                return found
            owner = secrets.token_hex(16)
            if await self._redis.set(lock_key, owner, nx=True, px=int(self._lock_seconds * 1000)):
                try:
                    found = await self._read(token_key)  # stored between our GET and our SET?
                    return found if found is not None else await self._refresh(installation_id)
                finally:
                    await self._redis.eval(_COMPARE_AND_DELETE, 1, lock_key, owner)
            if time.monotonic() > deadline:
                raise TokenUnavailable(
                    f"gave up waiting {self._lock_seconds:.0f} s for another process to refresh "
                    f"the token of installation {installation_id}")
            await asyncio.sleep(self._poll_seconds)

    async def _refresh(self, installation_id: int) -> CachedToken:
        try:
            issued = await self._mint(installation_id)
        except InstallationUnavailable as exc:
            verdict = orjson.dumps({"reason": exc.reason, "detail": exc.detail})
            await self._redis.set(self._key("unavailable", installation_id), verdict,
                                  px=int(self._unavailable_seconds * 1000))
            raise
        now = time.time()
        cached = CachedToken(issued.token, issued.expires_at,
                             refresh_time(now, issued.expires_at, self._refresh_margin))
        ttl_ms = int((cached.refresh_at - now) * 1000)
        if ttl_ms > 0:
            await self._redis.set(self._key("token", installation_id),
                                  orjson.dumps({"token": cached.token, "expires_at": cached.expires_at,
                                                "refresh_at": cached.refresh_at}), px=ttl_ms)
        return cached

    async def _read(self, token_key: str) -> CachedToken | None:
        raw = await self._redis.get(token_key)
        if raw is None:
            return None
        data = orjson.loads(raw)
        cached = CachedToken(data["token"], data["expires_at"], data["refresh_at"])
        return cached if time.time() < cached.refresh_at else None

    async def _raise_if_unavailable(self, installation_id: int) -> None:
        raw = await self._redis.get(self._key("unavailable", installation_id))
        if raw is not None:
            verdict = orjson.loads(raw)
            detail = verdict["detail"] or "GitHub refused a token"
            raise InstallationUnavailable(installation_id, verdict["reason"],
                                          f"{detail} (remembered; not asking GitHub again yet)")
