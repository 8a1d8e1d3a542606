"""Sign-in with GitHub, sessions, bearer tokens and named API tokens.

POST /api/auth/github     start: a browser (form post) is redirected to GitHub; an API client
                          (JSON) gets the authorize URL and later a bearer token as JSON
GET  /api/auth/callback   GitHub sends the user back here with `code` and our `state`
POST /api/auth/logout     ends the session (and with it every bearer token naming it)
GET  /api/auth/me         who am I, and which installations may I see with which role
POST/GET /api/auth/tokens, DELETE /api/auth/tokens/{id}   named API tokens for scripts
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

import orjson
from aiohttp import web

from devmetrics_app.github.oauth import OAuthClient, OAuthError
from devmetrics_app.store import auth as auth_store
from devmetrics_app.store import installations, users
from devmetrics_app.store.users import upsert_user
from devmetrics_app.timeutil import utcnow
from devmetrics_app.web import responses
from devmetrics_app.web.api.params import form_of, json_object
from devmetrics_app.web.identity import principal_of, require_principal
from devmetrics_app.web.keys import BOX, OAUTH, POOL, REDIS, SESSIONS, SETTINGS
from devmetrics_app.web.sessions import SESSION_COOKIE, SESSION_TTL_SECONDS
from devmetrics_app.web.tenancy import ROLES, forget_github_list, visible_installations, weaker

log = logging.getLogger(__name__)

STATE_PREFIX = "devmetrics:oauth-state:"
# The browser that started a sign-in must be the one that finishes it (no login CSRF).
STATE_COOKIE = "devmetrics_oauth_state"
STATE_TTL_SECONDS = 600
MAX_TOKEN_NAME = 100
MAX_TOKEN_DAYS = 366

routes = web.RouteTableDef()


def _redirect_uri(request: web.Request) -> str:
    return request.app[SETTINGS].public_url + "/api/auth/callback"


def _safe_next(value: str | None) -> str:
    """Only same-site relative paths: never an open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


async def _oauth(request: web.Request) -> OAuthClient:
    oauth = await request.app[OAUTH]()
    if oauth is None:
        raise web.HTTPServiceUnavailable(
            text=orjson.dumps({"error": {"code": "not_configured", "message":
                               "sign-in needs GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET"}}).decode(),
            content_type="application/json")
    return oauth


@routes.post("/api/auth/github")
async def start(request: web.Request) -> web.Response:
    oauth = await _oauth(request)
    is_api = request.content_type == "application/json"
    if is_api and request.body_exists:
        await json_object(request)  # nothing is read from it, but it must be an object
    next_path = _safe_next((await form_of(request)).get("next") if not is_api else None)
    state = secrets.token_urlsafe(32)
    await request.app[REDIS].set(STATE_PREFIX + state,
                                 orjson.dumps({"mode": "api" if is_api else "browser",
                                               "next": next_path}),
                                 ex=STATE_TTL_SECONDS)
    url = oauth.authorize_url(state=state, redirect_uri=_redirect_uri(request))
    if is_api:
        return responses.json({"authorize_url": url, "state": state})
    response = web.HTTPFound(url)
    response.set_cookie(STATE_COOKIE, state, max_age=STATE_TTL_SECONDS, httponly=True,
                        samesite="Lax", path="/api/auth/callback",
                        secure=request.app[SETTINGS].public_url.startswith("https://"))
    raise response


@routes.get("/api/auth/callback")
async def callback(request: web.Request) -> web.Response:
    state = request.query.get("state", "")
    raw = await request.app[REDIS].getdel(STATE_PREFIX + state) if state else None
    if raw is None:
        return responses.error(400, "bad_state", "unknown or expired sign-in state; start again")
    flow = orjson.loads(raw)
    if flow["mode"] == "browser" and request.cookies.get(STATE_COOKIE) != state:
        return responses.error(400, "bad_state", "this sign-in was started in another browser")
    if "error" in request.query:
        return responses.error(400, "denied", f"GitHub said: {request.query['error'][:200]}")
    code = request.query.get("code", "")
    if not code or len(code) > 200:
        return responses.error(400, "bad_request", "missing code", field="code")
    oauth = await _oauth(request)
    try:
        tokens = await oauth.exchange(code=code, redirect_uri=_redirect_uri(request))
        github_user = await oauth.user(tokens.access_token)
    except OAuthError as exc:
        log.info("sign-in failed: %s", exc)
        return responses.error(400, "oauth_failed", "GitHub did not accept the sign-in; try again")
    pool = request.app[POOL]
    async with pool.acquire() as conn, conn.transaction():
        user_id = await upsert_user(conn, github_user)
        await users.clear_app_revoked(conn, user_id)
        await auth_store.save_oauth_tokens(conn, request.app[BOX], user_id, tokens)
    await forget_github_list(request.app[REDIS], user_id)
    session = await request.app[SESSIONS].create(user_id=user_id, login=github_user["login"])
    if flow["mode"] == "api":
        token, expires_at = request.app[SESSIONS].issue_bearer(session)
        return responses.json({"token": token, "token_type": "Bearer", "expires_at": expires_at,
                               "user": {"id": user_id, "login": github_user["login"]}})
    response = web.HTTPFound(flow.get("next") or "/")
    _set_session_cookie(request, response, session.id)
    response.del_cookie(STATE_COOKIE, path="/api/auth/callback")
    raise response


