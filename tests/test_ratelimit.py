"""Rate limits in Redis: GCRA itself, API 429s with RateLimit-* headers, webhook deferral."""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from dataclasses import replace

import payloads
import pytest
import redis.asyncio as aioredis
from conftest import deliver, post_webhook

from devmetrics_app.operator_tokens import mint_operator_token
from devmetrics_app.ratelimit import RateLimiter
from devmetrics_app.store.deliveries import lease_fresh, lease_overdue
from devmetrics_app.web import throttle
from devmetrics_app.web.app import create_app
from devmetrics_app.web.throttle import WebhookReservations

NOISY, QUIET = 4242, 4343


@pytest.fixture
async def limiter(redis_url: str):
    redis = aioredis.from_url(redis_url)
    yield RateLimiter(redis), f"test-{uuid.uuid4().hex[:8]}"
    await redis.aclose()


async def app_client(aiohttp_client, settings, *, redis_url: str | None = None, **changes):
    app = create_app(replace(settings, **changes), database_url=settings.database_url.get(),
                     redis_url=redis_url or settings.redis_url.get())
    return await aiohttp_client(app)


async def test_gcra_allows_the_burst_then_spaces_requests(limiter) -> None:
    limiter, key = limiter
    decisions = [await limiter.hit(key, per_minute=5) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    refused = decisions[-1]
    assert 0 < refused.retry_after <= 12  # one emission interval: 60 s / 5
    assert 48 <= refused.reset <= 60
    assert refused.headers()["Retry-After"] in {str(n) for n in range(1, 13)}
    # A refusal books nothing: the next request waits no longer than this one would.
    again = await limiter.hit(key, per_minute=5)
    assert not again.allowed and again.retry_after <= refused.retry_after


async def test_reserve_books_successive_slots(limiter) -> None:
    limiter, key = limiter
    for _ in range(2):
        assert (await limiter.hit(key, per_minute=2, reserve=True)).allowed
    later = [await limiter.hit(key, per_minute=2, reserve=True) for _ in range(3)]
    assert not any(d.allowed for d in later)
    waits = [d.retry_after for d in later]
    assert 25 < waits[0] <= 30  # one slot every 30 s, each reservation the next one
    assert [round(b - a) for a, b in itertools.pairwise(waits)] == [30, 30]


async def test_api_answers_429_per_token_with_headers(aiohttp_client, settings, pool, database_url) -> None:
    sample = next(p for e, c, p in payloads.ALL_SAMPLES if (e, c) == ("installation", "created-org"))
    await deliver(pool, "installation", sample)
    client = await app_client(aiohttp_client, settings, api_rate_limit_per_minute=3)
    tokens = [await mint_operator_token(database_url, login="CAROL", installation_id=NOISY,
                                        role="VIEWER", days=1) for _ in range(2)]
    first = {"Authorization": f"Bearer {tokens[0]}"}
    answers = [await client.get("/api/installations", headers=first) for _ in range(4)]
    assert [r.status for r in answers] == [200, 200, 200, 429]
    assert [r.headers["RateLimit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert all(r.headers["RateLimit-Limit"] == "3" for r in answers)
    refused = answers[-1]
    assert 1 <= int(refused.headers["Retry-After"]) <= 20
    assert (await refused.json())["error"]["code"] == "rate_limited"
    # Another token has its own budget; the webhook endpoint is never answered 429.
    other = await client.get("/api/installations", headers={"Authorization": f"Bearer {tokens[1]}"})
    assert other.status == 200


async def test_webhooks_over_the_limit_are_stored_and_deferred_not_refused(
        aiohttp_client, settings, pool) -> None:
    client = await app_client(aiohttp_client, settings, webhook_rate_limit_per_minute=5)
    pr = payloads.pull_request(1, repo=payloads.REPO_API)

    def from_installation(installation_id: int) -> dict:
        payload = payloads.pull_request_event("opened", pr)
        return {**payload, "installation": {**payload["installation"], "id": installation_id}}

    noisy = [await post_webhook(client, "pull_request", from_installation(NOISY)) for _ in range(8)]
    quiet = await post_webhook(client, "pull_request", from_installation(QUIET))
    assert [r.status for r in [*noisy, quiet]] == [202] * 9
    rows = await pool.fetch("""SELECT installation_id, next_attempt_at > now() AS deferred,
                                      next_attempt_at - received_at AS wait
                               FROM webhook_deliveries ORDER BY received_at""")
    assert len(rows) == 9  # nothing dropped
    assert [r["deferred"] for r in rows if r["installation_id"] == NOISY] == [None] * 5 + [True] * 3
    waits = [r["wait"].total_seconds() for r in rows if r["deferred"]]
    assert waits == sorted(waits) and waits[-1] - waits[0] > 20  # one slot every 12 s
    # The quiet installation is not behind the noisy one's excess.
    assert [r["deferred"] for r in rows if r["installation_id"] == QUIET] == [None]
    async with pool.acquire() as conn:
        assert len(await lease_fresh(conn, lease_seconds=60, limit=100)) == 6
        await conn.execute("UPDATE webhook_deliveries SET next_attempt_at = now() - interval '1 s' "
                           "WHERE next_attempt_at > now() + interval '30 s'")
        # Deferred deliveries fall to the sweeper once due: first the ones whose slot has come.
        assert len(await lease_overdue(conn, grace_seconds=60, limit=100)) >= 1


async def test_redis_down_means_no_limit_not_a_lost_webhook(aiohttp_client, settings, pool) -> None:
    client = await app_client(aiohttp_client, settings, webhook_rate_limit_per_minute=1,
                              redis_url="redis://127.0.0.1:1/0")
    answers = [await post_webhook(client, "pull_request", payloads.pull_request_event(
        "opened", payloads.pull_request(1, repo=payloads.REPO_API))) for _ in range(2)]
    assert [r.status for r in answers] == [202, 202]
    assert await pool.fetchval("SELECT count(*) FROM webhook_deliveries WHERE next_attempt_at IS NULL") == 2


async def test_anonymous_requests_are_not_counted(aiohttp_client, settings, pool) -> None:
    client = await app_client(aiohttp_client, settings, api_rate_limit_per_minute=1)
    answers = [await client.get("/api/openapi.json") for _ in range(3)]
    assert [r.status for r in answers] == [200] * 3
    assert "RateLimit-Limit" not in answers[0].headers


async def test_reserve_many_decides_as_successive_reserving_hits(limiter) -> None:
    limiter, key = limiter
    one_by_one = [await limiter.hit(key + "-a", per_minute=3, reserve=True) for _ in range(6)]
    at_once = await limiter.reserve_many(key + "-b", 6, per_minute=3)
    assert [d.allowed for d in at_once] == [d.allowed for d in one_by_one] == [True] * 3 + [False] * 3
    assert [d.remaining for d in at_once] == [d.remaining for d in one_by_one] == [2, 1, 0, 0, 0, 0]
    for single, batched in zip(one_by_one, at_once, strict=True):
        assert abs(single.retry_after - batched.retry_after) < 1
        assert abs(single.reset - batched.reset) < 1
    # The booked slots carry over to the next call, as single hits' do.
    assert (await limiter.reserve_many(key + "-b", 1, per_minute=3))[0].retry_after > 75


async def test_concurrent_webhooks_of_one_installation_share_a_redis_call(limiter) -> None:
    limiter, key = limiter
    calls: list[int] = []
    reserve_many = limiter.reserve_many

    async def counted(key: str, count: int, **kwargs):
        calls.append(count)
        return await reserve_many(key, count, **kwargs)

    limiter.reserve_many = counted
    reservations = WebhookReservations(limiter)
    decisions = await asyncio.gather(*(reservations.reserve(key, per_minute=10) for _ in range(40)))
    assert sum(calls) == 40 and len(calls) <= 2  # the first alone, the rest in one batch
    assert [d.allowed for d in decisions] == [True] * 10 + [False] * 30
    waits = [d.retry_after for d in decisions[10:]]
    assert waits == sorted(waits) and 5 < waits[1] - waits[0] <= 7  # one slot every 6 s


async def test_redis_down_logs_one_warning_per_interval_not_per_webhook(
        aiohttp_client, settings, pool, caplog) -> None:
    throttle._last_unavailable_log = -throttle.UNAVAILABLE_LOG_INTERVAL_SECONDS  # a fresh process
    client = await app_client(aiohttp_client, settings, webhook_rate_limit_per_minute=1,
                              redis_url="redis://127.0.0.1:1/0")
    with caplog.at_level(logging.WARNING, logger=throttle.__name__):
        answers = [await post_webhook(client, "pull_request", payloads.pull_request_event(
            "opened", payloads.pull_request(n, repo=payloads.REPO_API))) for n in range(1, 4)]
    assert [r.status for r in answers] == [202] * 3
    assert len([r for r in caplog.records if "rate limiter unavailable" in r.message]) == 1
