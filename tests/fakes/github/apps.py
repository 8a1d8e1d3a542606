"""The fake GitHub's app endpoints: app JWT checks, installations, installation tokens, the
manifest conversion, webhook redeliveries, and `GET /installation/repositories`.

Hook deliveries come from `state.hook_deliveries` (a list of GitHub delivery objects) when a test
sets it; redelivery attempts are visible in `state.requests`.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

import jwt
from aiohttp import web

from fakes.github import (
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    bearer,
    json_response,
    not_found,
    paginate,
    state_of,
    token_identity,
    unauthorized,
)
from fakes.github.state import FakeGitHubState, Json

# GitHub refuses app JWTs that live longer than ten minutes.
MAX_JWT_LIFETIME_SECONDS = 600
CLOCK_LEEWAY_SECONDS = 60
SUSPENDED_MESSAGE = "This installation has been suspended"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/app", get_app)
    app.router.add_get("/app/installations", list_installations)
    app.router.add_get("/app/installations/{id}", get_installation)
    app.router.add_post("/app/installations/{id}/access_tokens", create_access_token)
    app.router.add_post("/app-manifests/{code}/conversions", convert_manifest)
    app.router.add_get("/app/hook/deliveries", list_hook_deliveries)
    app.router.add_post("/app/hook/deliveries/{id}/attempts", redeliver)
    app.router.add_get("/installation/repositories", installation_repositories)
    app.router.add_get("/rate_limit", rate_limit)
    app.router.add_get("/orgs/{org}/memberships/{username}", org_membership)
    app.router.add_get("/orgs/{org}/members", org_members)


def app_jwt_valid(request: web.Request) -> bool:
    """GitHub's checks: RS256 signed by the app's key, `iss` the app id as a string, issued not
    in the future, unexpired, and living at most ten minutes."""
    state = state_of(request)
    token = bearer(request)
    if token is None or not state.app_public_key_pem:
        return False
    try:
        claims = jwt.decode(token, state.app_public_key_pem, algorithms=["RS256"],
                            options={"require": ["iat", "exp", "iss"]}, leeway=CLOCK_LEEWAY_SECONDS)
    except jwt.PyJWTError:
        return False
    now = time.time()
    return (claims["iss"] == str(state.app.get("id"))
            and claims["exp"] - claims["iat"] <= MAX_JWT_LIFETIME_SECONDS
            and claims["exp"] <= now + MAX_JWT_LIFETIME_SECONDS)


async def get_app(request: web.Request) -> web.Response:
    if not app_jwt_valid(request):
        return unauthorized()
    return json_response(request, state_of(request).app)


async def list_installations(request: web.Request) -> web.Response:
    if not app_jwt_valid(request):
        return unauthorized()
    return paginate(request, list(state_of(request).installations.values()))


def _installation(request: web.Request) -> Json | None:
    try:
        return state_of(request).installations.get(int(request.match_info["id"]))
    except ValueError:
        return None


async def get_installation(request: web.Request) -> web.Response:
    if not app_jwt_valid(request):
        return unauthorized()
    installation = _installation(request)
    return not_found() if installation is None else json_response(request, installation)


async def create_access_token(request: web.Request) -> web.Response:
    if not app_jwt_valid(request):
        return unauthorized()
    installation = _installation(request)
    if installation is None:
        return not_found()
    if installation.get("suspended_at"):
        return web.json_response({"message": SUSPENDED_MESSAGE,
                                  "documentation_url": "https://docs.github.com/rest"}, status=403)
    state = state_of(request)
    token = "ghs_" + secrets.token_urlsafe(27)
    expires_at = time.time() + state.token_lifetime_seconds
    state.tokens[token] = {"installation_id": int(installation["id"]), "expires_at": expires_at}
    return json_response(request, {
        "token": token,
        "expires_at": datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "permissions": installation.get("permissions", {}),
        "repository_selection": installation.get("repository_selection", "all"),
    }, status=201)


async def convert_manifest(request: web.Request) -> web.Response:
    """Codes are single-use, as on GitHub."""
    conversion = state_of(request).manifest_codes.pop(request.match_info["code"], None)
    return not_found() if conversion is None else json_response(request, conversion, status=201)


def _hook_deliveries(state: FakeGitHubState) -> list[Json]:
    return state.hook_deliveries


async def list_hook_deliveries(request: web.Request) -> web.Response:
    if not app_jwt_valid(request):
        return unauthorized()
    return paginate(request, _hook_deliveries(state_of(request)))


async def redeliver(request: web.Request) -> web.Response:
    if not app_jwt_valid(request):
        return unauthorized()
    wanted = request.match_info["id"]
    if not any(str(d.get("id")) == wanted for d in _hook_deliveries(state_of(request))):
        return not_found()
    return json_response(request, {}, status=202)


async def installation_repositories(request: web.Request) -> web.Response:
    identity = token_identity(request)
    if identity is None or "installation_id" not in identity:
        return unauthorized()
    state = state_of(request)
    repos = [repo for name, repo in state.repositories.items()
             if state.repository_installation.get(name) == identity["installation_id"]]
    try:
        per_page = min(int(request.query.get("per_page", DEFAULT_PER_PAGE)), MAX_PER_PAGE)
        page = max(int(request.query.get("page", 1)), 1)
    except ValueError:
        return web.json_response({"message": "Invalid page"}, status=422)
    last = max((len(repos) + per_page - 1) // per_page, 1)
    links = []
    if page < last:
        links.append(f'<{request.url.update_query(page=page + 1, per_page=per_page)}>; rel="next"')
        links.append(f'<{request.url.update_query(page=last, per_page=per_page)}>; rel="last"')
    body: dict[str, Any] = {"total_count": len(repos), "repository_selection": "selected",
                            "repositories": repos[(page - 1) * per_page:page * per_page]}
    return json_response(request, body, headers={"Link": ", ".join(links)} if links else None)


async def rate_limit(request: web.Request) -> web.Response:
    """Free to call, as on GitHub; reports the fake's primary budget."""
    if token_identity(request) is None and not app_jwt_valid(request):
        return unauthorized()
    state = state_of(request)
    remaining = 5000 if state.rate_limit_remaining is None else state.rate_limit_remaining
    reset = state.rate_limit_reset or int(time.time()) + 3600
    core = {"limit": 5000, "remaining": remaining, "reset": reset, "used": 5000 - remaining}
    return json_response(request, {"resources": {"core": core}, "rate": core})


