"""`devmetrics replay FILE...`: feed stored payloads through the same pipeline as webhooks.

A file holds one of:
  * a delivery as GitHub's API returns it (`GET /app/hook/deliveries/{id}`): `event`, `guid`,
    `request.headers`, `request.payload`;
  * a wrapper `{"event": "...", "payload": {...}}` (optionally `"delivery_id"`);
  * a bare payload, with the event given by `--event`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from devmetrics_app.store.deliveries import IncomingDelivery


class ReplayError(ValueError):
    pass


def load_delivery(path: Path, *, event: str | None = None) -> IncomingDelivery:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ReplayError(f"{path}: cannot read JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ReplayError(f"{path}: expected a JSON object")
    delivery_id: str | None = None
    if isinstance(data.get("request"), Mapping) and "payload" in data["request"]:
        headers = {k.lower(): v for k, v in (data["request"].get("headers") or {}).items()}
        event = event or data.get("event") or headers.get("x-github-event")
        delivery_id = data.get("guid") or headers.get("x-github-delivery")
        payload: Any = data["request"]["payload"]
    elif "payload" in data and "event" in data:
        event = event or data["event"]
        delivery_id = data.get("delivery_id")
        payload = data["payload"]
    else:
        payload = data
    if not event:
        raise ReplayError(f"{path}: no event name in the file; pass --event")
    if not isinstance(payload, dict):
        raise ReplayError(f"{path}: payload is not a JSON object")
    body = orjson.dumps(payload)
    # Without an id in the file, the content names the delivery: replaying twice is a duplicate.
    delivery_id = delivery_id or "replay-" + hashlib.sha256(event.encode() + body).hexdigest()[:32]
    installation = payload.get("installation") or {}
    action = payload.get("action")
    return IncomingDelivery(
        delivery_id=str(delivery_id),
        event=str(event),
        action=action if isinstance(action, str) else None,
        installation_id=installation.get("id") if isinstance(installation, dict) else None,
        hook_id=None,
        content_type="application/json",
        body=body,
    )
