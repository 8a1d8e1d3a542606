"""Talking to GitHub as the app: app JWT, shared installation tokens, and API clients with our
own rate-limit handling. Start at `GitHubClients`."""

from devmetrics_app.github.client import GitHubClient, GitHubClients, RateLimitPolicy
from devmetrics_app.github.credentials import AppCredentials, CredentialsSource, from_settings
from devmetrics_app.github.errors import (
    AppAuthenticationFailed,
    AppNotConfigured,
    GitHubAppError,
    InstallationUnavailable,
    RateLimited,
    TokenUnavailable,
)

__all__ = [
    "AppAuthenticationFailed",
    "AppCredentials",
    "AppNotConfigured",
    "CredentialsSource",
    "GitHubAppError",
    "GitHubClient",
    "GitHubClients",
    "InstallationUnavailable",
    "RateLimitPolicy",
    "RateLimited",
    "TokenUnavailable",
    "from_settings",
]