async def org_membership(request: web.Request) -> web.Response:
    """An organisation member's role, as an installation with members:read sees it."""
    identity = token_identity(request)
    if identity is None or "installation_id" not in identity:
        return unauthorized()
    state = state_of(request)
    role = state.org_roles.get((request.match_info["org"], request.match_info["username"]))
    if role is None:
        return not_found()
    org = request.match_info["org"]
    return json_response(request, {
        "url": f"https://api.github.com/orgs/{org}/memberships/{request.match_info['username']}",
        "state": "active", "role": role,
        "organization": {"login": org},
        "user": state.users.get(request.match_info["username"], {"login": request.match_info["username"]}),
    })


async def org_members(request: web.Request) -> web.Response:
    """The organisation's members (`role=all|admin|member`), as an installation with
    members:read lists them: simple user objects, paginated."""
    identity = token_identity(request)
    if identity is None or "installation_id" not in identity:
        return unauthorized()
    state = state_of(request)
    org, wanted = request.match_info["org"], request.query.get("role", "all")
    logins = sorted(login for (o, login), role in state.org_roles.items()
                    if o == org and wanted in ("all", role))
    users = [state.users.get(login) or {"login": login, "id": 0} for login in logins]
    return paginate(request, [{"login": u["login"], "id": u["id"], "type": u.get("type", "User"),
                               "avatar_url": u.get("avatar_url")} for u in users])
