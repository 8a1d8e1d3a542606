"""Rate limits at the edge: API clients get 429 beyond their budget; webhooks never do.

- API: API_RATE_LIMIT_PER_MINUTE (default 100) per API token, bearer session or browser session,
  with RateLimit-* headers on every answer and Retry-After on 429. Anonymous requests are not
  counted: behind a reverse proxy they would all share the proxy's address (one budget for
  everyone signing in), and without credentials the API answers only 401 and its documents.
- Webhooks: WEBHOOK_RATE_LIMIT_PER_MINUTE (default 1,000) per installation. GitHub does not resend
  a 429, so a delivery over the limit is still stored and answered 202, but scheduled for the
  slot the limiter booked for it: the dispatcher takes only unscheduled deliveries and the
  sweeper takes scheduled ones when they fall due, so one noisy installation's excess waits its
  turn while the others' deliveries are processed at once.

Redis unreachable (or slow) means no limit, never a lost or refused webhook.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

from aiohttp import web

from devmetrics_app.observability.metrics import RATE_LIMITED
from devmetrics_app.ratelimit import Decision, RateLimiter
from devmetrics_app.timeutil import utcnow
from devmetrics_app.web import responses
from devmetrics_app.web.identity import principal_of
from devmetrics_app.web.keys import REDIS, SETTINGS

log = logging.getLogger(__name__)

LIMITER = web.AppKey("rate_limiter", RateLimiter)
LIMITED_PREFIX = "/api/"
EXEMPT = frozenset({"/api/webhooks/github"})
# The limiter must never be what makes a request slow: past this, let it through.
REDIS_TIMEOUT_SECONDS = 0.5
# Under a burst with Redis failing every request would log a traceback, costing the CPU the
# requests need: one warning per interval says it as well.
UNAVAILABLE_LOG_INTERVAL_SECONDS = 60.0
_last_unavailable_log = -UNAVAILABLE_LOG_INTERVAL_SECONDS


def _log_unavailable() -> None:
    global _last_unavailable_log
    now = time.monotonic()
    if now - _last_unavailable_log >= UNAVAILABLE_LOG_INTERVAL_SECONDS:
        _last_unavailable_log = now
        log.warning("rate limiter unavailable; not limiting (logged at most every %g s)",
                    UNAVAILABLE_LOG_INTERVAL_SECONDS, exc_info=True)


class WebhookReservations:
    """Batches the webhook limiter's Redis calls per installation.

    A burst of deliveries from one installation would make one Redis round trip each (and, at a
    few hundred in flight, exhaust the Redis connection pool). Instead the deliveries that
    arrive while one call is in flight wait for the next, which books all their slots at once:
    the same decisions, a fraction of the round trips, at most one call per key in flight.
    """

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter
        self._queued: dict[str, list[asyncio.Future]] = {}
        self._draining: dict[str, asyncio.Task] = {}

    async def reserve(self, key: str, *, per_minute: int) -> Decision | None:
        """This delivery's slot, or None when Redis did not answer (then: no limit)."""
        waiter = asyncio.get_running_loop().create_future()
        self._queued.setdefault(key, []).append(waiter)
        if key not in self._draining:
            self._draining[key] = asyncio.create_task(self._drain(key, per_minute))
        return await waiter

    async def _drain(self, key: str, per_minute: int) -> None:
        batch: list[asyncio.Future] = []
        try:
            while batch := self._queued.pop(key, []):
                try:
                    decisions: list[Decision | None] = list(await asyncio.wait_for(
                        self._limiter.reserve_many(key, len(batch), per_minute=per_minute),
                        REDIS_TIMEOUT_SECONDS))
                except Exception:
                    _log_unavailable()
                    decisions = [None] * len(batch)
                _resolve(batch, decisions)
        finally:
            # Cancelled (shutting down): whoever still waits goes on without a limit.
            left = batch + self._queued.pop(key, [])
            _resolve(left, [None] * len(left))
            del self._draining[key]


def _resolve(waiters: list[asyncio.Future], decisions: list[Decision | None]) -> None:
    for waiter, decision in zip(waiters, decisions, strict=True):
        if not waiter.done():  # its request may have been cancelled meanwhile
            waiter.set_result(decision)


RESERVATIONS = web.AppKey("webhook_reservations", WebhookReservations)


def _api_key(request: web.Request) -> str | None:
    principal = principal_of(request)
    if principal is None:
        return None
    if principal.token_id is not None:
        return f"api:token:{principal.token_id}"
    if principal.session is not None:
        return f"api:session:{principal.session.id}"
    return f"api:user:{principal.user_id}"


async def _hit(app: web.Application, key: str, *, per_minute: int, reserve: bool) -> Decision | None:
    try:
        return await asyncio.wait_for(app[LIMITER].hit(key, per_minute=per_minute, reserve=reserve),
                                      REDIS_TIMEOUT_SECONDS)
    except Exception:
        _log_unavailable()
        return None


@web.middleware
async def api_rate_limit_middleware(request: web.Request, handler) -> web.StreamResponse:
    per_minute = request.app[SETTINGS].api_rate_limit_per_minute
    if per_minute <= 0 or not request.path.startswith(LIMITED_PREFIX) or request.path in EXEMPT:
        return await handler(request)
    key = _api_key(request)
    if key is None:
        return await handler(request)
    decision = await _hit(request.app, key, per_minute=per_minute, reserve=False)
    if decision is None:
        return await handler(request)
    if not decision.allowed:
        RATE_LIMITED.labels("api").inc()
        response = responses.error(429, "rate_limited",
                                   f"more than {per_minute} requests a minute; retry later")
        response.headers.update(decision.headers())
        return response
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(decision.headers())
        raise
    if not response.prepared:  # a streamed answer (live updates) has sent its headers already
        response.headers.update(decision.headers())
    return response


async def webhook_not_before(app: web.Application, installation_id: int | None) -> datetime | None:
    """When a delivery from `installation_id` may be processed: None for now, else its slot."""
    per_minute = app[SETTINGS].webhook_rate_limit_per_minute
    if installation_id is None or per_minute <= 0:
        return None
    decision = await app[RESERVATIONS].reserve(f"webhook:{installation_id}", per_minute=per_minute)
    if decision is None or decision.allowed:
        return None
    RATE_LIMITED.labels("webhook").inc()
    return utcnow() + timedelta(seconds=decision.retry_after)


def setup(app: web.Application) -> None:
    async def install(app: web.Application) -> None:
        app[LIMITER] = RateLimiter(app[REDIS])  # after the resources context made app[REDIS]
        app[RESERVATIONS] = WebhookReservations(app[LIMITER])

    app.on_startup.append(install)
    app.middlewares.append(api_rate_limit_middleware)  # innermost: identity has run
