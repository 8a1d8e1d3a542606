"""Time-based rules: the `devmetrics scheduler` process and the tick it drives.

The process is deliberately tiny: APScheduler fires once a minute and sends a `scheduler_tick`
Dramatiq message; a worker runs `tick()`. So the scheduler needs only Redis, any number of them
may run (the claims in notification_sends make a second tick harmless), and the work itself gets
Dramatiq's retries. APScheduler rather than periodiq: periodiq's last release predates Dramatiq 2
and runs as its own CLI, while APScheduler's cron trigger lives inside our `devmetrics scheduler`.

Each tick: pr_review_required (PRs whose review clock passed the rule's hours), digests that are
due, and the outbox sweep (claimed sends whose job was lost are enqueued again).
"""

from __future__ import annotations

import logging
import signal
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import dramatiq

from devmetrics_app.config import Settings
from devmetrics_app.notify import dedupe, delivery, digest, messages, subjects
from devmetrics_app.notify.dedupe import Firing, SendKey
from devmetrics_app.notify.evaluate import pr_rule_applies
from devmetrics_app.notify.review_clock import BusinessHours, Timeline, format_wait, review_clock
from devmetrics_app.notify.rules import Rule, active_rules_of_type
from devmetrics_app.timeutil import utcnow

log = logging.getLogger(__name__)

TICK_ACTOR = "scheduler_tick"
TICK_CRON_SECOND = 0  # every minute, on the minute
NIGHTLY_ROLLUP_HOUR = 2
PRUNE_HOUR = 4  # after the rollups: DELIVERY_RETENTION_DAYS, when set
TICK_MISFIRE_GRACE_SECONDS = 30
TIMELINE_KINDS = ["opened", "ready_for_review", "converted_to_draft", "review_requested"]

TIMELINE_SQL = """
SELECT pull_request_id, kind, occurred_at, details FROM pull_request_events
WHERE installation_id = $1 AND pull_request_id = ANY($2::bigint[]) AND kind = ANY($3::text[])
"""
# Reviews that stop the clock: submitted, by someone other than the author, and not by a bot.
REVIEWS_SQL = """
SELECT r.pull_request_id, r.submitted_at FROM pull_request_reviews r
JOIN pull_requests p ON p.id = r.pull_request_id
LEFT JOIN users u ON u.id = r.reviewer_id
WHERE r.installation_id = $1 AND r.pull_request_id = ANY($2::bigint[])
  AND r.submitted_at IS NOT NULL AND r.state <> 'PENDING'
  AND r.reviewer_id IS DISTINCT FROM p.author_id
  AND NOT coalesce(u.is_bot, r.reviewer_login LIKE '%[bot]', false)
"""


@dataclass
class TickResult:
    claimed: list[SendKey] = field(default_factory=list)
    swept: list[SendKey] = field(default_factory=list)

    @property
    def due(self) -> list[SendKey]:
        return self.claimed + self.swept


async def tick(pool: asyncpg.Pool, settings: Settings, *, now: datetime | None = None,
               sweep: bool = True) -> TickResult:
    """One scheduler pass; returns the sends to enqueue (the actor enqueues them)."""
    now = now or utcnow()
    result = TickResult()
    async with pool.acquire() as conn:
        firings = await review_required_firings(conn, now)
        firings += await digest_firings(conn, now, public_url=settings.public_url)
        result.claimed = await dedupe.claim_all(conn, firings) if firings else []
        if sweep:
            result.swept = await delivery.sweep_pending(conn)
    return result


async def review_required_firings(conn: asyncpg.Connection, now: datetime) -> list[Firing]:
    rules_by_installation: dict[int, list[Rule]] = defaultdict(list)
    for rule in await active_rules_of_type(conn, "pr_review_required"):
        rules_by_installation[rule.installation_id].append(rule)
    firings: list[Firing] = []
    for inst, rules in rules_by_installation.items():
        ids = [r["id"] for r in await conn.fetch(
            """SELECT id FROM pull_requests
               WHERE installation_id = $1 AND state = 'OPEN' AND NOT draft""", inst)]
        if not ids:
            continue
        prs = await subjects.pull_requests(conn, inst, ids)
        timelines = await _timelines(conn, inst, prs)
        claimed = {(r["rule_id"], r["subject_key"], r["window_key"]) for r in await conn.fetch(
            """SELECT rule_id, subject_key, window_key FROM notification_sends
               WHERE rule_id = ANY($1::bigint[]) AND subject_key = ANY($2::text[])""",
            [r.id for r in rules], [f"pr:{i}" for i in ids])}
        for rule in rules:
            firings.extend(_waiting_firings(rule, prs, timelines, claimed, now))
    return firings


