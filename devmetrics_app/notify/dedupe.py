"""One notification per (rule, channel, subject, window), claimed in the database before sending.

The claim is an INSERT on notification_sends' primary key, so two workers processing the same
redelivered webhook, or two scheduler ticks racing, cannot both win. The window decides when the
same subject may be announced again:

- once:                 pr_opened, pr_high_risk, pr_merged_without_review, deployment_failed
- per run attempt:      build_failed (a re-run that fails again is news)
- per clock start:      pr_review_required (a new review request restarts the wait)
- per local day / week: digest

The claimed row also carries the rendered message: it is the outbox the send job works from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from devmetrics_app.notify import log
from devmetrics_app.notify.messages import Message
from devmetrics_app.notify.rules import Rule

WINDOW_ONCE = "once"


def build_window(run_attempt: int) -> str:
    return f"attempt:{run_attempt}"


def review_window(clock_started_at: datetime) -> str:
    return "since:" + clock_started_at.isoformat(timespec="seconds")


def digest_window(frequency: str, local_day: date) -> str:
    if frequency == "weekly":
        year, week, _ = local_day.isocalendar()
        return f"weekly:{year}-W{week:02d}"
    return f"daily:{local_day.isoformat()}"


@dataclass(frozen=True)
class SendKey:
    rule_id: int
    channel: str
    subject_key: str
    window_key: str

    def as_kwargs(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "channel": self.channel, "subject_key": self.subject_key,
                "window_key": self.window_key}


@dataclass(frozen=True)
class Firing:
    """A rule that fires for a subject in a window, with the message it would send."""

    rule: Rule
    subject_key: str
    window_key: str
    message: Message


async def claim(conn: asyncpg.Connection, firing: Firing) -> list[SendKey]:
    """Claim each of the rule's channels; log a suppressed duplicate for each already claimed."""
    claimed: list[SendKey] = []
    rule = firing.rule
    for channel in rule.channels:
        won = await conn.fetchval(
            """INSERT INTO notification_sends (rule_id, channel, subject_key, window_key,
                                               installation_id, payload)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT DO NOTHING RETURNING true""",
            rule.id, channel, firing.subject_key, firing.window_key, rule.installation_id,
            firing.message.to_payload())
        if won:
            claimed.append(SendKey(rule.id, channel, firing.subject_key, firing.window_key))
        else:
            await log.record(conn, installation_id=rule.installation_id, rule_id=rule.id,
                             channel=channel, subject_key=firing.subject_key, status="suppressed",
                             attempt=0, error=f"duplicate in window {firing.window_key}")
    return claimed


async def claim_all(conn: asyncpg.Connection, firings: list[Firing]) -> list[SendKey]:
    keys: list[SendKey] = []
    async with conn.transaction():
        for firing in firings:
            keys.extend(await claim(conn, firing))
    return keys


async def already_claimed(conn: asyncpg.Connection | asyncpg.Pool, rule_id: int, subject_key: str,
                          window_key: str) -> bool:
    """The scheduler asks first, so a PR waiting for days is not logged as a duplicate every minute."""
    return bool(await conn.fetchval(
        """SELECT true FROM notification_sends
           WHERE rule_id = $1 AND subject_key = $2 AND window_key = $3 LIMIT 1""",
        rule_id, subject_key, window_key))
