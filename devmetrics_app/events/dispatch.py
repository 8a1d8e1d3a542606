"""Process one stored delivery: route it to its handlers and mark it done, in one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import asyncpg
import orjson
from gidgethub.routing import Router
from gidgethub.sansio import Event

from devmetrics_app.events.context import Context, Unprocessable
from devmetrics_app.logs import delivery_id_var
from devmetrics_app.observability.metrics import record_processed
from devmetrics_app.store import deliveries, outbox
from devmetrics_app.store.deliveries import StoredDelivery
from devmetrics_app.store.lock_order import lock_payload_rows
from devmetrics_app.timeutil import utcnow

log = logging.getLogger(__name__)

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
RETRY_BASE_SECONDS = 30.0
RETRY_MAX_SECONDS = 3600.0


def decode_payload(content_type: str, body: bytes) -> dict:
    """The JSON object GitHub sent, from either content type it may use."""
    if content_type == FORM_CONTENT_TYPE:
        values = parse_qs(body.decode("utf-8"), strict_parsing=True).get("payload")
        if not values:
            raise ValueError("form body has no payload field")
        body = values[0].encode()
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise ValueError("payload is not a JSON object")
    if b"\\u0000" in body:  # rare: only then walk the payload
        data = _without_nul(data)
    return data


def _without_nul(value: Any) -> Any:
    """NUL characters become U+FFFD: PostgreSQL stores no NUL in text or jsonb, and a title or
    commit message carrying one must not stop the whole delivery (the raw body keeps it)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off for a delivery that failed `attempts` times."""
    return timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS))


@dataclass(frozen=True)
class Outcome:
    status: str  # processed, ignored, retrying, failed
    # Jobs the handlers asked for, already committed to the outbox with the delivery.
    followups: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


async def process_delivery(
    conn: asyncpg.Connection, router: Router, delivery_id: str, *, max_attempts: int
) -> Outcome | None:
    """Process one delivery; None when it is already done or another worker holds it."""
    token = delivery_id_var.set(delivery_id)
    try:
        async with conn.transaction():
            await conn.execute(deliveries.REPLAYABLE_COMMIT)
            stored = await deliveries.claim(conn, delivery_id)
            if stored is None:
                return None
            followups: list[tuple[str, dict[str, Any]]] = []
            status = await _run_handlers(conn, router, stored, followups, max_attempts=max_attempts)
            if status == "processed":
                # Same transaction as the 'processed' mark: a Redis outage after the commit
                # delays these jobs (the dispatcher sends them) but cannot lose them.
                await outbox.add(conn, followups, delivery_id=delivery_id)
        record_processed(stored.event, status, stored.received_at)  # committed: count it
        if status == "processed":
            await outbox.wake_dispatchers(conn, len(followups))
        return Outcome(status, followups if status == "processed" else [])
    finally:
        delivery_id_var.reset(token)


async def _run_handlers(
    conn: asyncpg.Connection,
    router: Router,
    stored: StoredDelivery,
    followups: list[tuple[str, dict[str, Any]]],
    *,
    max_attempts: int,
) -> str:
    try:
        event = Event(decode_payload(stored.content_type, stored.body), event=stored.event,
                      delivery_id=stored.delivery_id)
    except ValueError as exc:
        await deliveries.record_failure(conn, stored.delivery_id, error=f"bad payload: {exc}",
                                        retry_at=None)
        log.warning("delivery payload cannot be decoded", extra={"error": str(exc)})
        return "failed"
    if not router.fetch(event):
        await deliveries.mark_done(conn, stored.delivery_id, status="ignored")
        return "ignored"
    ctx = Context(conn=conn, delivery_id=stored.delivery_id, received_at=stored.received_at,
                  followups=followups)
    try:
        async with conn.transaction():  # a savepoint: a failing handler leaves no partial rows
            await lock_payload_rows(conn, event.data)  # concurrent deliveries cannot deadlock
            await router.dispatch(event, ctx)
    except Unprocessable as exc:
        await deliveries.record_failure(conn, stored.delivery_id, error=str(exc), retry_at=None)
        log.warning("delivery cannot be processed: %s", exc)
        return "failed"
    except Exception as exc:
        attempts = stored.attempts + 1
        give_up = attempts >= max_attempts
        retry_at = None if give_up else utcnow() + retry_delay(attempts)
        await deliveries.record_failure(conn, stored.delivery_id,
                                        error=f"{type(exc).__name__}: {exc}", retry_at=retry_at)
        log.exception("handler failed (attempt %d of %d)", attempts, max_attempts,
                      extra={"event": stored.event, "action": stored.action})
        return "failed" if give_up else "retrying"
    await deliveries.mark_done(conn, stored.delivery_id, status="processed")
    return "processed"
