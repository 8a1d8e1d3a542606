"""POST /api/webhooks/github: verify, store durably, answer 202. Processing happens in workers."""

from __future__ import annotations

import logging
import re

from aiohttp import web

from devmetrics_app.events.dispatch import FORM_CONTENT_TYPE, decode_payload
from devmetrics_app.store.deliveries import IncomingDelivery
from devmetrics_app.web import responses
from devmetrics_app.web.keys import SETTINGS, WRITER
from devmetrics_app.web.signature import verify

log = logging.getLogger(__name__)

ACCEPTED_CONTENT_TYPES = frozenset({"application/json", FORM_CONTENT_TYPE})
# GitHub sends a GUID; allow any short printable token (replays, GHES) but nothing hostile.
DELIVERY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
EVENT_NAME = re.compile(r"^[a-z_]{1,64}$")


def _int_or_none(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


async def receive(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    secret = settings.github_webhook_secret.get()
    if not secret:
        return responses.error(503, "not_configured",
                               "GITHUB_WEBHOOK_SECRET is not set; finish the app setup first")
    max_bytes = settings.webhook_max_bytes
    if request.content_length is not None and request.content_length > max_bytes:
        return responses.error(413, "too_large", f"body exceeds {max_bytes} bytes")
    if request.content_type not in ACCEPTED_CONTENT_TYPES:
        return responses.error(415, "unsupported_media_type",
                               "send application/json or application/x-www-form-urlencoded")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return responses.error(413, "too_large", f"body exceeds {max_bytes} bytes")
    if not verify(secret, body, request.headers.get("X-Hub-Signature-256")):
        log.warning("webhook signature missing or invalid",
                    extra={"delivery_id": request.headers.get("X-GitHub-Delivery", "")[:100]})
        return responses.error(401, "bad_signature", "X-Hub-Signature-256 is missing or invalid")

    event = request.headers.get("X-GitHub-Event", "")
    delivery_id = request.headers.get("X-GitHub-Delivery", "")
    if not EVENT_NAME.match(event):
        return responses.error(400, "bad_header", "X-GitHub-Event is missing or malformed",
                               field="X-GitHub-Event")
    if not DELIVERY_ID.match(delivery_id):
        return responses.error(400, "bad_header", "X-GitHub-Delivery is missing or malformed",
                               field="X-GitHub-Delivery")
    try:
        payload = decode_payload(request.content_type, body)
    except (ValueError, UnicodeDecodeError) as exc:
        return responses.error(400, "bad_payload", f"body is not a JSON object: {exc}")
    if event == "ping":
        return responses.json({"ok": True, "zen": payload.get("zen")})

    action = payload.get("action")
    installation = payload.get("installation")
    delivery = IncomingDelivery(
        delivery_id=delivery_id,
        event=event,
        action=action if isinstance(action, str) else None,
        installation_id=_int_or_none(installation.get("id")) if isinstance(installation, dict) else None,
        hook_id=_int_or_none(request.headers.get("X-GitHub-Hook-ID")),
        content_type=request.content_type,
        body=body,
    )
    try:
        is_new = await request.app[WRITER].write(delivery)
    except Exception:
        # Not stored, so not acknowledged: GitHub records the failure and it can be redelivered.
        log.exception("could not store delivery", extra={"delivery_id": delivery_id})
        return responses.error(503, "unavailable", "could not store the delivery; retry later")
    return responses.json({"delivery": delivery_id, "duplicate": not is_new}, status=202)
