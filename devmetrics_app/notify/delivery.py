"""Send one claimed notification, and decide what a failure means.

- Rate limited (429): retry after exactly the Retry-After the service gave.
- Transient (5xx, timeout): retry with exponential back-off, up to MAX_ATTEMPTS.
- Permanent (revoked token, deleted channel or webhook), or transient failures that never stop:
  the send is marked failed and the rule flagged (flagged_at, flag_reason) -- the rule then waits
  for a person rather than failing again on every event.

Every attempt lands in notification_logs. The send row is leased while a worker sends, so a job
that Dramatiq retries and a copy the sweep re-enqueued cannot both deliver; a lease left by a dead
worker expires.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import asyncpg
import dramatiq

from devmetrics_app.config import Settings
from devmetrics_app.crypto import DecryptionError, SecretBox
from devmetrics_app.notify import log
from devmetrics_app.notify.channels import (
    PermanentFailure,
    RateLimited,
    TransientFailure,
    discord,
    email,
    in_app,
    slack,
)
from devmetrics_app.notify.dedupe import SendKey
from devmetrics_app.notify.messages import Message
from devmetrics_app.notify.rules import Rule, flag_rule, load_rule

logger = logging.getLogger(__name__)

SEND_ACTOR = "send_notification"
MAX_ATTEMPTS = 8
LEASE_SECONDS = 120
BACKOFF_BASE_SECONDS = 15.0
BACKOFF_MAX_SECONDS = 30 * 60.0
MIN_RETRY_AFTER_SECONDS = 0.5
SWEEP_GRACE_SECONDS = 120
SWEEP_BATCH = 200

LEASE_SQL = """
UPDATE notification_sends
SET leased_until = now() + make_interval(secs => $5), attempts = attempts + 1
WHERE rule_id = $1 AND channel = $2 AND subject_key = $3 AND window_key = $4
  AND status = 'pending' AND (leased_until IS NULL OR leased_until < now())
