"""A fake Discord webhook endpoint: `POST /api/webhooks/{id}/{token}`.

Answers like Discord: 204, or 200 with the created message when `?wait=true`; 404
`{"message": "Unknown Webhook", "code": 10015}` for a webhook it does not know (deleted); 429 with
`{"message", "retry_after", "global"}` and a Retry-After header when scripted. Records every post.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

WEBHOOK_ID = "123456789012345678"
WEBHOOK_TOKEN = "fake-webhook-token_abcdefABCDEF"
_ids = itertools.count(1)


@dataclass
class DiscordReply:
    status: int = 429
    retry_after: float = 0.5
    message: str = "You are being rate limited."


@dataclass
class RecordedWebhookPost:
    webhook_id: str
    query: dict[str, str]
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class FakeDiscordState:
    webhooks: dict[str, str] = field(default_factory=lambda: {WEBHOOK_ID: WEBHOOK_TOKEN})
    script: deque[DiscordReply] = field(default_factory=deque)
    posts: list[RecordedWebhookPost] = field(default_factory=list)
    delivered: list[RecordedWebhookPost] = field(default_factory=list)


def create_fake_discord(state: FakeDiscordState) -> web.Application:
    async def execute(request: web.Request) -> web.Response:
        webhook_id = request.match_info["webhook_id"]
        body = json.loads(await request.read() or b"{}")
        post = RecordedWebhookPost(webhook_id, dict(request.query), body)
        state.posts.append(post)
        if state.webhooks.get(webhook_id) != request.match_info["token"]:
            return web.json_response({"message": "Unknown Webhook", "code": 10015}, status=404)
        if state.script:
            reply = state.script.popleft()
            if reply.status == 429:
                return web.json_response(
                    {"message": reply.message, "retry_after": reply.retry_after, "global": False},
                    status=429, headers={"Retry-After": str(reply.retry_after)})
            return web.json_response({"message": reply.message, "code": 0}, status=reply.status)
        embeds = body.get("embeds") or []
        if not body.get("content") and not embeds:
            return web.json_response({"message": "Cannot send an empty message", "code": 50006},
                                     status=400)
        if len(embeds) > 10 or any(len(e.get("fields", [])) > 25 for e in embeds):
            return web.json_response({"message": "Invalid Form Body", "code": 50035}, status=400)
        state.delivered.append(post)
        if request.query.get("wait", "").lower() != "true":
            return web.Response(status=204)
        return web.json_response({"id": str(10**17 + next(_ids)), "type": 0, "channel_id": "1",
                                  "content": body.get("content") or "", "embeds": embeds,
                                  "webhook_id": webhook_id})

    app = web.Application()
    app.router.add_post("/api/webhooks/{webhook_id}/{token}", execute)
    return app
