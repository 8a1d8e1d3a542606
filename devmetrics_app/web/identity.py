"""Who is calling: a browser session (cookie), a bearer JWT, or a named API token.

Cookie-authenticated requests that change something must carry the session's CSRF token (a
header or form field), since a browser attaches cookies to requests other sites make it send.
Bearer tokens are never attached automatically, so they need no CSRF token.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from devmetrics_app.store import users
from devmetrics_app.store.auth import API_TOKEN_PREFIX, authenticate_api_token
from devmetrics_app.web import responses
from devmetrics_app.web.keys import POOL, SESSIONS
from devmetrics_app.web.sessions import SESSION_COOKIE, Session

PRINCIPAL = "principal"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths that authenticate by other means (GitHub's HMAC).
# /metrics checks its own METRICS_TOKEN (observability/endpoint.py).
AUTH_EXEMPT = frozenset({"/api/webhooks/github", "/metrics"})
# Starting a sign-in changes nothing of the current session (the state cookie guards the flow).
CSRF_EXEMPT = frozenset({"/api/auth/github"})


@dataclass(frozen=True)
class Principal:
    user_id: int
    login: str
    via: Literal["session", "bearer", "api_token"]
    session: Session | None = None
    # An API token may be pinned to one installation with a role (minted for automation).
    token_installation: int | None = None
    token_role: str | None = None
    token_id: str | None = None
    # Operator-minted: the token itself grants token_installation with token_role.
    token_grants: bool = False


def principal_of(request: web.Request) -> Principal | None:
    return request.get(PRINCIPAL)


def require_principal(request: web.Request) -> Principal:
    principal = principal_of(request)
    if principal is None:
        raise web.HTTPUnauthorized(
            text='{"error": {"code": "unauthenticated", "message": "sign in or send a bearer token"}}',
            content_type="application/json")
    return principal


async def _from_authorization(request: web.Request, header: str) -> Principal | None:
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        return None
    if credential.startswith(API_TOKEN_PREFIX):
        token = await authenticate_api_token(request.app[POOL], credential)
        if token is None:
            return None
        login = await users.login_of(request.app[POOL], token.user_id)
        return Principal(user_id=token.user_id, login=login or "", via="api_token",
                         token_installation=token.installation_id, token_role=token.role,
                         token_id=token.id, token_grants=token.grants_access)
    session = await request.app[SESSIONS].session_from_bearer(credential)
    if session is None:
        return None
    return Principal(user_id=session.user_id, login=session.login, via="bearer", session=session)


async def csrf_ok(request: web.Request, session: Session) -> bool:
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None and request.content_type in {"application/x-www-form-urlencoded",
                                                     "multipart/form-data"}:
        try:
            supplied = (await request.post()).get(CSRF_FIELD)
        except (UnicodeDecodeError, ValueError):
            return False  # not a readable form: no token in it
    return isinstance(supplied, str) and hmac.compare_digest(supplied, session.csrf_token)


@web.middleware
async def identity_middleware(request: web.Request, handler) -> web.StreamResponse:
    if request.path in AUTH_EXEMPT:
        return await handler(request)
    authorization = request.headers.get("Authorization")
    if authorization:
        principal = await _from_authorization(request, authorization)
        if principal is None:
            return responses.error(401, "bad_token", "the bearer token is invalid, expired or revoked")
        request[PRINCIPAL] = principal
        return await handler(request)
    session_id = request.cookies.get(SESSION_COOKIE)
    session = await request.app[SESSIONS].get(session_id) if session_id else None
    if session is not None:
        if (request.method not in SAFE_METHODS and request.path not in CSRF_EXEMPT
                and not await csrf_ok(request, session)):
            return responses.error(403, "csrf", "missing or wrong CSRF token")
        request[PRINCIPAL] = Principal(user_id=session.user_id, login=session.login, via="session",
                                       session=session)
    return await handler(request)