RETURNING installation_id, payload, attempts
"""


@dataclass(frozen=True)
class Outcome:
    status: str  # sent, retrying, failed, skipped (nothing to do: already sent, or leased)
    delay_seconds: float | None = None
    error: str | None = None


def backoff(attempt: int) -> float:
    return min(BACKOFF_BASE_SECONDS * 2 ** max(attempt - 1, 0), BACKOFF_MAX_SECONDS)


async def deliver(pool: asyncpg.Pool, settings: Settings, box: SecretBox, key: SendKey) -> Outcome:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(LEASE_SQL, key.rule_id, key.channel, key.subject_key,
                                  key.window_key, float(LEASE_SECONDS))
        if row is None:
            return Outcome("skipped")
        attempt = row["attempts"]
        rule = await load_rule(conn, key.rule_id)
        if rule is None or not rule.active:
            reason = ("rule disabled" if rule is None or not rule.enabled
                      else f"rule flagged: {rule.flag_reason}")
            await _finish(conn, key, row["installation_id"], attempt, "failed", "suppressed", reason)
            return Outcome("failed", error=reason)
        message = Message.from_payload(row["payload"])
        try:
            if key.channel == "in_app":
                async with conn.transaction():
                    await in_app.send(conn, rule, message)
                    await _finish(conn, key, rule.installation_id, attempt, "sent", "sent", None)
                return Outcome("sent")
            await _send_external(settings, box, rule, key.channel, message)
        except RateLimited as exc:
            delay = max(exc.retry_after, MIN_RETRY_AFTER_SECONDS)
            return await _retry_or_fail(conn, rule, key, attempt, delay, str(exc))
        except TransientFailure as exc:
            return await _retry_or_fail(conn, rule, key, attempt, backoff(attempt), str(exc))
        except PermanentFailure as exc:
            return await _fail(conn, rule, key, attempt, str(exc))
        except Exception as exc:
            # Our own bug (a template, say): log it loudly and retry; the attempt cap still holds.
            logger.exception("notification send crashed", extra={"rule_id": rule.id})
            return await _retry_or_fail(conn, rule, key, attempt, backoff(attempt),
                                        f"{key.channel}: {type(exc).__name__}: {exc}")
        await _finish(conn, key, rule.installation_id, attempt, "sent", "sent", None)
        return Outcome("sent")


async def _send_external(settings: Settings, box: SecretBox, rule: Rule, channel: str,
                         message: Message) -> None:
    if channel == "slack":
        if not rule.slack_channel:
            raise PermanentFailure("slack: the rule has no Slack channel")
        await slack.send(settings, rule.slack_channel, message)
    elif channel == "discord":
        try:
            url = box.decrypt(rule.discord_webhook_url_enc) if rule.discord_webhook_url_enc \
                else settings.discord_webhook_url.get()
        except DecryptionError:
            raise PermanentFailure("discord: the stored webhook URL cannot be decrypted "
                                   "(SECRET_KEY changed?)") from None
        if not url:
            raise PermanentFailure("discord: no webhook URL")
        await discord.send(url, message)
    elif channel == "email":
        await email.send(settings, rule.email_recipients, message)
    else:
        raise PermanentFailure(f"unknown channel {channel!r}")


async def _finish(conn: asyncpg.Connection, key: SendKey, installation_id: int, attempt: int,
                  send_status: str, log_status: str, error: str | None) -> None:
    await conn.execute(
        """UPDATE notification_sends
           SET status = $5, leased_until = NULL, last_error = $6,
               sent_at = CASE WHEN $5 = 'sent' THEN now() END
           WHERE rule_id = $1 AND channel = $2 AND subject_key = $3 AND window_key = $4""",
        key.rule_id, key.channel, key.subject_key, key.window_key, send_status, error)
    await log.record(conn, installation_id=installation_id, rule_id=key.rule_id,
                     channel=key.channel, subject_key=key.subject_key, status=log_status,
                     attempt=attempt, error=error)


async def _retry_or_fail(conn: asyncpg.Connection, rule: Rule, key: SendKey, attempt: int,
                         delay: float, error: str) -> Outcome:
    if attempt >= MAX_ATTEMPTS:
        return await _fail(conn, rule, key, attempt, f"{error} (still failing after {attempt} attempts)")
    await conn.execute(
        """UPDATE notification_sends
           SET leased_until = NULL, last_error = $5,
               next_attempt_at = now() + make_interval(secs => $6)
           WHERE rule_id = $1 AND channel = $2 AND subject_key = $3 AND window_key = $4""",
        key.rule_id, key.channel, key.subject_key, key.window_key, error, delay)
    await log.record(conn, installation_id=rule.installation_id, rule_id=rule.id,
                     channel=key.channel, subject_key=key.subject_key, status="retrying",
                     attempt=attempt, error=error)
    return Outcome("retrying", delay_seconds=delay, error=error)


async def _fail(conn: asyncpg.Connection, rule: Rule, key: SendKey, attempt: int,
                error: str) -> Outcome:
    async with conn.transaction():
        await _finish(conn, key, rule.installation_id, attempt, "failed", "failed", error)
        await flag_rule(conn, rule.id, error)
    logger.warning("notification channel failed; rule flagged",
                   extra={"rule_id": rule.id, "channel": key.channel, "error": error})
    return Outcome("failed", error=error)


async def enqueue_sends(keys: list[SendKey]) -> None:
    """Hand claimed sends to the workers. A failure here loses nothing: the sweep finds them."""
    if not keys:
        return
    try:
        await asyncio.to_thread(_enqueue_blocking, keys)
    except Exception:
        logger.warning("could not enqueue %d notification sends; the sweep will", len(keys),
                       exc_info=True)


def _enqueue_blocking(keys: list[SendKey]) -> None:
    actor = dramatiq.get_broker().get_actor(SEND_ACTOR)
    for key in keys:
        actor.send_with_options(kwargs=key.as_kwargs())


async def sweep_pending(conn: asyncpg.Connection | asyncpg.Pool, *,
                        grace_seconds: float = SWEEP_GRACE_SECONDS) -> list[SendKey]:
    """Pending sends nobody is working on (a lost enqueue, a dead worker): due again.

    Pushing next_attempt_at forward doubles as a lease, so the next tick does not re-enqueue
    them while the first copy waits in the queue."""
    rows = await conn.fetch(
        """UPDATE notification_sends s SET next_attempt_at = now() + make_interval(secs => $1)
           FROM (SELECT rule_id, channel, subject_key, window_key FROM notification_sends
                 WHERE status = 'pending' AND (leased_until IS NULL OR leased_until < now())
                   AND coalesce(next_attempt_at, created_at) < now() - make_interval(secs => $1)
                 ORDER BY coalesce(next_attempt_at, created_at) LIMIT $2
                 FOR UPDATE SKIP LOCKED) due
           WHERE (s.rule_id, s.channel, s.subject_key, s.window_key)
                 = (due.rule_id, due.channel, due.subject_key, due.window_key)
           RETURNING s.rule_id, s.channel, s.subject_key, s.window_key""",
        float(grace_seconds), SWEEP_BATCH)
    return [SendKey(r["rule_id"], r["channel"], r["subject_key"], r["window_key"]) for r in rows]
