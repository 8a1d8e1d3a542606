"""Which installations a caller may see, and with which role.

A user sees an installation only when GitHub lists it for them (`GET /user/installations`,
cached briefly) AND our own records still allow it: the installation is not deleted or
suspended, their membership was not removed, and they have not revoked the app. GitHub's list
may lag a minute; our records cut access the moment the webhook arrives.

An installation the caller may not see is answered 404, never 403: its existence is not theirs
to learn.
"""

from __future__ import annotations

import logging

import aiohttp
import orjson
from aiohttp import web
from gidgethub import GitHubException

from devmetrics_app.crypto import SecretBox
from devmetrics_app.github.errors import GitHubAppError
from devmetrics_app.github.oauth import OAuthClient, OAuthError
from devmetrics_app.store import members
from devmetrics_app.store.auth import load_oauth_tokens, save_oauth_tokens
from devmetrics_app.store.installations import add_membership, app_role
from devmetrics_app.timeutil import utcnow
from devmetrics_app.web.identity import Principal, require_principal
from devmetrics_app.web.keys import BOX, GITHUB, OAUTH, POOL, REDIS

log = logging.getLogger(__name__)

ROLES = ("VIEWER", "DEVELOPER", "MANAGER", "ADMIN")  # increasing power
DEFAULT_MEMBER_ROLE = "DEVELOPER"
GITHUB_LIST_CACHE_SECONDS = 60
REFRESH_MARGIN_SECONDS = 120
VISIBLE = "visible_installations"


def role_at_least(role: str, minimum: str) -> bool:
    return ROLES.index(role) >= ROLES.index(minimum)


async def _user_token(request: web.Request, user_id: int, oauth: OAuthClient) -> str | None:
    """The user's access token, refreshed when about to expire; None if unusable."""
    box: SecretBox = request.app[BOX]
    tokens = await load_oauth_tokens(request.app[POOL], box, user_id)
    if tokens is None:
        return None
    expiring = tokens.expires_at is not None and (
        tokens.expires_at - utcnow()).total_seconds() < REFRESH_MARGIN_SECONDS
    if not expiring:
        return tokens.access_token
    if not tokens.refresh_token:
        return None
    try:
        fresh = await oauth.refresh(tokens.refresh_token)
    except OAuthError as exc:
        log.info("user token refresh failed: %s", exc, extra={"user_id": user_id})
        return None
    await save_oauth_tokens(request.app[POOL], box, user_id, fresh)
    return fresh.access_token


async def github_installation_ids(request: web.Request, principal: Principal) -> set[int]:
    cache_key = f"devmetrics:user-installations:{principal.user_id}"
    cached = await request.app[REDIS].get(cache_key)
    if cached is not None:
        return set(orjson.loads(cached))
    oauth = await request.app[OAUTH]()
    if oauth is None:
        return set()
    token = await _user_token(request, principal.user_id, oauth)
    if token is None:
        return set()
    try:
        ids = await oauth.installation_ids(token)
    except OAuthError:
        return set()
    await request.app[REDIS].set(cache_key, orjson.dumps(sorted(ids)), ex=GITHUB_LIST_CACHE_SECONDS)
    return ids


async def forget_github_list(redis, user_id: int) -> None:
    await redis.delete(f"devmetrics:user-installations:{user_id}")


def weaker(role: str, other: str | None) -> str:
    if other is None:
        return role
    return role if ROLES.index(role) <= ROLES.index(other) else other


async def visible_installations(request: web.Request) -> dict[int, str]:
    """installation id → role, for the calling principal (computed once per request)."""
    if VISIBLE in request:
        return request[VISIBLE]
    principal = require_principal(request)
    if principal.token_grants and principal.token_installation is not None:
        candidates = {principal.token_installation}
    else:
        candidates = await github_installation_ids(request, principal)
        if principal.token_installation is not None:
            candidates &= {principal.token_installation}
    rows = await members.active_installations(request.app[POOL], principal.user_id, sorted(candidates),
                                              default_role=DEFAULT_MEMBER_ROLE)
    visible = {}
    for row in rows:
        if principal.token_grants:
            visible[row["id"]] = principal.token_role or "VIEWER"
            continue
        role = row["role"]
        if row["ask_github"]:
            role = await _organization_role(request, row, principal.user_id) or role
        visible[row["id"]] = weaker(role, principal.token_role)
    request[VISIBLE] = visible
    return visible


async def _organization_role(request: web.Request, row, user_id: int) -> str | None:
    """The first visit of an organisation member: ask GitHub whether they own the organisation
    (owners are ADMIN here) and remember the answer as a GitHub-derived membership."""
    try:
        gh = await request.app[GITHUB].client_for(row["id"])
        membership = await gh.getitem("/orgs/{org}/memberships/{username}",
                                      {"org": row["account_login"], "username": row["login"]})
    except (GitHubAppError, GitHubException, aiohttp.ClientError) as exc:
        log.info("could not read the organisation role of %s: %s", row["login"], exc)
        return None
    if membership.get("state") != "active":
        return None
    github_role = membership.get("role")
    async with request.app[POOL].acquire() as conn:
        await add_membership(conn, row["id"], row["account_id"], user_id, github_role)
    return app_role(github_role)


def not_found() -> web.HTTPNotFound:
    return web.HTTPNotFound(text='{"error": {"code": "not_found", "message": "not found"}}',
                            content_type="application/json")


async def require_installation(request: web.Request, installation_id: int, *,
                               minimum_role: str = "VIEWER") -> str:
    """The caller's role on `installation_id`; 404 if they cannot see it, 403 if too weak."""
    role = (await visible_installations(request)).get(installation_id)
    if role is None:
        raise not_found()
    if not role_at_least(role, minimum_role):
        raise web.HTTPForbidden(
            text=orjson.dumps({"error": {"code": "forbidden",
                                         "message": f"needs the {minimum_role} role"}}).decode(),
            content_type="application/json")
    return role
