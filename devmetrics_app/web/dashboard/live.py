"""Live updates: a WebSocket per open page, rooms per organisation, repository and pull request,
fed through Redis pub/sub so that whichever process did the work, every web process delivers.

Workers call `publish(redis, "pr:123", {"type": "analysis.completed"})`. Each web process keeps
one pattern subscription (`devmetrics:live:*`) and fans messages out to its own sockets in the
room. A socket is opened by a signed-in browser (session cookie) from our own origin — browsers
attach cookies to cross-site WebSocket handshakes, so the Origin check is what stops another
site listening in — and may join only rooms of installations the user may see (others: 404).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import orjson
import redis.asyncio as aioredis
from aiohttp import WSMsgType, web

from devmetrics_app.store import pull_requests as store_pull_requests
from devmetrics_app.store import repositories as store_repositories
from devmetrics_app.web.identity import principal_of
from devmetrics_app.web.keys import POOL, REDIS, SESSIONS, SETTINGS
from devmetrics_app.web.sessions import SESSION_COOKIE
from devmetrics_app.web.tenancy import not_found, require_installation, visible_installations

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "devmetrics:live:"
ROOM = re.compile(r"^(org|repo|pr):([1-9][0-9]{0,18})$")
MAX_ROOMS = 10
HEARTBEAT_SECONDS = 25.0
SESSION_RECHECK_SECONDS = 60.0
RETRY_SECONDS = (0.5, 1, 2, 5, 10)
CLOSE_SESSION_ENDED = 4401
PATH = "/api/live"


async def publish(redis: aioredis.Redis, room: str, event: dict[str, Any]) -> int:
    """Send `event` to every open page in `room` (any web process); returns the listeners
    reached (web processes, not sockets). Rooms: org:<installation>, repo:<id>, pr:<id>."""
    if not ROOM.match(room):
        raise ValueError(f"not a room: {room!r}")
    return await redis.publish(CHANNEL_PREFIX + room, orjson.dumps({**event, "room": room}))


class Hub:
    """This process's sockets by room."""

    def __init__(self) -> None:
        self.rooms: dict[str, set[web.WebSocketResponse]] = defaultdict(set)

    def join(self, ws: web.WebSocketResponse, rooms: list[str]) -> None:
        for room in rooms:
            self.rooms[room].add(ws)

    def leave(self, ws: web.WebSocketResponse, rooms: list[str]) -> None:
        for room in rooms:
            members = self.rooms.get(room)
            if members is not None:
                members.discard(ws)
                if not members:
                    del self.rooms[room]

    async def deliver(self, room: str, data: bytes) -> None:
        for ws in list(self.rooms.get(room, ())):
            if not ws.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_str(data.decode())

    async def close_all(self) -> None:
        for ws in {ws for members in self.rooms.values() for ws in members}:
            await ws.close(code=1001, message=b"server shutting down")


HUB = web.AppKey("live_hub", Hub)
SHUTDOWN_TIMEOUT_SECONDS = 2.0


async def _listen(redis: aioredis.Redis, hub: Hub) -> None:
    """Forward published events to local sockets; resubscribe after a Redis outage."""
    attempt = 0
    while True:
        try:
            async with redis.pubsub() as pubsub:
                await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                attempt = 0
                async for message in pubsub.listen():
                    if message.get("type") != "pmessage":
                        continue
                    channel = message["channel"]
                    channel = channel.decode() if isinstance(channel, bytes) else channel
                    await hub.deliver(channel.removeprefix(CHANNEL_PREFIX), message["data"])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis went away: keep the web process up, try again
            delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
            attempt += 1
            log.warning("live listener lost Redis (%s); retrying in %s s", exc, delay)
            await asyncio.sleep(delay)


async def _listener(app: web.Application) -> AsyncIterator[None]:
    hub = app[HUB]
    task = asyncio.create_task(_listen(app[REDIS], hub))
    yield
    task.cancel()
    # Bounded: a pub/sub connection that does not answer must not hold up shutdown.
    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
        await asyncio.wait_for(task, SHUTDOWN_TIMEOUT_SECONDS)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(hub.close_all(), SHUTDOWN_TIMEOUT_SECONDS)


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if not origin:
        return False
    allowed = {f"{request.scheme}://{request.host}"}
    public = urlsplit(request.app[SETTINGS].public_url)
    allowed.add(f"{public.scheme}://{public.netloc}")
    return origin.rstrip("/") in allowed


async def _authorise(request: web.Request, rooms: list[str]) -> None:
    """Each room's installation must be visible to the user; anything else is 404."""
    visible = await visible_installations(request)
    pool = request.app[POOL]
    for room in rooms:
        match = ROOM.match(room)
        if match is None:
            raise not_found()
        kind, raw = match.group(1), int(match.group(2))
        if kind == "org":
            installation_id = raw
        else:
            owner = store_repositories if kind == "repo" else store_pull_requests
            installation_id = await owner.installation_of(pool, raw, sorted(visible))
            if installation_id is None:
                raise not_found()
        await require_installation(request, installation_id)


async def websocket(request: web.Request) -> web.StreamResponse:
    principal = principal_of(request)
    if principal is None or principal.session is None:
        raise web.HTTPUnauthorized(text='{"error": {"code": "unauthenticated", "message": "sign in"}}',
                                   content_type="application/json")
    if not _same_origin(request):
        raise web.HTTPForbidden(text='{"error": {"code": "origin", "message": "cross-origin socket"}}',
                                content_type="application/json")
    rooms = sorted({r for raw in request.query.getall("room", []) for r in raw.split()})
    if not rooms or len(rooms) > MAX_ROOMS:
        raise web.HTTPBadRequest(text='{"error": {"code": "invalid", "message": "room: 1-10 rooms"}}',
                                 content_type="application/json")
    await _authorise(request, rooms)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS)
    await ws.prepare(request)
    hub = request.app[HUB]
    hub.join(ws, rooms)
    session_id = request.cookies.get(SESSION_COOKIE, "")
    try:
        await ws.send_str(orjson.dumps({"type": "hello", "rooms": rooms}).decode())
        while not ws.closed:
            try:
                message = await ws.receive(timeout=SESSION_RECHECK_SECONDS)
            except TimeoutError:
                if await request.app[SESSIONS].get(session_id) is None:  # signed out elsewhere
                    await ws.close(code=CLOSE_SESSION_ENDED, message=b"session ended")
                continue
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                break
    finally:
        hub.leave(ws, rooms)
    return ws


def setup(app: web.Application) -> None:
    """Call after the app's own resources context (it needs app[REDIS])."""
    app[HUB] = Hub()
    app.cleanup_ctx.append(_listener)
    app.router.add_get(PATH, websocket)
