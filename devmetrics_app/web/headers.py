"""Security, transport and caching headers, set on every response just before it is sent.

A response-prepare hook rather than a middleware: it also sees the answers no handler returns
(identity's 401, aiohttp's own 404/405, streamed and WebSocket responses), after the caller is
known. One place for all of them (the security headers had a middleware of their own).

* The Content-Security-Policy and its companions (web/dashboard/csp.py).

* Strict-Transport-Security when PUBLIC_URL is https: browsers then refuse plain http to us.
* Cache-Control: no-store on API answers and on anything served to a signed-in caller, so a
  shared or back-button cache never keeps one user's data. Static files keep their caching.
"""

from __future__ import annotations

from aiohttp import web

from devmetrics_app.web.dashboard import csp
from devmetrics_app.web.identity import principal_of
from devmetrics_app.web.keys import SETTINGS

HSTS = "max-age=31536000"
STATIC_PREFIX = "/static/"


async def set_headers(request: web.Request, response: web.StreamResponse) -> None:
    csp.apply(request, response.headers)
    if request.app[SETTINGS].public_url.startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if request.path.startswith(STATIC_PREFIX):
        return
    if request.path.startswith("/api/") or principal_of(request) is not None:
        response.headers["Cache-Control"] = "no-store"

