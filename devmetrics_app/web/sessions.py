"""Server-side sessions in Redis, and the bearer JWTs that API clients carry.

A browser holds only an opaque session id in an HttpOnly, SameSite=Lax cookie. An API client
holds a short-lived JWT that names a session: deleting the session (logout, revocation) kills
the token at once, though its signature is still valid.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass

import jwt
import orjson
import redis.asyncio as aioredis

from devmetrics_app.crypto import PURPOSE_TOKENS, derive_key

SESSION_COOKIE = "devmetrics_session"
SESSION_TTL_SECONDS = 14 * 24 * 3600
BEARER_TTL_SECONDS = 12 * 3600
JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "devmetrics-api"
KEY_PREFIX = "devmetrics:session:"


@dataclass(frozen=True)
class Session:
    id: str
    user_id: int
    login: str
    csrf_token: str
    created_at: float


class SessionStore:
    def __init__(self, redis: aioredis.Redis, secret_key: str) -> None:
        self._redis = redis
        self._signing_key = derive_key(secret_key, PURPOSE_TOKENS)

    async def create(self, *, user_id: int, login: str) -> Session:
        session = Session(id=secrets.token_urlsafe(32), user_id=user_id, login=login,
                          csrf_token=secrets.token_urlsafe(24), created_at=time.time())
        await self._redis.set(KEY_PREFIX + session.id, orjson.dumps(asdict(session)),
                              ex=SESSION_TTL_SECONDS)
        return session

    async def get(self, session_id: str) -> Session | None:
        if not session_id or len(session_id) > 128:
            return None
        raw = await self._redis.get(KEY_PREFIX + session_id)
        return Session(**orjson.loads(raw)) if raw else None

    async def delete(self, session_id: str) -> None:
        await self._redis.delete(KEY_PREFIX + session_id)

    async def delete_for_user(self, user_id: int) -> int:
        """End every session of a user (they revoked the app): scan, since sessions are few."""
        deleted = 0
        async for key in self._redis.scan_iter(match=KEY_PREFIX + "*", count=500):
            raw = await self._redis.get(key)
            if raw and orjson.loads(raw).get("user_id") == user_id:
                deleted += await self._redis.delete(key)
        return deleted

    def issue_bearer(self, session: Session, *, ttl: int = BEARER_TTL_SECONDS) -> tuple[str, int]:
        now = int(time.time())
        claims = {"sub": str(session.user_id), "sid": session.id, "iat": now, "exp": now + ttl,
                  "aud": JWT_AUDIENCE}
        return jwt.encode(claims, self._signing_key, algorithm=JWT_ALGORITHM), now + ttl

    async def session_from_bearer(self, token: str) -> Session | None:
        try:
            claims = jwt.decode(token, self._signing_key, algorithms=[JWT_ALGORITHM],
                                audience=JWT_AUDIENCE, options={"require": ["exp", "sid", "sub"]})
        except jwt.PyJWTError:
            return None
        session = await self.get(str(claims["sid"]))
        if session is None or str(session.user_id) != claims["sub"]:
            return None
        return session
