"""GitHub's OAuth web flow for GitHub Apps, and the signed-in user's own endpoints.

GET  /login/oauth/authorize      GitHub's consent page: the fake approves at once for
                                 `state.default_login` (or ?login=) and redirects back with a code
POST /login/oauth/access_token   code or refresh_token → expiring user token + refresh token
GET  /user                       the token's user
GET  /user/installations         the app's installations this user can reach (paginated,
                                 wrapped in {"total_count", "installations"})
"""

from __future__ import annotations

import secrets
import time

import orjson
from aiohttp import web

from fakes.github import json_response, paginate, state_of, token_identity, unauthorized

REFRESH_TOKEN_SECONDS = 184 * 24 * 3600


def add_routes(app: web.Application) -> None:
    app.router.add_get("/login/oauth/authorize", authorize)
    app.router.add_post("/login/oauth/access_token", access_token)
    app.router.add_get("/user", user)
    app.router.add_get("/user/installations", user_installations)


async def authorize(request: web.Request) -> web.Response:
    state = state_of(request)
    if request.query.get("client_id") != state.client_id:
        return web.Response(status=404, text="Not Found")
    login = request.query.get("login") or state.default_login
    code = secrets.token_hex(10)
    state.oauth_codes[code] = login
    redirect_uri = request.query["redirect_uri"]
    raise web.HTTPFound(f"{redirect_uri}?code={code}&state={request.query.get('state', '')}")


def issue_user_token(state, login: str) -> dict:
    token = "ghu_" + secrets.token_hex(18)
    refresh = "ghr_" + secrets.token_hex(30)
    lifetime = state.user_token_seconds
    state.tokens[token] = {"login": login, "expires_at": time.time() + lifetime}
    state.tokens[refresh] = {"refresh_for": login, "expires_at": time.time() + REFRESH_TOKEN_SECONDS}
    return {"access_token": token, "expires_in": lifetime, "refresh_token": refresh,
            "refresh_token_expires_in": REFRESH_TOKEN_SECONDS, "scope": "", "token_type": "bearer"}


async def access_token(request: web.Request) -> web.Response:
    state = state_of(request)
    form = await request.post()
    if form.get("client_id") != state.client_id or form.get("client_secret") != state.client_secret:
        return json_response(request, {"error": "incorrect_client_credentials",
                                       "error_description": "The client_id and/or client_secret "
                                                            "passed are incorrect."})
    if form.get("grant_type") == "refresh_token":
        old = state.tokens.pop(str(form.get("refresh_token", "")), None)
        if not old or "refresh_for" not in old or old["expires_at"] < time.time():
            return json_response(request, {"error": "bad_refresh_token",
                                           "error_description": "The refresh token passed is "
                                                                "incorrect or expired."})
        return json_response(request, issue_user_token(state, old["refresh_for"]))
    login = state.oauth_codes.pop(str(form.get("code", "")), None)  # codes are single-use
    if login is None:
        return json_response(request, {"error": "bad_verification_code",
                                       "error_description": "The code passed is incorrect or "
                                                            "expired."})
    return json_response(request, issue_user_token(state, login))


async def user(request: web.Request) -> web.Response:
    identity = token_identity(request)
    if identity is None or "login" not in identity:
        return unauthorized()
    return json_response(request, state_of(request).users[identity["login"]])


async def user_installations(request: web.Request) -> web.Response:
    identity = token_identity(request)
    if identity is None or "login" not in identity:
        return unauthorized()
    state = state_of(request)
    ids = state.user_installations.get(identity["login"], [])
    installations = [state.installations[i] for i in ids if i in state.installations]
    page = paginate(request, installations)
    wrapped = {"total_count": len(installations), "installations": orjson.loads(page.body)}
    link = page.headers.get("Link")
    return json_response(request, wrapped, headers={"Link": link} if link else None)
