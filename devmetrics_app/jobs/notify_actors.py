"""Dramatiq actors for notifications (thin: the work is in devmetrics_app.notify).

- notify_event: a webhook follow-up -- evaluate event-driven rules, claim, enqueue the sends.
- send_notification: deliver one claimed send; a retryable failure raises dramatiq.Retry with
  the delay delivery chose (Retry-After for a 429, back-off otherwise).
- scheduler_tick: time-based rules and the outbox sweep, once a minute from `devmetrics scheduler`.
"""

from __future__ import annotations

import math

import dramatiq

from devmetrics_app.crypto import SecretBox
from devmetrics_app.jobs import resources
from devmetrics_app.notify import delivery, evaluate, scheduler
from devmetrics_app.notify.dedupe import SendKey
from devmetrics_app.observability.metrics import NOTIFICATIONS
from devmetrics_app.timeutil import parse_ts

QUEUE = "notifications"
# Delivery keeps its own attempt count (delivery.MAX_ATTEMPTS) and stops retrying by itself;
# Dramatiq's cap is only a backstop for failures outside it (database unreachable).
SEND_MAX_RETRIES = delivery.MAX_ATTEMPTS + 2
EVENT_MAX_RETRIES = 10
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 10 * 60_000
TICK_MAX_AGE_MS = 5 * 60_000  # a tick stuck in a backlog is replaced by a newer one


def _box() -> SecretBox:
    return SecretBox(resources.current().settings.secret_key.get())


@dramatiq.actor(queue_name=QUEUE, max_retries=EVENT_MAX_RETRIES, min_backoff=MIN_BACKOFF_MS,
                max_backoff=MAX_BACKOFF_MS)
async def notify_event(installation_id: int, event: str, subject_id: int) -> None:
    pool = await resources.current().pool()
    keys = await evaluate.handle_event(pool, installation_id, event, subject_id)
    await delivery.enqueue_sends(keys)


@dramatiq.actor(queue_name=QUEUE, max_retries=SEND_MAX_RETRIES, min_backoff=MIN_BACKOFF_MS,
                max_backoff=MAX_BACKOFF_MS)
async def send_notification(rule_id: int, channel: str, subject_key: str, window_key: str) -> None:
    res = resources.current()
    outcome = await delivery.deliver(await res.pool(), res.settings, _box(),
                                     SendKey(rule_id, channel, subject_key, window_key))
    NOTIFICATIONS.labels(channel, outcome.status).inc()
    if outcome.status == "retrying" and outcome.delay_seconds is not None:
        raise dramatiq.Retry(outcome.error or "retrying", delay=math.ceil(outcome.delay_seconds * 1000))


@dramatiq.actor(queue_name=QUEUE, max_retries=3, max_age=TICK_MAX_AGE_MS)
async def scheduler_tick(at: str | None = None) -> None:
    res = resources.current()
    result = await scheduler.tick(await res.pool(), res.settings, now=parse_ts(at) if at else None)
    await delivery.enqueue_sends(result.due)
