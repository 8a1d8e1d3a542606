"""Pages whose buttons only work on PUBLIC_URL send a browser there first.

Sign-in sets its state cookie on the host the browser is on and GitHub returns to PUBLIC_URL's
host, so a browser on another name for the same server (127.0.0.1 vs localhost) would be told the
sign-in "was started in another browser"; the setup page registers an app whose URLs all name
PUBLIC_URL. Redirecting before the page is shown is better than a button that does nothing.

Behind a reverse proxy the proxy must pass the public host on (`Host`, or `X-Forwarded-Host`),
as it must for cookies anyway; a proxy that sends neither would loop here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from devmetrics_app.web.keys import SETTINGS

DEFAULT_PORTS = {"http": 80, "https": 443}


def _host_port(netloc: str, scheme: str) -> tuple[str, int | None]:
    parts = urlsplit(f"{scheme}://{netloc}")
    try:
        port = parts.port
    except ValueError:  # a Host header with a non-numeric port: it names no public host
        return "", None
    return (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme)


def on_public_host(request: web.Request) -> bool:
    public = urlsplit(request.app[SETTINGS].public_url)
    wanted = _host_port(public.netloc, public.scheme)
    seen = [request.headers.get("X-Forwarded-Host", "").split(",")[0].strip(), request.host]
    return any(host and _host_port(host, public.scheme) == wanted for host in seen)


def require_public_host(request: web.Request) -> None:
    """Raise a redirect to the same path on PUBLIC_URL when the browser is elsewhere."""
    if not on_public_host(request):
        raise web.HTTPFound(request.app[SETTINGS].public_url.rstrip("/") + request.path_qs)
