"""pr_review_required: the review clock (pure) and the scheduler tick over real rows.

Boundaries are tested a minute either side: a 4-hour rule is silent at 3h59m and fires at 4h01m.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import payloads
from conftest import deliver

from devmetrics_app.notify import scheduler
from devmetrics_app.notify.review_clock import BusinessHours, Timeline, format_wait, review_clock

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)  # a Wednesday
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = BusinessHours.from_conditions({"start": "09:00", "end": "17:00", "days": [1, 2, 3, 4, 5]})


def timeline(**changes) -> Timeline:
    base = {"open": True, "draft": False, "ready_at": T0, "opened_as_draft": False, "created_at": T0}
    base.update(changes)
    return Timeline(**base)


def test_fires_a_minute_after_the_threshold_not_a_minute_before() -> None:
    assert review_clock(timeline(), T0 + 4 * HOUR - MINUTE).waited == 4 * HOUR - MINUTE
    clock = review_clock(timeline(), T0 + 4 * HOUR + MINUTE)
    assert clock.running and clock.waited == 4 * HOUR + MINUTE and clock.started_at == T0


def test_the_latest_review_request_restarts_the_clock() -> None:
    clock = review_clock(timeline(review_requests=[T0 + HOUR, T0 + 3 * HOUR]), T0 + 5 * HOUR)
    assert clock.started_at == T0 + 3 * HOUR and clock.waited == 2 * HOUR


def test_the_first_review_stops_it_but_an_earlier_review_does_not() -> None:
    stopped = review_clock(timeline(reviews=[T0 + 2 * HOUR]), T0 + 9 * HOUR)
    assert not stopped.running and stopped.stopped_at == T0 + 2 * HOUR
    rerequested = timeline(reviews=[T0 + 2 * HOUR], review_requests=[T0 + 3 * HOUR])
    assert review_clock(rerequested, T0 + 9 * HOUR).running


def test_draft_time_pauses_and_does_not_reset() -> None:
    flips = [(T0 + HOUR, True), (T0 + 3 * HOUR, False)]
    clock = review_clock(timeline(draft_changes=flips), T0 + 5 * HOUR)
    assert clock.waited == 3 * HOUR  # 1h before the draft, 2h after
    assert review_clock(timeline(draft=True, draft_changes=flips[:1]), T0 + 5 * HOUR).paused


def test_a_draft_that_was_never_ready_is_not_waiting() -> None:
    draft = timeline(draft=True, ready_at=None, opened_as_draft=True)
    assert not review_clock(draft, T0 + 100 * HOUR).running
    assert not review_clock(timeline(open=False), T0 + 100 * HOUR).running


def test_business_hours_skip_nights_and_weekends_in_the_rules_zone() -> None:
    friday_4pm = datetime(2024, 5, 3, 16, 0, tzinfo=BERLIN)
    monday_10am = datetime(2024, 5, 6, 10, 0, tzinfo=BERLIN)
    clock = review_clock(timeline(ready_at=friday_4pm.astimezone(UTC)), monday_10am.astimezone(UTC),
                         business_hours=OFFICE, tz=BERLIN)
    assert clock.waited == 2 * HOUR  # Friday 16-17 and Monday 9-10
    # The same instants, seen from UTC office hours, count differently: the zone matters.
    in_utc = review_clock(timeline(ready_at=friday_4pm.astimezone(UTC)), monday_10am.astimezone(UTC),
                          business_hours=OFFICE, tz=ZoneInfo("UTC"))
    assert in_utc.waited == 3 * HOUR  # Friday 14-17 UTC, Monday 8-9 UTC is before 9


def test_business_hours_across_a_dst_change() -> None:
    # Europe/Berlin springs forward on Sunday 2024-03-31; Friday 16:00 CET to Monday 10:00 CEST.
    start = datetime(2024, 3, 29, 16, 0, tzinfo=BERLIN).astimezone(UTC)
    end = datetime(2024, 4, 1, 10, 0, tzinfo=BERLIN).astimezone(UTC)
    clock = review_clock(timeline(ready_at=start), end, business_hours=OFFICE, tz=BERLIN)
    assert clock.waited == 2 * HOUR
    assert format_wait(clock.waited) == "2h 0m" and format_wait(timedelta(days=3, hours=4)) == "3d 4h"


# ---------------------------------------------------------------- the scheduler over real rows

async def install(pool) -> None:
    sample = next(p for e, c, p in payloads.ALL_SAMPLES if (e, c) == ("installation", "created-org"))
    assert await deliver(pool, "installation", copy.deepcopy(sample)) == "processed"


async def make_rule(pool, box, rule_type: str, conditions: dict, **fields):
    from devmetrics_app.notify import rule_store
    from devmetrics_app.notify.validation import validate_rule

    body = {"name": f"{rule_type} rule", "type": rule_type, "conditions": conditions,
            "channels": ["in_app"], **fields}
    # The fake Discord listens on loopback: allow its host as an operator's DISCORD_WEBHOOK_URL would.
    hosts = frozenset({urlsplit(fields["discord_webhook_url"]).netloc}) \
        if "discord_webhook_url" in fields else frozenset()
    data = validate_rule(body, extra_discord_hosts=hosts)
    return await rule_store.create(pool, box, installation_id=payloads.ORG_INSTALLATION_ID,
                                   organization_id=payloads.ORG_ID, data=data,
                                   created_by_id=payloads.CAROL["id"])


def opened(number: int = 7, *, draft: bool = False, minutes: float = 0, **pr) -> dict:
    pr_payload = payloads.pull_request(number, draft=draft, created_at=payloads.at(minutes), **pr)
    return payloads.pull_request_event("opened", pr_payload)


async def test_tick_fires_at_the_boundary_once_per_window(pool, settings) -> None:
    from devmetrics_app.crypto import SecretBox

    box = SecretBox(settings.secret_key.get())
    await install(pool)
    rule = await make_rule(pool, box, "pr_review_required", {"hours": 4})
    await deliver(pool, "pull_request", opened())
    start = payloads.EPOCH
    quiet = await scheduler.tick(pool, settings, now=start + 4 * HOUR - MINUTE)
    assert quiet.claimed == []
    fired = await scheduler.tick(pool, settings, now=start + 4 * HOUR + MINUTE)
    assert [(k.rule_id, k.subject_key) for k in fired.claimed] == [(rule.id, "pr:2005010007")]
    payload = await pool.fetchval("SELECT payload FROM notification_sends")
    assert "waiting for review" in payload["title"] and "4h 1m" in payload["body"]
    # Every later tick in the same window is silent, and does not fill the log with duplicates.
    for minutes in (2, 60, 24 * 60):
        assert (await scheduler.tick(pool, settings, now=start + 4 * HOUR + minutes * MINUTE)).claimed == []
    assert await pool.fetchval("SELECT count(*) FROM notification_logs WHERE status = 'suppressed'") == 0
    # A new review request restarts the clock: a new window, announced again after 4 more hours.
    pr = payloads.pull_request(7, created_at=payloads.at(0), updated_at=payloads.at(600),
                               requested_reviewers=[payloads.BOB])
    await deliver(pool, "pull_request", payloads.pull_request_event("review_requested", pr))
    assert (await scheduler.tick(pool, settings, now=start + 14 * HOUR - MINUTE)).claimed == []
    assert len((await scheduler.tick(pool, settings, now=start + 14 * HOUR + MINUTE)).claimed) == 1


async def test_drafts_reviews_and_scope_keep_it_quiet(pool, settings) -> None:
    from devmetrics_app.crypto import SecretBox

    box = SecretBox(settings.secret_key.get())
    await install(pool)
    await make_rule(pool, box, "pr_review_required", {"hours": 1}, repository_ids=[],
                    authors=["alice"])
    await deliver(pool, "pull_request", opened(1, draft=True))  # draft: not waiting
    await deliver(pool, "pull_request", opened(2, user=payloads.BOB))  # out of the author scope
    await deliver(pool, "pull_request", opened(3))  # reviewed within the hour
    pr3 = payloads.pull_request(3, created_at=payloads.at(0), updated_at=payloads.at(30))
    await deliver(pool, "pull_request_review", payloads.pull_request_review_event(
        "submitted", pr3, payloads.review(pr3, submitted_at=payloads.at(30))))
    result = await scheduler.tick(pool, settings, now=payloads.EPOCH + 10 * HOUR)
    assert result.claimed == []


async def test_business_hours_rule_waits_for_office_time(pool, settings) -> None:
    from devmetrics_app.crypto import SecretBox

    box = SecretBox(settings.secret_key.get())
    await install(pool)
    conditions = {"hours": 2, "timezone": "Europe/Berlin",
                  "business_hours": {"start": "09:00", "end": "17:00", "days": [1, 2, 3, 4, 5]}}
    await make_rule(pool, box, "pr_review_required", conditions)
    friday_4pm = datetime(2024, 5, 3, 16, 0, tzinfo=BERLIN)
    created = friday_4pm.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    pr = payloads.pull_request(5, created_at=created)
    await deliver(pool, "pull_request", payloads.pull_request_event("opened", pr))
    sunday = datetime(2024, 5, 5, 12, 0, tzinfo=BERLIN).astimezone(UTC)
    assert (await scheduler.tick(pool, settings, now=sunday)).claimed == []  # 1h of office time
    monday_959 = datetime(2024, 5, 6, 9, 59, tzinfo=BERLIN).astimezone(UTC)
    assert (await scheduler.tick(pool, settings, now=monday_959)).claimed == []
    monday_1001 = datetime(2024, 5, 6, 10, 1, tzinfo=BERLIN).astimezone(UTC)
    assert len((await scheduler.tick(pool, settings, now=monday_1001)).claimed) == 1
