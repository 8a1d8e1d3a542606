"""No Claude calls for an installation whose Anthropic account was refused for want of credit.

Anthropic answers 400 "Your credit balance is too low ..." (or a spend-limit 429/402) to every call
until someone tops up the account or raises the limit. Calling on would fail the same way for every
pull request, so the first refusal pauses the installation (a row in `ai_pauses`) and tells its
admins; meanwhile reviews run on the deterministic floor and say why. The balance cannot be read
through the API, so after a back-off (PROBE_FIRST, doubling up to PROBE_MAX) one analysis calls as
a probe: an answer lifts the pause, a refusal pushes it back. An admin who has topped up lifts it at
once: `devmetrics ai-resume INSTALLATION_ID` (or delete the row).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import asyncpg

log = logging.getLogger(__name__)

PROBE_FIRST_SECONDS = 15 * 60
PROBE_MAX_SECONDS = 6 * 3600
# One probe at a time: a probe holds the next probe off for as long as an analysis may take.
PROBE_LEASE_SECONDS = 10 * 60
BILLING_KINDS = {
    "credit_balance": "the Anthropic account's credit balance is too low",
    "spend_limit": "the Anthropic account reached its spend limit",
}

Conn = asyncpg.Connection | asyncpg.Pool


@dataclass(frozen=True)
class Pause:
    reason: str
    paused_at: datetime
    probe_after: datetime

    @property
    def why(self) -> str:
        return BILLING_KINDS.get(self.reason, self.reason)


async def check(conn: Conn, installation_id: int) -> Pause | None:
    """None when Claude may be called (no pause, or this call is the probe); else the pause."""
    row = await conn.fetchrow("SELECT * FROM ai_pauses WHERE installation_id = $1", installation_id)
    if row is None:
        return None
    probing = await conn.fetchval(
        """UPDATE ai_pauses SET probe_after = now() + make_interval(secs => $2)
           WHERE installation_id = $1 AND probe_after <= now() RETURNING true""",
        installation_id, PROBE_LEASE_SECONDS)
    if probing:
        return None
    return Pause(row["reason"], row["paused_at"], row["probe_after"])


async def refused(conn: Conn, installation_id: int, reason: str, message: str) -> bool:
    """Record a billing refusal; True when it starts a pause (the admins are told once)."""
    created = await conn.fetchval(
        """INSERT INTO ai_pauses (installation_id, reason, message, probe_after)
           VALUES ($1, $2, $3, now() + make_interval(secs => $4))
           ON CONFLICT (installation_id) DO UPDATE
              SET reason = EXCLUDED.reason, message = EXCLUDED.message,
                  refusals = ai_pauses.refusals + 1,
                  probe_after = now() + LEAST(make_interval(secs => $4) * power(2, ai_pauses.refusals),
                                              make_interval(secs => $5))
           RETURNING xmax = 0""",
        installation_id, reason, message, PROBE_FIRST_SECONDS, PROBE_MAX_SECONDS)
    if created:
        log.warning("AI reviews paused for installation %s: %s (%s)", installation_id,
                    BILLING_KINDS.get(reason, reason), message)
        await _tell_admins(conn, installation_id, reason, message)
    return bool(created)


async def lift(conn: Conn, installation_id: int) -> bool:
    """Claude answered (or an admin resumed): calls go ahead again."""
    return await conn.fetchval("DELETE FROM ai_pauses WHERE installation_id = $1 RETURNING true",
                               installation_id) is True


async def resume(database_url: str, installation_id: int) -> bool:
    """`devmetrics ai-resume`: the admin has topped up; True when a pause was lifted."""
    conn = await asyncpg.connect(database_url)
    try:
        return await lift(conn, installation_id)
    finally:
        await conn.close()


def summary(reason: str, floor_reasons: str) -> str:
    """The check run's summary while paused: what happened, what to do, what the score is."""
    return (f"No AI review: {BILLING_KINDS.get(reason, reason)}, so Anthropic refused the call. AI "
            "reviews are paused for this installation until the balance changes: top up the account "
            "(or raise its spend limit) at console.anthropic.com; DevMetrics tries again by itself "
            "now and then, or at once after `devmetrics ai-resume`. The score is the deterministic "
            f"risk floor: {floor_reasons}.")


async def _tell_admins(conn: Conn, installation_id: int, reason: str, message: str) -> None:
    """An in-app notification for each admin of the installation."""
    await conn.execute(
        """INSERT INTO notifications (installation_id, user_id, title, body)
           SELECT $1, m.user_id, $2, $3 FROM memberships m
           WHERE m.installation_id = $1 AND m.removed_at IS NULL AND m.role = 'ADMIN'""",
        installation_id, "AI reviews paused: Anthropic refused for billing",
        f"{BILLING_KINDS.get(reason, reason).capitalize()} ({message}). Pull requests get the "
        "deterministic risk floor only until the balance changes. Top up the account or raise its "
        "spend limit, then run `devmetrics ai-resume` (or wait for the next automatic try).")
