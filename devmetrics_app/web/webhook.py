"""POST /api/webhooks/github: verify, store durably, answer 202. Processing happens in workers."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import parse_qs

import simdjson
from aiohttp import web

from devmetrics_app.digits import is_decimal
from devmetrics_app.events.dispatch import FORM_CONTENT_TYPE
from devmetrics_app.observability.metrics import WEBHOOKS_RECEIVED, child
from devmetrics_app.store.deliveries import IncomingDelivery
from devmetrics_app.web import body_reader, responses
from devmetrics_app.web.keys import CREDENTIALS, INGEST_METER, SETTINGS, WRITER
from devmetrics_app.web.signature import verify
from devmetrics_app.web.throttle import webhook_not_before

log = logging.getLogger(__name__)

ACCEPTED_CONTENT_TYPES = frozenset({"application/json", FORM_CONTENT_TYPE})
# GitHub sends a GUID; allow any short printable token (replays, GHES) but nothing hostile.
DELIVERY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
# GitHub's documented event names are lower-case words joined by "_", some with digits
# (projects_v2, projects_v2_item, projects_v2_status_update).
EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Ids are stored as PostgreSQL bigint; anything wider is hostile, and is refused here rather
# than failing the group commit it would have joined.
BIGINT_RANGE = range(-(2**63), 2**63)
# The event label of a delivery whose signature failed: its headers are a stranger's, and each
# value they chose would be a new time series.
UNVERIFIED_EVENT = "unverified"


# simdjson validates the whole document (structure and UTF-8) several times faster than a full
# parse; the endpoint needs only three fields, the worker decodes the rest. A parser is not
# thread-safe, and the event loop is one thread.
_parser = simdjson.Parser()


@dataclass(frozen=True, slots=True)
class Peek:
    action: str | None
    installation_id: int | None
    zen: str | None


def peek_payload(content_type: str, body: bytes, *, read_zen: bool = False) -> Peek:
    """Validate the body and read the few fields the inbox row keeps (and a ping's `zen`, when
    asked: looking up a key the object lacks costs as much as parsing it); ValueError if malformed."""
    if content_type == FORM_CONTENT_TYPE:
        values = parse_qs(body.decode("utf-8"), strict_parsing=True).get("payload")
        if not values:
            raise ValueError("form body has no payload field")
        body = values[0].encode()
    try:
        document = _parser.parse(body)
    except RuntimeError as exc:
        # simdjson reports too-deep nesting and integers wider than 64 bits this way.
        raise ValueError(str(exc)) from None
    if not isinstance(document, simdjson.Object):
        raise ValueError("payload is not a JSON object")
    action = document.get("action")
    installation = document.get("installation")
    zen = document.get("zen") if read_zen else None
    if isinstance(action, str) and "\x00" in action:
        raise ValueError("action holds a NUL character")
    installation_id = (_int_or_none(installation.get("id"))
                       if isinstance(installation, simdjson.Object) else None)
    if installation_id is not None and not _in_id_range(installation_id):
        raise ValueError("installation.id is out of range")
    return Peek(
        action=action if isinstance(action, str) else None,
        installation_id=installation_id,
        zen=zen if isinstance(zen, str) else None,
    )


def _in_id_range(value: int) -> bool:
    return value in BIGINT_RANGE


def _int_or_none(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and is_decimal(value):
        return int(value)
    return None


async def receive(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    credentials = await request.app[CREDENTIALS]()
    secret = credentials.webhook_secret.get() if credentials else ""
    if not secret:
        return responses.error(503, "not_configured",
                               "no webhook secret yet: finish the app setup at /setup")
    max_bytes = settings.webhook_max_bytes
    if request.headers.get("Content-Encoding", "identity").strip().lower() != "identity":
        # GitHub never compresses deliveries; inflating a stranger's body before its signature
        # is checked would let a small bomb spend the server's memory and CPU.
        return responses.error(415, "unsupported_encoding",
                               "compressed bodies are not accepted: send no Content-Encoding")
    if request.content_type not in ACCEPTED_CONTENT_TYPES:
        return responses.error(415, "unsupported_media_type",
                               "send application/json or application/x-www-form-urlencoded")
    try:
        unverified = await body_reader.read_capped(request, max_bytes=max_bytes)
    except body_reader.BodyTooLarge:
        return responses.error(413, "too_large", f"body exceeds {max_bytes} bytes")
    except body_reader.NoSlot:
        response = responses.error(503, "busy", "too many large bodies at once; retry later")
        response.headers["Retry-After"] = "5"
        return response
    if not verify(secret, unverified, request.headers.get("X-Hub-Signature-256")):
        log.warning("webhook signature missing or invalid",
                    extra={"delivery_id": request.headers.get("X-GitHub-Delivery", "")[:100]})
        child(WEBHOOKS_RECEIVED, UNVERIFIED_EVENT, "rejected").inc()
        return responses.error(401, "bad_signature", "X-Hub-Signature-256 is missing or invalid")
    body = bytes(unverified)  # signed by GitHub: now worth its copy
    del unverified

    event = request.headers.get("X-GitHub-Event", "")
    delivery_id = request.headers.get("X-GitHub-Delivery", "")
    if not EVENT_NAME.match(event):
        return responses.error(400, "bad_header", "X-GitHub-Event is missing or malformed",
                               field="X-GitHub-Event")
    if not DELIVERY_ID.match(delivery_id):
        return responses.error(400, "bad_header", "X-GitHub-Delivery is missing or malformed",
                               field="X-GitHub-Delivery")
    try:
        peek = peek_payload(request.content_type, body, read_zen=event == "ping")
    except (ValueError, UnicodeDecodeError) as exc:
        return responses.error(400, "bad_payload", f"body is not a JSON object: {exc}")
    if event == "ping":
        return responses.json({"ok": True, "zen": peek.zen})

    hook_id = _int_or_none(request.headers.get("X-GitHub-Hook-ID"))
    if hook_id is not None and not _in_id_range(hook_id):
        return responses.error(400, "bad_header", "X-GitHub-Hook-ID is out of range",
                               field="X-GitHub-Hook-ID")
    delivery = IncomingDelivery(
        delivery_id=delivery_id,
        event=event,
        action=peek.action,
        installation_id=peek.installation_id,
        hook_id=hook_id,
        content_type=request.content_type,
        body=body,
        not_before=await webhook_not_before(request.app, peek.installation_id),
    )
    try:
        is_new = await request.app[WRITER].write(delivery)
    except Exception:
        # Not stored, so not acknowledged: GitHub records the failure and it can be redelivered.
        log.exception("could not store delivery", extra={"delivery_id": delivery_id})
        child(WEBHOOKS_RECEIVED, event, "error").inc()
        return responses.error(503, "unavailable", "could not store the delivery; retry later")
    outcome = "duplicate" if not is_new else "deferred" if delivery.not_before else "stored"
    child(WEBHOOKS_RECEIVED, event, outcome).inc()
    if meter := request.app.get(INGEST_METER):
        meter.count()
    return responses.json({"delivery": delivery_id, "duplicate": not is_new}, status=202)
