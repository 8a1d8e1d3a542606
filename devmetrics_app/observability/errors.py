"""Error tracking: Sentry when SENTRY_DSN is set, with the aiohttp and Dramatiq integrations.

Nothing secret may leave: webhook bodies carry private code, requests carry session cookies and
bearer tokens, and exception messages can quote a URL or a token. So no request bodies, headers
only from a short harmless list, no local variables, and every string in the event (messages,
breadcrumbs, extra data) is passed through `scrub_text`, which masks anything shaped like a
credential, before the event is sent.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from devmetrics_app.config import Settings

log = logging.getLogger(__name__)

FILTERED = "[Filtered]"
SAFE_HEADERS = frozenset({"content-type", "content-length", "user-agent", "x-github-event",
                          "x-github-delivery", "x-github-hook-id", "accept"})
SENSITIVE_KEY = re.compile(r"authori[sz]ation|cookie|token|secret|passw|api[-_]?key|private[-_]?key|dsn"
                           r"|signature|session|csrf|credential", re.IGNORECASE)
SECRET_PATTERNS = (
    re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),  # GitHub tokens
    re.compile(r"\bsk-ant-[A-Za-z0-9_-]{10,}"),  # Anthropic keys
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),  # Slack tokens
    re.compile(r"\bdm_[A-Za-z0-9_-]{16,}"),  # our API tokens (store/auth.API_TOKEN_PREFIX)
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),  # user:password in URLs (database, broker)
    re.compile(r"(?<=/api/webhooks/)\d+/[A-Za-z0-9_-]{20,}"),  # Discord webhook tokens
)


def scrub_text(text: str) -> str:
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(FILTERED, text)
    return text


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: FILTERED if isinstance(k, str) and SENSITIVE_KEY.search(k) else _scrub(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def before_send(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("cookies", None)
        request.pop("data", None)  # webhook bodies, form posts
        request.pop("query_string", None)  # OAuth codes and states travel there
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {k: v for k, v in headers.items() if k.lower() in SAFE_HEADERS}
    return _scrub(event)


def before_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    return _scrub(crumb)


def init_sentry(settings: Settings) -> bool:
    """Start Sentry if SENTRY_DSN is set; True if it is running."""
    if not settings.sentry_dsn:
        return False
    try:
        import sentry_sdk
        from sentry_sdk.integrations.aiohttp import AioHttpIntegration
        from sentry_sdk.integrations.dramatiq import DramatiqIntegration
    except ImportError:
        log.warning("SENTRY_DSN is set but sentry-sdk is not installed (pip install sentry-sdk)")
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get(),
        environment=settings.env,
        integrations=[AioHttpIntegration(), DramatiqIntegration()],
        include_local_variables=False,  # locals hold tokens, payloads, keys
        max_request_body_size="never",
        before_send=before_send,
        before_breadcrumb=before_breadcrumb,
    )
    return True
