"""Path and query parameters: parsed once, and a 400 that names the field when malformed."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from devmetrics_app.digits import bounded_int

MAX_ID = 2**63 - 1


def bad_request(field: str, message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=orjson.dumps({"error": {"code": "invalid", "message": f"{field}: {message}",
                                     "field": field}}).decode(),
        content_type="application/json")


def path_id(request: web.Request, name: str) -> int:
    value = bounded_int(request.match_info[name], MAX_ID)
    if value is None:
        raise bad_request(name, "must be a positive integer id")
    return value


async def json_object(request: web.Request) -> dict:
    try:
        body = await request.json(loads=orjson.loads)
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise bad_request("body", "must be a JSON object")
    if _has_nul(body):
        # PostgreSQL stores no NUL in text or jsonb: refused here, not as a 500 at the INSERT.
        raise bad_request("body", "contains a NUL character")
    return body


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


async def form_of(request: web.Request) -> Any:
    """The posted form; a field with a NUL character is a 400 naming it (PostgreSQL refuses NUL)."""
    try:
        form = await request.post()
    except (UnicodeDecodeError, ValueError):
        raise bad_request("body", "not a form in UTF-8") from None
    for key, value in form.items():
        if isinstance(value, str) and "\x00" in value:
            raise bad_request(key, "contains a NUL character")
    return form
