"""Where PostgreSQL and Redis are: the configured URLs, or embedded servers when none are set."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from devmetrics_app import embedded
from devmetrics_app.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoints:
    database_url: str
    redis_url: str
    # Which of the two this process started (or joined) under the data directory.
    embedded_postgres: bool = False
    embedded_redis: bool = False

    def __repr__(self) -> str:  # URLs may carry passwords
        return "Endpoints(database_url='***', redis_url='***')"


def resolve_endpoints(settings: Settings) -> Endpoints:
    database_url = settings.database_url.get()
    redis_url = settings.redis_url.get()
    if not database_url:
        database_url = embedded.start_postgres(settings.data_dir)
        log.info("DATABASE_URL is not set: using embedded PostgreSQL under %s",
                 settings.data_dir / embedded.POSTGRES_DIR)
    if not redis_url:
        redis_url = embedded.start_redis(settings.data_dir)
        log.info("REDIS_URL is not set: using embedded Redis under %s",
                 settings.data_dir / embedded.REDIS_DIR)
    return Endpoints(database_url=database_url, redis_url=redis_url,
                     embedded_postgres=not settings.database_url.get(),
                     embedded_redis=not settings.redis_url.get())
