"""Path and query parameters: parsed once, and a 400 that names the field when malformed."""

from __future__ import annotations

import orjson
from aiohttp import web

from devmetrics_app.digits import is_decimal

MAX_ID = 2**63 - 1


def bad_request(field: str, message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=orjson.dumps({"error": {"code": "invalid", "message": f"{field}: {message}",
                                     "field": field}}).decode(),
        content_type="application/json")


def path_id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not is_decimal(raw) or int(raw) > MAX_ID:
        raise bad_request(name, "must be a positive integer id")
    return int(raw)


async def json_object(request: web.Request) -> dict:
    try:
        body = await request.json(loads=orjson.loads)
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise bad_request("body", "must be a JSON object")
    return body
