"""Security headers for every response, above all a Content-Security-Policy without inline script.

The pages need nothing inline: scripts and styles are files under /static, charts are SVG styled
by class. So the policy allows only our own origin for scripts, styles, fonts and fetches (and
the WebSocket of the same host), no plugins, no framing; form posts may go to our own origin and
to GitHub (sign-in redirects there after the form post, and form-action covers redirects).
"""

from __future__ import annotations

import functools

from aiohttp import web

from devmetrics_app.web.keys import SETTINGS

HEADER = "Content-Security-Policy"


def policy(request: web.Request) -> str:
    return _policy(request.app[SETTINGS].github_url.rstrip("/"), request.host)


@functools.lru_cache(maxsize=64)  # the Host header is the caller's: a bounded cache
def _policy(github: str, host: str) -> str:
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: https://avatars.githubusercontent.com",
        f"connect-src 'self' ws://{host} wss://{host}",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        f"form-action 'self' {github}",
    ])


def apply(request: web.Request, headers) -> None:
    """Set by web/headers.py's response hook, on every response before it is sent."""
    headers.setdefault(HEADER, policy(request))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
