"""`devmetrics replay SOURCE...`: feed stored payloads through the same pipeline as webhooks.

A SOURCE is a file, a directory (its *.json, *.jsonl and *.ndjson files, in name order, found
recursively), or `-` for standard input. A file holds one JSON document, or JSON Lines: one
document per line (what `simulation.write_jsonl` writes). A document is one of:
  * a delivery as GitHub's API returns it (`GET /app/hook/deliveries/{id}`): `event`, `guid`,
    `request.headers`, `request.payload`;
  * a wrapper `{"event": "...", "payload": {...}}` (optionally `"delivery_id"`);
  * a bare payload, with the event given by `--event`.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from devmetrics_app.store.deliveries import IncomingDelivery


class ReplayError(ValueError):
    pass


STDIN = "-"
FILE_SUFFIXES = (".json", ".jsonl", ".ndjson")


def load_delivery(path: Path, *, event: str | None = None) -> IncomingDelivery:
    """A file holding exactly one delivery (one JSON document)."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ReplayError(f"{path}: cannot read JSON: {exc}") from None
    return parse_document(data, event=event, where=str(path))


def load_source(source: str, *, event: str | None = None,
                stdin: BinaryIO | None = None) -> list[IncomingDelivery]:
    """Every delivery in a file, a directory or (`-`) standard input, in order."""
    if source == STDIN:
        return parse_text((stdin or sys.stdin.buffer).read(), event=event, where="<stdin>")
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in FILE_SUFFIXES)
        if not files:
            raise ReplayError(f"{path}: no {', '.join(FILE_SUFFIXES)} files in this directory")
        return [d for file in files for d in load_source(str(file), event=event)]
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read JSON: {exc.strerror}") from None
    return parse_text(text, event=event, where=str(path))


def parse_text(text: bytes, *, event: str | None, where: str) -> list[IncomingDelivery]:
    """One JSON document (pretty-printed or not), else JSON Lines."""
    try:
        return [parse_document(orjson.loads(text), event=event, where=where)]
    except orjson.JSONDecodeError:
        pass
    deliveries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ReplayError(f"{where}:{number}: neither one JSON document nor JSON Lines: {exc}") from None
        deliveries.append(parse_document(data, event=event, where=f"{where}:{number}"))
    if not deliveries:
        raise ReplayError(f"{where}: empty")
    return deliveries


def parse_document(data: Any, *, event: str | None, where: str) -> IncomingDelivery:
    if not isinstance(data, dict):
        raise ReplayError(f"{where}: expected a JSON object")
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
        raise ReplayError(f"{where}: no event name in the file; pass --event")
    if not isinstance(payload, dict):
        raise ReplayError(f"{where}: payload is not a JSON object")
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
