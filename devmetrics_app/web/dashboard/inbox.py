"""In-app notifications: the signed-in user's list with read state, and marking read/unread.

Only the user's own notifications in installations they may still see are listed or changed;
someone else's id answers 404, as in the JSON API.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from devmetrics_app.digits import is_decimal
from devmetrics_app.store import installations, notifications
from devmetrics_app.web.api.params import form_of, path_id
from devmetrics_app.web.dashboard.common import page, pool, render, signed_in
from devmetrics_app.web.tenancy import not_found, visible_installations

routes = web.RouteTableDef()

SHOWN = 100


async def _organisation(request: web.Request, visible: dict[int, str], raw: str | None) -> dict[str, Any]:
    """The organisation whose navigation the inbox keeps: `?org=` (one the user may see), else
    the only one they have. The inbox itself lists every organisation's notifications."""
    chosen = int(raw) if raw and is_decimal(raw) and int(raw) in visible else None
    if chosen is None and len(visible) == 1:
        chosen = next(iter(visible))
    if chosen is None:
        return {"several_installations": len(visible) > 1}
    login = await installations.account_login(pool(request), chosen)
    return {"installation": {"id": chosen, "login": login or "", "role": visible[chosen]},
            "several_installations": len(visible) > 1}


def inbox_path(org: Any) -> str:
    return "/notifications" + (f"?{urlencode({'org': org})}" if org else "")


@routes.get("/notifications")
@page
async def inbox(request: web.Request) -> web.Response:
    user_id = signed_in(request).user_id
    visible = await visible_installations(request)
    installation_ids = sorted(visible)
    rows = await notifications.list_for_user(pool(request), user_id=user_id,
                                             installation_ids=installation_ids,
                                             before=None, unread_only=False, limit=SHOWN)
    items = [dict(r) for r in rows]
    for item in items:  # only our own or GitHub's https links become links
        url = item["url"] or ""
        item["safe_url"] = url if url.startswith(("/", "https://")) and not url.startswith("//") else None
    context = await _organisation(request, visible, request.query.get("org"))
    return render(request, "inbox.html", {
        **context, "notifications": items, "unread": sum(1 for i in items if i["read_at"] is None)})


@routes.post("/notifications/{notification_id}/read")
@page
async def mark(request: web.Request) -> web.Response:
    notification_id = path_id(request, "notification_id")
    form = await form_of(request)
    read = form.get("read", "true") == "true"
    visible = sorted(await visible_installations(request))
    if not await notifications.set_read_if_owned(pool(request), notification_id,
                                                 user_id=signed_in(request).user_id,
                                                 read=read, installation_ids=visible):
        raise not_found()
    org = form.get("org")
    raise web.HTTPSeeOther(inbox_path(org if isinstance(org, str) and is_decimal(org) else None))