def _waiting_firings(rule: Rule, prs: dict[int, subjects.PullRequest], timelines: dict[int, Timeline],
                     claimed: set[tuple[int, str, str]], now: datetime) -> list[Firing]:
    conditions = rule.conditions
    hours = BusinessHours.from_conditions(conditions.get("business_hours"))
    tz = ZoneInfo(conditions.get("timezone", "UTC"))
    threshold = timedelta(hours=float(conditions["hours"]))
    out = []
    for pr_id, pr in prs.items():
        if not pr_rule_applies(rule, pr):
            continue
        clock = review_clock(timelines[pr_id], now, business_hours=hours, tz=tz)
        if not clock.running or clock.waited < threshold or clock.started_at is None:
            continue
        window = dedupe.review_window(clock.started_at)
        if (rule.id, pr.subject.key, window) in claimed:
            continue
        waited = format_wait(clock.waited)
        context = {**pr.context(), "waited": waited, "hours": conditions["hours"],
                   "since": clock.started_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"),
                   "business_hours": hours is not None}
        message = messages.render("pr_review_required", context, url=pr.row["html_url"],
                                  button="Review PR", fields=[*pr.fields(), ("Waiting", waited)],
                                  tone="warning")
        out.append(Firing(rule, pr.subject.key, window, message))
    return out


async def _timelines(conn: asyncpg.Connection, inst: int,
                     prs: dict[int, subjects.PullRequest]) -> dict[int, Timeline]:
    ids = list(prs)
    events: dict[int, list[asyncpg.Record]] = defaultdict(list)
    for row in await conn.fetch(TIMELINE_SQL, inst, ids, TIMELINE_KINDS):
        events[row["pull_request_id"]].append(row)
    reviews: dict[int, list[datetime]] = defaultdict(list)
    for row in await conn.fetch(REVIEWS_SQL, inst, ids):
        reviews[row["pull_request_id"]].append(row["submitted_at"])
    out = {}
    for pr_id, pr in prs.items():
        rows = events[pr_id]
        opened = next((r for r in rows if r["kind"] == "opened"), None)
        out[pr_id] = Timeline(
            open=pr.row["state"] == "OPEN", draft=pr.row["draft"],
            ready_at=pr.row["ready_for_review_at"],
            opened_as_draft=bool((opened["details"] or {}).get("draft")) if opened else None,
            draft_changes=[(r["occurred_at"], r["kind"] == "converted_to_draft") for r in rows
                           if r["kind"] in ("converted_to_draft", "ready_for_review")],
            review_requests=[r["occurred_at"] for r in rows if r["kind"] == "review_requested"],
            reviews=reviews[pr_id], created_at=pr.row["github_created_at"])
    return out


async def digest_firings(conn: asyncpg.Connection, now: datetime, *, public_url: str) -> list[Firing]:
    firings = []
    for rule in await active_rules_of_type(conn, "digest"):
        owed = digest.due(rule, now)
        subject_key = f"digest:{rule.installation_id}"
        if owed is None or await dedupe.already_claimed(conn, rule.id, subject_key, owed.window_key):
            continue
        message = await digest.build(conn, rule, owed, public_url=public_url)
        firings.append(Firing(rule, subject_key, owed.window_key, message))
    return firings


def send_tick() -> None:
    """APScheduler's job: hand the tick to the workers, stamped with the minute it is for."""
    stamp = datetime.now(UTC).replace(second=0, microsecond=0).isoformat()
    dramatiq.get_broker().get_actor(TICK_ACTOR).send_with_options(kwargs={"at": stamp})


def send_nightly_rollups() -> None:
    dramatiq.get_broker().get_actor("nightly_rollups").send()


def run_scheduler(settings: Settings) -> None:
    """Block, sending a tick every minute until SIGINT/SIGTERM. The broker must be configured."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    scheduler = BlockingScheduler(timezone=UTC)
    scheduler.add_job(send_tick, CronTrigger(second=TICK_CRON_SECOND, timezone=UTC),
                      id="notifications-tick", coalesce=True, max_instances=1,
                      misfire_grace_time=TICK_MISFIRE_GRACE_SECONDS, replace_existing=True)
    # Webhook-driven rollups cover what changed; the nightly pass recomputes the last days in
    # full (late and out-of-order deliveries, settings changes).
    scheduler.add_job(send_nightly_rollups, CronTrigger(hour=NIGHTLY_ROLLUP_HOUR, timezone=UTC),
                      id="nightly-rollups", coalesce=True, max_instances=1,
                      misfire_grace_time=3600, replace_existing=True)
    if settings.delivery_retention_days > 0:
        from devmetrics_app.jobs.retention import send_prune

        scheduler.add_job(send_prune, CronTrigger(hour=PRUNE_HOUR, timezone=UTC),
                          id="prune-delivery-bodies", coalesce=True, max_instances=1,
                          misfire_grace_time=3600, replace_existing=True)

    def stop(*_: object) -> None:
        scheduler.shutdown(wait=False)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    log.info("scheduler started: a notifications tick every minute, rollups nightly at %02d:00 UTC "
             "(public URL %s)", NIGHTLY_ROLLUP_HOUR, settings.public_url)
    scheduler.start()
