"""A fake Slack Web API: `POST /api/chat.postMessage`, in the real wire format.

The real `AsyncWebClient` is pointed at it with `base_url`. It checks the bearer token, accepts
JSON or form bodies, answers `{"ok": true, "channel", "ts", "message"}` or Slack's error shape
(`{"ok": false, "error": "channel_not_found"}`, always HTTP 200 except a 429 with Retry-After),
and records every request. Tests script failures by pushing onto `state.script`.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

BOT_TOKEN = "xoxb-test-0000000000-0000000000000-abcdefabcdefabcdefabcdef"
_ts = itertools.count(1)


@dataclass
class SlackReply:
    """A scripted answer: an `error` (Slack's ok:false), or a 429 with `retry_after`."""

    error: str | None = None
    status: int = 200
    retry_after: float | None = None


@dataclass
class RecordedPost:
    channel: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


@dataclass
class FakeSlackState:
    token: str = BOT_TOKEN
    channels: dict[str, str] = field(default_factory=lambda: {"#eng": "C0ENG00001",
                                                              "C0ENG00001": "C0ENG00001"})
    script: deque[SlackReply] = field(default_factory=deque)
    posts: list[RecordedPost] = field(default_factory=list)  # every request, answered or not
    delivered: list[RecordedPost] = field(default_factory=list)  # those answered ok


def _error(error: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status, headers=headers)


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if request.content_type == "application/json":
        return json.loads(raw or b"{}")
    form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
    for key in ("blocks", "attachments"):
        if isinstance(form.get(key), str):
            form[key] = json.loads(form[key])
    return form


def create_fake_slack(state: FakeSlackState) -> web.Application:
    async def post_message(request: web.Request) -> web.Response:
        body = await _body(request)
        post = RecordedPost(channel=str(body.get("channel", "")), body=body,
                            headers=dict(request.headers))
        state.posts.append(post)
        if request.headers.get("Authorization") != f"Bearer {state.token}":
            return _error("invalid_auth")
        if state.script:
            reply = state.script.popleft()
            if reply.retry_after is not None:
                return _error("ratelimited", 429, {"Retry-After": str(reply.retry_after)})
            return _error(reply.error or "internal_error", reply.status)
        channel_id = state.channels.get(post.channel)
        if channel_id is None:
            return _error("channel_not_found")
        if not body.get("text") and not body.get("blocks"):
            return _error("no_text")
        state.delivered.append(post)
        ts = f"1714557600.{next(_ts):06d}"
        return web.json_response({"ok": True, "channel": channel_id, "ts": ts,
                                  "message": {"type": "message", "subtype": "bot_message",
                                              "text": body.get("text", ""), "ts": ts,
                                              "blocks": body.get("blocks", [])}})

    app = web.Application()
    app.router.add_post("/api/chat.postMessage", post_message)
    return app
