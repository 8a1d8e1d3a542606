"""The GitHub App's identity: from the environment, or (later) from the database for an app
registered through the setup page. Everything that talks to GitHub as the app asks a
`CredentialsSource` at call time, so credentials stored after start-up are picked up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from devmetrics_app.config import Secret, Settings


@dataclass(frozen=True)
class AppCredentials:
    app_id: int
    private_key: Secret
    webhook_secret: Secret
    client_id: str
    client_secret: Secret
    slug: str


CredentialsSource = Callable[[], Awaitable[AppCredentials | None]]


def from_settings(settings: Settings) -> AppCredentials | None:
    """The app configured by GITHUB_APP_ID / GITHUB_PRIVATE_KEY / ..., or None when unset."""
    if settings.github_app_id is None or not settings.github_private_key:
        return None
    return AppCredentials(
        app_id=settings.github_app_id,
        private_key=settings.github_private_key,
        webhook_secret=settings.github_webhook_secret,
        client_id=settings.github_client_id,
        client_secret=settings.github_client_secret,
        slug=settings.github_app_slug,
    )


def settings_source(settings: Settings) -> CredentialsSource:
    """A `CredentialsSource` that only knows the environment (workers, tests, CLI)."""

    async def load() -> AppCredentials | None:
        return from_settings(settings)

    return load
