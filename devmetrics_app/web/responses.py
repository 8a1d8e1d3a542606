"""JSON responses with one error shape everywhere: {"error": {"code", "message", "field"?}}."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def json(data: Any, *, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def error(status: int, code: str, message: str, *, field: str | None = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    return json({"error": body}, status=status)
