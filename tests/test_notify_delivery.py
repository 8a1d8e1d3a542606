"""Delivery over real HTTP and SMTP: fake Slack Web API and Discord webhook servers (the real
slack-sdk and discord-webhook clients pointed at them), a real aiosmtpd server, and a real
Dramatiq worker where the retry machinery is the point."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import socket
import time
from datetime import UTC, datetime
from email import policy

import dramatiq
import payloads
import pytest
from aiosmtpd.controller import Controller
from conftest import deliver, wait_for
from fakes.discord import WEBHOOK_ID, WEBHOOK_TOKEN, DiscordReply, FakeDiscordState, create_fake_discord
from fakes.slack import BOT_TOKEN, FakeSlackState, SlackReply, create_fake_slack
from test_notify_review_clock import install, make_rule

from devmetrics_app.config import Secret, Settings
from devmetrics_app.crypto import SecretBox
from devmetrics_app.jobs import notify_actors, resources
from devmetrics_app.notify import delivery, scheduler
from devmetrics_app.notify.evaluate import handle_event

INST = payloads.ORG_INSTALLATION_ID
EVIL_TITLE = "<!channel> @everyone <@U123> <https://evil.example|Review PR> @here"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def slack(aiohttp_server):
    state = FakeSlackState()
    server = await aiohttp_server(create_fake_slack(state))
    return state, str(server.make_url("")).rstrip("/")


@pytest.fixture
async def discord(aiohttp_server):
    state = FakeDiscordState()
    server = await aiohttp_server(create_fake_discord(state))
    base = str(server.make_url("")).rstrip("/")
    return state, f"{base}/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"


@pytest.fixture
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture
def wired(settings: Settings, slack, mailbox) -> Settings:
    _, port = mailbox
    return dataclasses.replace(settings, slack_api_url=slack[1] + "/api",
                               slack_bot_token=Secret(BOT_TOKEN), smtp_host="127.0.0.1",
                               smtp_port=port, smtp_starttls=False, smtp_from="devmetrics@example.com")


@pytest.fixture
def notify_worker(wired: Settings, broker: dramatiq.Broker):
    """A real Dramatiq worker whose actors see the wired settings (fake Slack, local SMTP)."""
    assert broker.get_actor(delivery.SEND_ACTOR) is notify_actors.send_notification
    resources.install(resources.WorkerResources(wired, wired.database_url.get()))
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
async def box(pool, settings) -> SecretBox:
    await install(pool)
    return SecretBox(settings.secret_key.get())


async def fresh_pr(pool, number: int = 7, title: str = "Add login endpoint") -> int:
    """A PR opened just now (event rules ignore stale subjects)."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    pr = payloads.pull_request(number, title=title, created_at=now)
    await deliver(pool, "pull_request", payloads.pull_request_event("opened", pr))
    return pr["id"]


async def logs(pool) -> list[tuple[str, str, int]]:
    return [(r["channel"], r["status"], r["attempt"]) for r in await pool.fetch(
        "SELECT channel, status, attempt FROM notification_logs ORDER BY id")]


