"""Live updates: the WebSocket is the session's, same-origin only, room by visible room, and a
message published through Redis (as a worker does) reaches the open socket."""

from __future__ import annotations

import aiohttp
import orjson
import payloads
import pytest
import redis.asyncio as aioredis
from gidgethub.routing import Router
from gidgethub.sansio import Event
from test_pages_support import ORG, pages_fixture, seed_world  # noqa: F401

from devmetrics_app.events import live_updates as live_events
from devmetrics_app.web.dashboard.live import publish


def origin(pages) -> dict[str, str]:
    return {"Origin": str(pages.client.make_url("")).rstrip("/")}


async def test_socket_needs_session_same_origin_and_visible_rooms(pages, pool) -> None:
    await seed_world(pool)
    with pytest.raises(aiohttp.WSServerHandshakeError) as anonymous:
        await pages.client.ws_connect(f"/api/live?room=org:{ORG}", headers=origin(pages))
    assert anonymous.value.status == 401
    await pages.sign_in("alice")
    with pytest.raises(aiohttp.WSServerHandshakeError) as foreign:
        await pages.client.ws_connect(f"/api/live?room=org:{ORG}",
                                      headers={"Origin": "https://evil.example"})
    assert foreign.value.status == 403
    for room in (f"org:{payloads.SOLO_INSTALLATION_ID}", f"repo:{payloads.REPO_TOOL_ID}", "pr:1", "x:1"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as hidden:
            await pages.client.ws_connect(f"/api/live?room={room}", headers=origin(pages))
        assert hidden.value.status == 404, room


async def test_published_event_reaches_the_room(pages, pool, redis_url) -> None:
    await seed_world(pool)
    await pages.sign_in("alice")
    ws = await pages.client.ws_connect(f"/api/live?room=org:{ORG}&room=repo:{payloads.REPO_API_ID}",
                                       headers=origin(pages))
    hello = orjson.loads((await ws.receive(timeout=5)).data)
    assert hello == {"type": "hello", "rooms": [f"org:{ORG}", f"repo:{payloads.REPO_API_ID}"]}
    redis = aioredis.from_url(redis_url)
    try:
        await publish(redis, f"org:{payloads.SOLO_INSTALLATION_ID}", {"type": "not for alice"})
        await publish(redis, f"org:{ORG}", {"type": "rollup.recomputed"})
        message = orjson.loads((await ws.receive(timeout=5)).data)
        assert message == {"type": "rollup.recomputed", "room": f"org:{ORG}"}
        with pytest.raises(ValueError):
            await publish(redis, "org:1; FLUSHALL", {})
    finally:
        await redis.aclose()
        await ws.close()


def test_webhook_events_map_to_rooms() -> None:
    pr = payloads.pull_request_event("opened")
    rooms, message = live_events.rooms_for(Event(pr, event="pull_request", delivery_id="d"))
    assert rooms == [f"org:{ORG}", f"repo:{pr['repository']['id']}", f"pr:{pr['pull_request']['id']}"]
    assert message["type"] == "pull_request.opened"
    assert isinstance(live_events.router, Router)
