"""The dashboard: server-rendered pages, their SVG charts, live updates and security headers.

`routes` are the page routes; `csp.apply` (called by web/headers.py) adds the security
headers; `live.setup` starts the Redis listener and adds the WebSocket route. web/app.py wires
all three.
"""

from __future__ import annotations

from aiohttp import web

from devmetrics_app.web.dashboard import (
    deployment_page,
    explain_page,
    inbox,
    overview,
    people,
    pulls,
    repository,
    rules,
    settings_page,
    sprints,
)

MODULES = (overview, explain_page, repository, pulls, people, sprints, rules, inbox, settings_page,
           deployment_page)
routes: list[web.AbstractRouteDef] = [route for module in MODULES for route in module.routes]
