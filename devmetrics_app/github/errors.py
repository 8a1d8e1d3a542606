"""Errors with a clear meaning for callers (jobs, web handlers) that talk to GitHub as the app."""

from __future__ import annotations


class GitHubAppError(Exception):
    """Base class: something stops DevMetrics from talking to GitHub as the app."""


class AppNotConfigured(GitHubAppError):
    """No app credentials: set GITHUB_APP_ID/GITHUB_PRIVATE_KEY or register from the setup page."""

    def __init__(self) -> None:
        super().__init__("the GitHub App is not configured: set GITHUB_APP_ID, GITHUB_PRIVATE_KEY and "
                         "GITHUB_WEBHOOK_SECRET, or register the app from the setup page")


class AppAuthenticationFailed(GitHubAppError):
    """GitHub rejected the app JWT (wrong app id, wrong private key, or a badly skewed clock)."""


class InstallationUnavailable(GitHubAppError):
    """The installation cannot get a token: uninstalled (404) or suspended (403).

    Retrying will not help until an `installation` webhook says otherwise, so callers should
    drop the work instead of scheduling retries."""

    def __init__(self, installation_id: int, reason: str, message: str = "") -> None:
        self.installation_id = installation_id
        self.reason = reason
        self.detail = message
        detail = f": {message}" if message else ""
        super().__init__(f"installation {installation_id} is {reason}{detail}")


class TokenUnavailable(GitHubAppError):
    """Waited too long for another process to refresh an installation token."""


class RateLimited(GitHubAppError):
    """GitHub kept rate-limiting a request, or asked us to wait longer than we are willing to.

    `retry_at` (epoch seconds) is when GitHub said the limit resets, if it said; a job can
    re-enqueue itself for then instead of holding a worker."""

    def __init__(self, message: str, *, status_code: int | None = None,
                 retry_at: float | None = None) -> None:
        self.status_code = status_code
        self.retry_at = retry_at
        super().__init__(message)
