"""Where the app's credentials come from: the environment first, else the database (an app
registered through the setup page). Cached briefly so each request does not decrypt them."""

from __future__ import annotations

import time

import asyncpg

from devmetrics_app.config import Secret, Settings
from devmetrics_app.crypto import SecretBox
from devmetrics_app.github.credentials import AppCredentials, from_settings
from devmetrics_app.store import app_credentials

CACHE_SECONDS = 60.0


class CredentialsProvider:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, box: SecretBox) -> None:
        self._settings = settings
        self._pool = pool
        self._box = box
        self._cached: AppCredentials | None = None
        self._cached_at = 0.0
        # Settings are frozen: built once, not on every webhook.
        self._from_env = from_settings(settings)

    async def __call__(self) -> AppCredentials | None:
        if self._from_env is not None:
            return self._from_env
        if self._cached is not None and time.monotonic() - self._cached_at < CACHE_SECONDS:
            return self._cached
        stored = await app_credentials.load(self._pool, self._box)
        if stored is None:
            return None
        self._cached = AppCredentials(
            app_id=stored.app_id, private_key=Secret(stored.private_key),
            webhook_secret=Secret(stored.webhook_secret), client_id=stored.client_id,
            client_secret=Secret(stored.client_secret), slug=stored.slug,
        )
        self._cached_at = time.monotonic()
        return self._cached

    def forget(self) -> None:
        """Drop the cache (the setup page just stored new credentials)."""
        self._cached = None
