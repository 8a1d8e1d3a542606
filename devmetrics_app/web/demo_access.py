"""Demo mode only: the browser on this machine is the demo organisation's admin, no GitHub needed.

`devmetrics demo` has no GitHub to sign in with, so a request that reaches the app from loopback,
names a loopback host (a DNS-rebound name does not), and came through no proxy is treated as the
simulated organisation's admin. Anyone else is anonymous, as always. Changes still need the
page's CSRF token, so another site cannot make the local browser alter anything. Every page
carries a "Demo data" banner (templates/base.html, `demo_mode`).
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from devmetrics_app.simulation.org import DEVELOPERS, FIRST_USER_ID, INSTALLATION_ID
from devmetrics_app.web import responses
from devmetrics_app.web.identity import (
    AUTH_EXEMPT,
    CSRF_EXEMPT,
    PRINCIPAL,
    SAFE_METHODS,
    Principal,
    csrf_ok,
    principal_of,
)
from devmetrics_app.web.sessions import Session

# The simulation's first developer installs the app: the organisation's admin.
DEMO_ADMIN_ID = FIRST_USER_ID
DEMO_ADMIN_LOGIN = DEVELOPERS[0]
DEMO_SESSION = web.AppKey("demo_session", Session)
PROXY_HEADERS = ("X-Forwarded-For", "X-Forwarded-Host", "Forwarded", "X-Real-IP")


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_local_browser(request: web.Request) -> bool:
    if any(name in request.headers for name in PROXY_HEADERS):
        return False
    return _loopback(request.remote) and _loopback(urlsplit(f"//{request.host}").hostname)


def demo_principal(session: Session) -> Principal:
    """Granted like an operator token: the demo installation, as ADMIN, without asking GitHub."""
    return Principal(user_id=session.user_id, login=session.login, via="session", session=session,
                     token_installation=INSTALLATION_ID, token_role="ADMIN",  # noqa: S106 (a role)
                     token_grants=True)


@web.middleware
async def demo_middleware(request: web.Request, handler) -> web.StreamResponse:
    if (principal_of(request) is None and request.path not in AUTH_EXEMPT | CSRF_EXEMPT
            and is_local_browser(request)):
        session = request.app[DEMO_SESSION]
        if request.method not in SAFE_METHODS and not await csrf_ok(request, session):
            return responses.error(403, "csrf", "missing or wrong CSRF token")
        request[PRINCIPAL] = demo_principal(session)
        if request.path == "/" and request.method == "GET":
            raise web.HTTPFound("/dashboard")  # nothing to sign in to: straight to the figures
    return await handler(request)


def setup(app: web.Application) -> None:
    """Call after the identity middleware is in place (it runs first, so a bearer token or a
    session cookie still wins)."""
    app[DEMO_SESSION] = Session(id="demo-" + secrets.token_urlsafe(16), user_id=DEMO_ADMIN_ID,
                                login=DEMO_ADMIN_LOGIN, csrf_token=secrets.token_urlsafe(24),
                                created_at=time.time())
    app.middlewares.append(demo_middleware)
    aiohttp_jinja2.get_env(app).globals["demo_mode"] = True
