"""The organisation's members as GitHub lists them, so an admin can give a role to people who
have not signed in yet (memberships are otherwise only learnt from `organization` webhooks and
first visits).

Read through the installation's client (`GET /orgs/{org}/members`, the members:read
permission), each member stored as a GitHub-derived membership: GitHub's owners become ADMIN,
members DEVELOPER, and a role an admin set by hand is kept (store/installations.add_membership).
A removed membership is not revived here either: removal cuts access until GitHub's own
membership events say otherwise.
"""

from __future__ import annotations

import asyncio
import itertools
import logging

import aiohttp
import asyncpg
from aiohttp import web
from gidgethub import GitHubException

from devmetrics_app.github.errors import GitHubAppError
from devmetrics_app.store import installations
from devmetrics_app.store.installations import add_membership
from devmetrics_app.store.users import upsert_user
from devmetrics_app.web.keys import GITHUB, POOL, REDIS

log = logging.getLogger(__name__)

MAX_MEMBERS = 2_000  # a settings page lists people, not a whole enterprise
LIST_TIMEOUT_SECONDS = 10.0  # the page still shows the recorded members if GitHub is slow
MEMBERS_URL = "/orgs/{org}/members{?role}"
# A listing is good for this long: the page is not a reason to call GitHub and rewrite every
# membership on each render (organisation webhooks keep memberships current in between).
SYNCED_KEY = "devmetrics:members-synced:{installation_id}"
SYNCED_SECONDS = 300


async def sync_members(request: web.Request, installation_id: int) -> str | None:
    """Store the organisation's members; None when done (or nothing to do), else why not."""
    synced = SYNCED_KEY.format(installation_id=installation_id)
    if await request.app[REDIS].exists(synced):
        return None
    async with request.app[POOL].acquire() as conn:
        row = await installations.account_of(conn, installation_id)
    if row is None or row["account_type"] != "Organization":
        return None  # a personal account has no members to list
    org = row["account_login"]
    try:
        async with asyncio.timeout(LIST_TIMEOUT_SECONDS):
            gh = await request.app[GITHUB].client_for(installation_id)
            admins = {m["id"] async for m in gh.getiter(MEMBERS_URL, {"org": org, "role": "admin"})}
            members = [m async for m in gh.getiter(MEMBERS_URL, {"org": org, "role": "all"})]
    except (GitHubAppError, GitHubException, aiohttp.ClientError, TimeoutError) as exc:
        log.info("could not list the members of %s: %s", org, exc)
        return (f"Could not list {org}'s members from GitHub ({exc.__class__.__name__}): the app "
                "needs the organisation Members (read) permission. Showing the members recorded so far.")
    async with request.app[POOL].acquire() as conn:
        await _store(conn, installation_id, row["account_id"], admins,
                     list(itertools.islice(members, MAX_MEMBERS)))
    await request.app[REDIS].set(synced, 1, ex=SYNCED_SECONDS)
    return None


async def _store(conn: asyncpg.Connection, installation_id: int, organization_id: int,
                 admins: set[int], members: list[dict]) -> None:
    async with conn.transaction():
        for member in members:
            user_id = await upsert_user(conn, member)
            if user_id is not None:
                await add_membership(conn, installation_id, organization_id, user_id,
                                     "admin" if user_id in admins else "member")
