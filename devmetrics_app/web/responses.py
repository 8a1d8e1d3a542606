"""JSON responses with one error shape everywhere: {"error": {"code", "message", "field"?}}."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
from aiohttp import web


def _default(value: Any) -> str:
    # orjson would write a dataclass's raw fields: a typed metrics report (its Figures' `details`
    # and `items` as they are) must go through web/api/serialize.to_json, so one that did not
    # fails here instead of reaching a client in the wrong shape.
    if dataclasses.is_dataclass(value):
        raise TypeError(f"{type(value).__name__} reached a response unconverted: use serialize.to_json")
    return str(value)


def json(data: Any, *, status: int = 200) -> web.Response:
    # The bytes as orjson writes them: json_response would decode them to text and encode again.
    return web.Response(body=orjson.dumps(data, default=_default,
                                          option=orjson.OPT_PASSTHROUGH_DATACLASS),
                        status=status, content_type="application/json")


def error(status: int, code: str, message: str, *, field: str | None = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    return json({"error": body}, status=status)