async def test_every_channel_escapes_what_users_wrote(pool, box, wired, slack, discord, mailbox) -> None:
    slack_state, _ = slack
    discord_state, discord_url = discord
    mails, _ = mailbox
    await make_rule(pool, box, "pr_opened", {}, channels=["slack", "discord", "email", "in_app"],
                    slack_channel="#eng", email_recipients=["team@example.com"],
                    discord_webhook_url=discord_url)
    pr_id = await fresh_pr(pool, title=EVIL_TITLE + "\nBcc: victim@example.com")
    keys = await handle_event(pool, INST, "pull_request.opened", pr_id)
    outcomes = [await delivery.deliver(pool, wired, box, key) for key in keys]
    assert [o.status for o in outcomes] == ["sent"] * 4, outcomes

    post = slack_state.delivered[0].body
    assert post["channel"] == "#eng" and post["link_names"] is False
    blocks = post["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "context", "actions"]
    button = blocks[-1]["elements"][0]
    assert button["text"]["text"] == "Review PR"
    assert button["url"] == "https://github.com/acme/api/pull/7"
    sent_text = str(post)
    for raw in ("<!channel>", "<@U123>", "<https://evil", "<!here>"):
        assert raw not in sent_text
    assert "&lt;!channel&gt;" in blocks[0]["text"]["text"] and "&lt;@U123&gt;" in post["text"]

    body = discord_state.delivered[0].body
    assert body["allowed_mentions"] == {"parse": []}
    embed = body["embeds"][0]
    assert "@everyone" not in embed["title"] and "@\u200beveryone" in embed["title"]
    assert "<@U123>" not in str(body) and "<\u200b@U123\\>" in embed["title"]
    assert embed["url"] == "https://github.com/acme/api/pull/7" and len(embed["fields"]) <= 25

    recipients, mail = mails.messages[0]
    assert recipients == ["team@example.com"]
    assert "\n" not in mail["Subject"] and mail["Bcc"] is None
    html = mail.get_body(("html",)).get_content()
    text = mail.get_body(("plain",)).get_content()
    assert "&lt;!channel&gt;" in html and "<!channel>" not in html
    assert "https://github.com/acme/api/pull/7" in text

    rows = await pool.fetch("SELECT user_id, title, url FROM notifications")
    assert [r["user_id"] for r in rows] == [payloads.CAROL["id"]]
    assert rows[0]["title"].startswith("acme/api#7 opened: <!channel>")  # stored plain, shown escaped
    assert sorted(await logs(pool)) == sorted((c, "sent", 1) for c in ("slack", "discord", "email", "in_app"))


async def test_slack_429_is_retried_after_retry_after(pool, box, slack, notify_worker) -> None:
    state, _ = slack
    state.script.append(SlackReply(retry_after=1))
    await make_rule(pool, box, "pr_opened", {}, channels=["slack"], slack_channel="#eng")
    notify_actors.notify_event.send(INST, "pull_request.opened", await fresh_pr(pool))
    await wait_for(lambda: state.delivered, timeout=20)
    assert len(state.posts) == 2 and state.posts[1].at - state.posts[0].at >= 1.0
    await wait_for(lambda: _count(pool, "sent"))
    assert await logs(pool) == [("slack", "retrying", 1), ("slack", "sent", 2)]
    error = await pool.fetchval("SELECT error FROM notification_logs WHERE status = 'retrying'")
    assert error == "slack: ratelimited"


async def test_discord_429_then_success(pool, box, discord, notify_worker) -> None:
    state, url = discord
    state.script.append(DiscordReply(status=429, retry_after=0.5))
    await make_rule(pool, box, "pr_opened", {}, channels=["discord"], discord_webhook_url=url)
    notify_actors.notify_event.send(INST, "pull_request.opened", await fresh_pr(pool))
    await wait_for(lambda: state.delivered, timeout=20)
    assert state.posts[1].at - state.posts[0].at >= 0.5
    assert state.delivered[0].query == {"wait": "true"}
    await wait_for(lambda: _count(pool, "sent"))
    assert await logs(pool) == [("discord", "retrying", 1), ("discord", "sent", 2)]


async def _count(pool, status: str) -> int:
    return await pool.fetchval("SELECT count(*) FROM notification_logs WHERE status = $1", status)


async def test_a_deleted_webhook_flags_the_rule_and_is_not_retried(pool, box, discord, notify_worker) -> None:
    state, url = discord
    gone = url.replace(WEBHOOK_ID, "999999999999999999")
    rule = await make_rule(pool, box, "pr_opened", {}, channels=["discord", "in_app"],
                           discord_webhook_url=gone)
    notify_actors.notify_event.send(INST, "pull_request.opened", await fresh_pr(pool))
    await wait_for(lambda: _count(pool, "failed"))
    await asyncio.sleep(1.5)  # room for a retry that must not happen
    assert len(state.posts) == 1
    flagged = await pool.fetchrow("SELECT flagged_at, flag_reason FROM notification_rules WHERE id = $1",
                                  rule.id)
    assert flagged["flagged_at"] is not None
    assert flagged["flag_reason"] == "discord: HTTP 404 Unknown Webhook"
    # A flagged rule waits for a person: the next event does not fire it at all.
    assert await handle_event(pool, INST, "pull_request.opened", await fresh_pr(pool, 8)) == []


async def test_revoked_slack_channel_fails_once_and_flags(pool, box, wired, slack) -> None:
    state, _ = slack
    rule = await make_rule(pool, box, "pr_opened", {}, channels=["slack"], slack_channel="#archived")
    [key] = await handle_event(pool, INST, "pull_request.opened", await fresh_pr(pool))
    outcome = await delivery.deliver(pool, wired, box, key)
    assert outcome.status == "failed" and outcome.error == "slack: channel_not_found"
    assert (await delivery.deliver(pool, wired, box, key)).status == "skipped"  # a duplicate job
    assert len(state.posts) == 1
    assert await pool.fetchval("SELECT flag_reason FROM notification_rules WHERE id = $1",
                               rule.id) == "slack: channel_not_found"
    assert await logs(pool) == [("slack", "failed", 1)]


async def test_transient_failures_stop_at_the_attempt_cap(pool, box, wired, slack) -> None:
    state, _ = slack
    state.script.extend(SlackReply(error="internal_error", status=500)
                        for _ in range(delivery.MAX_ATTEMPTS))
    rule = await make_rule(pool, box, "pr_opened", {}, channels=["slack"], slack_channel="#eng")
    [key] = await handle_event(pool, INST, "pull_request.opened", await fresh_pr(pool))
    outcomes = [await delivery.deliver(pool, wired, box, key) for _ in range(delivery.MAX_ATTEMPTS)]
    assert [o.status for o in outcomes] == ["retrying"] * (delivery.MAX_ATTEMPTS - 1) + ["failed"]
    assert [o.delay_seconds for o in outcomes[:3]] == [15.0, 30.0, 60.0]  # exponential back-off
    assert (await delivery.deliver(pool, wired, box, key)).status == "skipped"
    reason = await pool.fetchval("SELECT flag_reason FROM notification_rules WHERE id = $1", rule.id)
    assert reason.startswith("slack: internal_error") and "after 8 attempts" in reason


async def test_missing_slack_token_is_permanent(pool, box, settings) -> None:
    await make_rule(pool, box, "pr_opened", {}, channels=["slack"], slack_channel="#eng")
    [key] = await handle_event(pool, INST, "pull_request.opened", await fresh_pr(pool))
    outcome = await delivery.deliver(pool, settings, box, key)
    assert outcome.error == "slack: SLACK_BOT_TOKEN is not set"


async def test_redelivered_event_sends_once_end_to_end(pool, box, slack, notify_worker) -> None:
    state, _ = slack
    await make_rule(pool, box, "pr_opened", {}, channels=["slack"], slack_channel="C0ENG00001")
    pr_id = await fresh_pr(pool)
    for _ in range(3):
        notify_actors.notify_event.send(INST, "pull_request.opened", pr_id)

    async def settled() -> bool:
        return await _count(pool, "suppressed") == 2 and await _count(pool, "sent") == 1

    await wait_for(settled)
    await asyncio.sleep(0.5)
    assert len(state.delivered) == 1


async def test_the_sweep_recovers_a_lost_enqueue(pool, box, settings, slack, notify_worker) -> None:
    state, _ = slack
    await make_rule(pool, box, "pr_opened", {}, channels=["slack"], slack_channel="#eng")
    keys = await handle_event(pool, INST, "pull_request.opened", await fresh_pr(pool))
    # Claimed, never enqueued (Redis was down): a tick a few minutes later finds it.
    assert (await scheduler.tick(pool, settings)).swept == []
    await pool.execute("UPDATE notification_sends SET created_at = now() - interval '10 minutes'")
    result = await scheduler.tick(pool, settings)
    assert result.swept == keys
    assert (await scheduler.tick(pool, settings)).swept == []  # not again while it is queued
    await delivery.enqueue_sends(result.swept)
    await wait_for(lambda: state.delivered)
    started = time.monotonic()
    await wait_for(lambda: _count(pool, "sent"))
    assert time.monotonic() - started < 10


async def test_the_scheduler_tick_runs_on_the_workers(pool, box, notify_worker) -> None:
    now = datetime.now(UTC)
    if now.minute == 59 and now.second >= 50:  # keep the rule's hour and the tick's hour the same
        await asyncio.sleep(11)
        now = datetime.now(UTC)
    await make_rule(pool, box, "digest", {"frequency": "daily", "hour": now.hour})
    scheduler.send_tick()  # what `devmetrics scheduler` does once a minute
    await wait_for(lambda: pool.fetchval("SELECT count(*) FROM notifications"))
    title = await pool.fetchval("SELECT title FROM notifications")
    assert title.startswith("Daily digest for acme: 24 hours to ")
    assert await logs(pool) == [("in_app", "sent", 1)]