def _set_session_cookie(request: web.Request, response: web.StreamResponse, session_id: str) -> None:
    secure = request.app[SETTINGS].public_url.startswith("https://")
    response.set_cookie(SESSION_COOKIE, session_id, max_age=SESSION_TTL_SECONDS, httponly=True,
                        samesite="Lax", secure=secure, path="/")


@routes.post("/api/auth/logout")
async def logout(request: web.Request) -> web.Response:
    principal = principal_of(request)
    if principal is not None and principal.session is not None:
        await request.app[SESSIONS].delete(principal.session.id)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.get("/api/auth/me")
async def me(request: web.Request) -> web.Response:
    principal = require_principal(request)
    visible = await visible_installations(request)
    rows = await installations.list_by_ids(request.app[POOL], sorted(visible))
    user = await users.profile(request.app[POOL], principal.user_id)
    return responses.json({
        "user": dict(user) if user else {"id": principal.user_id, "login": principal.login},
        "via": principal.via,
        "csrf_token": principal.session.csrf_token if principal.via == "session" else None,
        "installations": [{"id": r["id"], "account": r["account_login"],
                           "account_type": r["account_type"], "role": visible[r["id"]]}
                          for r in rows],
    })


async def _json_body(request: web.Request) -> dict:
    try:
        body = await request.json(loads=orjson.loads)
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text=orjson.dumps({"error": {
            "code": "bad_json", "message": "body must be a JSON object"}}).decode(),
            content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=orjson.dumps({"error": {
            "code": "bad_json", "message": "body must be a JSON object"}}).decode(),
            content_type="application/json")
    return body


@routes.post("/api/auth/tokens")
async def create_token(request: web.Request) -> web.Response:
    principal = require_principal(request)
    body = await _json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_TOKEN_NAME:
        return responses.error(400, "invalid", f"name: 1-{MAX_TOKEN_NAME} characters", field="name")
    installation = body.get("installation")
    role = body.get("role")
    days = body.get("expires_in_days", 90)
    if installation is not None and (not isinstance(installation, int) or isinstance(installation, bool)):
        return responses.error(400, "invalid", "installation: an installation id", field="installation")
    if role is not None and role not in ROLES:
        return responses.error(400, "invalid", f"role: one of {', '.join(ROLES)}", field="role")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_TOKEN_DAYS:
        return responses.error(400, "invalid", f"expires_in_days: 1-{MAX_TOKEN_DAYS}",
                               field="expires_in_days")
    if principal.via == "api_token":
        return responses.error(403, "forbidden", "API tokens cannot mint API tokens")
    if installation is not None:
        visible = await visible_installations(request)
        if installation not in visible:
            return responses.error(404, "not_found", "no such installation", field="installation")
        role = weaker(visible[installation], role)
    token, secret = await auth_store.create_api_token(
        request.app[POOL], user_id=principal.user_id, name=name.strip(),
        installation_id=installation, role=role, expires_at=utcnow() + timedelta(days=days))
    return responses.json({**token.public(), "token": secret}, status=201)


@routes.get("/api/auth/tokens")
async def list_tokens(request: web.Request) -> web.Response:
    principal = require_principal(request)
    tokens = await auth_store.list_api_tokens(request.app[POOL], principal.user_id)
    return responses.json({"tokens": [t.public() for t in tokens]})


@routes.delete("/api/auth/tokens/{token_id}")
async def revoke_token(request: web.Request) -> web.Response:
    principal = require_principal(request)
    if not await auth_store.revoke_api_token(request.app[POOL], principal.user_id,
                                             request.match_info["token_id"]):
        return responses.error(404, "not_found", "no such token")
    return web.Response(status=204)
