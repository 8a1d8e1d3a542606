"""AI risk review jobs (thin: the work is in `devmetrics_app.review`).

`request_analysis` is where webhooks land: it debounces. `debounced_analysis` is its delayed
echo and runs only if it is still the latest request. `analyse_pull_request` runs now (the REST
API's re-analyse, a retry). `analyse_head` serves check runs and suites, which name a commit:
it finds the pull request(s) by head SHA (forks send no `pull_requests`) and checks the run is ours.
"""

from __future__ import annotations

import logging
import time

import dramatiq

from devmetrics_app.crypto import SecretBox
from devmetrics_app.github.errors import InstallationUnavailable, RateLimited
from devmetrics_app.github.provider import CredentialsProvider
from devmetrics_app.jobs import resources
from devmetrics_app.review import debounce, fetch
from devmetrics_app.review.runner import publish_stored, run_analysis

log = logging.getLogger(__name__)

QUEUE = "reviews"
MAX_RETRIES = 3
MIN_BACKOFF_MS = 10_000
TIME_LIMIT_MS = 10 * 60 * 1000  # the model call alone may take up to four minutes with retries
# Publishing a stored result costs nothing but GitHub calls: keep trying for about a day.
PUBLISH_MAX_RETRIES = 20
PUBLISH_MIN_BACKOFF_MS = 5_000
PUBLISH_MAX_BACKOFF_MS = 2 * 3600 * 1000


async def _run(pull_request_id: int, reason: str, head_sha: str | None) -> None:
    try:
        outcome = await run_analysis(resources.current(), pull_request_id, reason=reason)
    except InstallationUnavailable as exc:
        log.info("review of pull request %s dropped: %s", pull_request_id, exc)
        return
    except RateLimited as exc:
        delay_ms = max(int(((exc.retry_at or time.time() + 60) - time.time()) * 1000), 1000)
        analyse_pull_request.send_with_options(
            kwargs={"pull_request_id": pull_request_id, "reason": reason, "head_sha": head_sha},
            delay=delay_ms)
        log.info("review of pull request %s rate-limited; again in %d s", pull_request_id, delay_ms // 1000)
        return
    log.info("review of pull request %s (%s): %s", pull_request_id, reason, outcome)


@dramatiq.actor(queue_name=QUEUE, max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS,
                time_limit=TIME_LIMIT_MS)
async def analyse_pull_request(pull_request_id: int, reason: str = "event",
                               head_sha: str | None = None) -> None:
    """Analyse the pull request's current head now. `head_sha` is informational: the head is
    always read from GitHub, so a late job never reviews a stale commit."""
    await _run(pull_request_id, reason, head_sha)


@dramatiq.actor(queue_name=QUEUE, max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS,
                time_limit=TIME_LIMIT_MS)
async def debounced_analysis(pull_request_id: int, token: int, reason: str = "event",
                             head_sha: str | None = None) -> None:
    res = resources.current()
    redis = debounce.redis_for(res.redis_url or res.settings.redis_url.get())
    if not await debounce.is_latest(redis, pull_request_id, token):
        log.info("review of pull request %s for %s superseded by a later push", pull_request_id, head_sha)
        return
    await _run(pull_request_id, reason, head_sha)


@dramatiq.actor(queue_name=QUEUE, max_retries=MAX_RETRIES)
async def request_analysis(pull_request_id: int, head_sha: str | None = None, reason: str = "event") -> None:
    res = resources.current()
    redis = debounce.redis_for(res.redis_url or res.settings.redis_url.get())
    token = await debounce.register(redis, pull_request_id)
    debounced_analysis.send_with_options(
        kwargs={"pull_request_id": pull_request_id, "token": token, "reason": reason, "head_sha": head_sha},
        delay=int(debounce.debounce_seconds(res.settings) * 1000))


@dramatiq.actor(queue_name=QUEUE, max_retries=MAX_RETRIES)
async def analyse_head(repository_id: int, head_sha: str, reason: str = "rerun",
                       installation_id: int | None = None, app_id: int | None = None,
                       check_run_id: int | None = None,
                       pull_request_numbers: list[int] | None = None) -> None:
    res = resources.current()
    pool = await res.pool()
    ours, _ = await fetch.app_identity(await res.github(), CredentialsProvider(
        res.settings, pool, SecretBox(res.settings.secret_key.get())))
    known_run = check_run_id is not None and await pool.fetchval(
        "SELECT true FROM ai_reviews WHERE check_run_id = $1 AND repository_id = $2",
        check_run_id, repository_id)
    if not known_run and (app_id is None or ours is None or int(app_id) != ours):
        log.info("check run/suite of app %s on %s is not ours; ignored", app_id, head_sha[:7])
        return
    if pull_request_numbers:
        rows = await pool.fetch(
            """SELECT id FROM pull_requests WHERE repository_id = $1 AND number = ANY($2::int[])
                 AND ($3::bigint IS NULL OR installation_id = $3)""",
            repository_id, pull_request_numbers, installation_id)
    else:  # a fork's check run names no pull request: find it by its head commit
        rows = await pool.fetch(
            """SELECT id FROM pull_requests WHERE repository_id = $1 AND head_sha = $2 AND state = 'OPEN'
                 AND ($3::bigint IS NULL OR installation_id = $3)
               ORDER BY github_updated_at DESC""", repository_id, head_sha, installation_id)
    if not rows:
        log.info("no open pull request has head %s in repository %s", head_sha[:7], repository_id)
    for row in rows:
        await _run(row["id"], reason, head_sha)


@dramatiq.actor(queue_name=QUEUE, max_retries=PUBLISH_MAX_RETRIES, min_backoff=PUBLISH_MIN_BACKOFF_MS,
                max_backoff=PUBLISH_MAX_BACKOFF_MS)
async def publish_review(review_id: int) -> None:
    """Show a stored review on GitHub (its first publication failed). Errors raise, so Dramatiq
    retries; the model is never called again."""
    try:
        outcome = await publish_stored(resources.current(), review_id)
    except InstallationUnavailable as exc:
        log.info("publishing review %s dropped: %s", review_id, exc)
        return
    log.info("publishing review %s: %s", review_id, outcome)
