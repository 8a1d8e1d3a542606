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
        log.warning("rate limiter unavailable; not limiting", exc_info=True)
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
    decision = await _hit(app, f"webhook:{installation_id}", per_minute=per_minute, reserve=True)
    if decision is None or decision.allowed:
        return None
    RATE_LIMITED.labels("webhook").inc()
    return utcnow() + timedelta(seconds=decision.retry_after)


def setup(app: web.Application) -> None:
    async def install(app: web.Application) -> None:
        app[LIMITER] = RateLimiter(app[REDIS])  # after the resources context made app[REDIS]

    app.on_startup.append(install)
    app.middlewares.append(api_rate_limit_middleware)  # innermost: identity has run
