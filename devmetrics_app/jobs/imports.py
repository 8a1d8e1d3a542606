"""History import jobs: one per repository, fanned out from a new installation."""

from __future__ import annotations

import logging
import time

import dramatiq

from devmetrics_app.github.errors import InstallationUnavailable, RateLimited
from devmetrics_app.importer import DEFAULT_DAYS, ImportConflict, import_repository
from devmetrics_app.jobs import resources

log = logging.getLogger(__name__)

IMPORT_MAX_RETRIES = 5
IMPORT_MIN_BACKOFF_MS = 30_000
# A large repository can take a while; Dramatiq's default limit (10 min) would cut it off.
IMPORT_TIME_LIMIT_MS = 2 * 60 * 60 * 1000


@dramatiq.actor(queue_name="imports", max_retries=IMPORT_MAX_RETRIES,
                min_backoff=IMPORT_MIN_BACKOFF_MS, time_limit=IMPORT_TIME_LIMIT_MS)
async def import_repository_job(installation_id: int, repository_id: int,
                                days: int = DEFAULT_DAYS) -> None:
    """Import (or resume importing) one repository; retries resume from the stored cursors."""
    res = resources.current()
    pool = await res.pool()
    repo = await pool.fetchrow(
        """SELECT full_name, default_branch, id FROM repositories
           WHERE id = $1 AND installation_id = $2 AND removed_at IS NULL""",
        repository_id, installation_id)
    if repo is None:
        log.info("repository %s is gone from installation %s; import dropped", repository_id,
                 installation_id)
        return
    try:
        gh = await (await res.github()).client_for(installation_id)
        summary = await import_repository(pool, gh, installation_id=installation_id,
                                          repository=repo["full_name"], days=days)
    except InstallationUnavailable as exc:
        log.info("import of %s dropped: %s", repo["full_name"], exc)
        return
    except ImportConflict:
        log.info("import of %s is already running elsewhere", repo["full_name"])
        return
    except RateLimited as exc:
        delay_ms = max(int(((exc.retry_at or time.time() + 60) - time.time()) * 1000), 1000)
        import_repository_job.send_with_options(args=(installation_id, repository_id, days),
                                                delay=delay_ms)
        log.info("import of %s rate-limited; resumes in %d s", repo["full_name"], delay_ms // 1000)
        return
    log.info("imported %s: %s", repo["full_name"], summary.items)


@dramatiq.actor(queue_name="imports", max_retries=3)
async def import_installation_job(installation_id: int, days: int = DEFAULT_DAYS) -> None:
    """A new installation: one import job per repository it grants."""
    pool = await resources.current().pool()
    ids = [r["id"] for r in await pool.fetch(
        "SELECT id FROM repositories WHERE installation_id = $1 AND removed_at IS NULL",
        installation_id)]
    for repository_id in ids:
        import_repository_job.send(installation_id, repository_id, days)
    log.info("queued the history import of %d repositories of installation %s", len(ids),
             installation_id)
