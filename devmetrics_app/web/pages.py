"""Server-rendered pages. (The dashboard pages arrive with the dashboard; this is the landing.)"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from devmetrics_app.project_files import project_path
from devmetrics_app.web.identity import principal_of
from devmetrics_app.web.keys import CREDENTIALS, SETTINGS
from devmetrics_app.web.public_host import require_public_host

routes = web.RouteTableDef()

FAVICON = project_path("templates") / "static" / "favicon.svg"


@routes.get("/favicon.ico")
async def favicon(request: web.Request) -> web.Response:
    """Browsers ask for /favicon.ico whatever the page links: the same icon, as SVG."""
    return web.FileResponse(FAVICON, headers={"Content-Type": "image/svg+xml",
                                              "Cache-Control": "public, max-age=86400"})


@routes.get("/")
async def landing(request: web.Request) -> web.Response:
    require_public_host(request)
    creds = await request.app[CREDENTIALS]()
    if creds is None:
        raise web.HTTPFound("/setup")
    principal = principal_of(request)
    settings = request.app[SETTINGS]
    return aiohttp_jinja2.render_template("landing.html", request, {
        "user": {"login": principal.login} if principal else None,
        "csrf_token": principal.session.csrf_token if principal and principal.session else "",
        "install_url": f"{settings.github_url}/apps/{creds.slug}/installations/new" if creds.slug else None,
    })
