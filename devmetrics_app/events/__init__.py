"""Webhook handlers: one module per event family, each with its own router, combined here."""

from gidgethub.routing import Router

from devmetrics_app.events import (
    ci,
    deployments,
    installation,
    issues,
    live_updates,
    pull_request,
    push,
    review_triggers,
)

router = Router(
    installation.router,
    pull_request.router,
    push.router,
    issues.router,
    ci.router,
    deployments.router,
    review_triggers.router,
    live_updates.router,
)
