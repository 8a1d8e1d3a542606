"""A fake Anthropic API: `POST /v1/messages` and `GET /v1/models`, in the real wire format.

Tests script answers on `FakeAnthropicState.script` (a queue: a message to return, or an error to
raise), point the real `AsyncAnthropic` at the server with `base_url`, and assert on `requests`
(every request the fake answered, body decoded). Prompt caching is simulated: the first request
with a given cached system prompt reports `cache_creation_input_tokens`, later ones
`cache_read_input_tokens`.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Json = dict[str, Any]
_ids = itertools.count(1)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    """One scripted answer. `text` becomes the message's text block; `error_type` makes it an error."""

    text: str = ""
    status: int = 200
    error_type: str | None = None
    error_message: str = ""
    error_code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stop_reason: str = "end_turn"
    output_tokens: int = 120


@dataclass
class FakeAnthropicState:
    api_key: str = "sk-ant-test-key-000000000000000000000"
    script: deque[Reply] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    models: list[Json] = field(default_factory=lambda: [
        _model("claude-sonnet-4-6", "Claude Sonnet 4.6"),
        _model("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", lifecycle="deprecated"),
        _model("claude-haiku-4-5-20251001", "Claude Haiku 4.5"),
        _model("claude-3-haiku-20240307", "Claude Haiku 3", lifecycle="deprecated"),
        _model("claude-2.1", "Claude 2.1", lifecycle="retired"),
    ])
    cached_prefixes: set[str] = field(default_factory=set)

    # --- scripting helpers ---
    def reply_json(self, data: Any, **kw: Any) -> None:
        self.script.append(Reply(text=json.dumps(data), **kw))

    def reply_text(self, text: str, **kw: Any) -> None:
        self.script.append(Reply(text=text, **kw))

    def overloaded(self) -> None:
        self.script.append(Reply(status=529, error_type="overloaded_error", error_message="Overloaded"))

    def rate_limited(self, retry_after: str | None = "7") -> None:
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        self.script.append(Reply(status=429, error_type="rate_limit_error", headers=headers,
                                 error_message="Number of request tokens has exceeded your per-minute rate "
                                               "limit"))

    def spend_limit(self) -> None:
        self.script.append(Reply(status=429, error_type="rate_limit_error",
                                 error_code="enforced_spend_limit_reached",
                                 headers={"retry-after": "1"},
                                 error_message="You have reached your specified API usage limits."))

    def credit_balance(self) -> None:
        """Anthropic's answer when the account has run out of prepaid credit."""
        self.script.append(Reply(status=400, error_type="invalid_request_error", error_message=(
            "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing "
            "to upgrade or purchase credits.")))

    def invalid_request(self, message: str = "messages: field required") -> None:
        self.script.append(Reply(status=400, error_type="invalid_request_error", error_message=message))

    @property
    def message_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v1/messages"]


def _model(model_id: str, name: str, lifecycle: str = "active") -> Json:
    return {"type": "model", "id": model_id, "display_name": name, "created_at": "2025-09-29T00:00:00Z",
            "lifecycle": lifecycle}


def _error(reply: Reply) -> web.Response:
    error: Json = {"type": reply.error_type, "message": reply.error_message or reply.error_type}
    if reply.error_code:
        error["details"] = {"error_code": reply.error_code}
    body = {"type": "error", "error": error, "request_id": f"req_fake{next(_ids):06d}"}
    return web.json_response(body, status=reply.status, headers=reply.headers)


def _estimate(text: str) -> int:
    return max(1, len(text) // 4)


def create_fake_anthropic(state: FakeAnthropicState) -> web.Application:
    async def auth(request: web.Request) -> web.Response | None:
        # Older SDKs send `x-api-key`; this one sends the key as `Authorization: Bearer`.
        presented = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix(
            "Bearer ")
        if presented != state.api_key:
            return web.json_response(
                {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
                status=401)
        return None

    async def messages(request: web.Request) -> web.Response:
        body = await request.json()
        state.requests.append(RecordedRequest("POST", request.path, dict(request.headers), body))
        if (denied := await auth(request)) is not None:
            return denied
        if not body.get("messages") or not body.get("model") or "max_tokens" not in body:
            return _error(Reply(status=400, error_type="invalid_request_error",
                                error_message="model, messages and max_tokens are required"))
        if not state.script:
            return _error(Reply(status=500, error_type="api_error", error_message="fake: nothing scripted"))
        reply = state.script.popleft()
        if reply.error_type:
            return _error(reply)
        system = body.get("system") or []
        cached = "".join(b.get("text", "") for b in system if isinstance(b, dict) and b.get("cache_control"))
        cache_write = cache_read = 0
        if cached:
            if cached in state.cached_prefixes:
                cache_read = _estimate(cached)
            else:
                state.cached_prefixes.add(cached)
                cache_write = _estimate(cached)
        user_text = json.dumps(body["messages"])
        usage = {
            "input_tokens": _estimate(user_text),
            "output_tokens": reply.output_tokens,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "cache_creation": {"ephemeral_5m_input_tokens": cache_write, "ephemeral_1h_input_tokens": 0},
            "service_tier": "standard",
        }
        return web.json_response({
            "id": f"msg_fake{next(_ids):06d}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": reply.text}],
            "stop_reason": reply.stop_reason,
            "stop_sequence": None,
            "usage": usage,
        })

    async def models(request: web.Request) -> web.Response:
        state.requests.append(RecordedRequest("GET", request.path, dict(request.headers), None))
        if (denied := await auth(request)) is not None:
            return denied
        limit = int(request.query.get("limit", "20"))
        after = request.query.get("after_id")
        ids = [m["id"] for m in state.models]
        start = ids.index(after) + 1 if after in ids else 0
        page = state.models[start:start + limit]
        return web.json_response({
            "data": page,
            "has_more": start + limit < len(state.models),
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
        })

    app = web.Application()
    app.router.add_post("/v1/messages", messages)
    app.router.add_get("/v1/models", models)
    return app
