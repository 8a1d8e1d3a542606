"""What every dashboard page shares: sign-in, tenancy as HTML, the filter bar, rendering.

The JSON API's parsing (web/api/query.py) and tenancy (web/tenancy.py) are reused as they are, so
a page and the API agree on what a period, a repository filter or "not yours" means. They raise
JSON errors; `page` turns those into the same status with an HTML page, and a visitor who is not
signed in is sent to the landing page instead of getting a 401 body.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
import asyncpg
import orjson
from aiohttp import web

from devmetrics_app.digits import bounded_int
from devmetrics_app.metrics.explain import Period
from devmetrics_app.metrics.service import Scope
from devmetrics_app.store import installations
from devmetrics_app.store import repositories as store_repositories
from devmetrics_app.timeutil import utcnow
from devmetrics_app.web.api.params import MAX_ID
from devmetrics_app.web.api.params import bad_request as _bad_request
from devmetrics_app.web.api.query import _bound, repositories_of, single, team_of
from devmetrics_app.web.dashboard.charts import fmt, noun
from devmetrics_app.web.identity import Principal, principal_of
from devmetrics_app.web.keys import POOL
from devmetrics_app.web.tenancy import require_installation, visible_installations

PERIODS = ("7", "30", "90")
DEFAULT_PERIOD = "30"
MAX_CUSTOM_DAYS = 3 * 366
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
bad_request = _bad_request


def _message(exc: web.HTTPException) -> str:
    try:
        return str(orjson.loads(exc.text or "{}")["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return exc.reason


def page(handler: Handler) -> Handler:
    """Signed-in pages: anonymous visitors go to the landing page; API-style errors
    (400/403/404/422 with a JSON body) become the same status with an HTML page."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        if principal_of(request) is None:
            raise web.HTTPFound("/?" + urlencode({"next": request.path_qs}))
        if request.method == "GET" and any(not value.strip() for value in request.query.values()):
            # A GET form sends its blank fields ("All repositories", no author): the API would
            # call `repository=` invalid, so the page drops them once, leaving a clean URL.
            kept = [(key, value) for key, value in request.query.items() if value.strip()]
            raise web.HTTPFound(request.path + ("?" + urlencode(kept) if kept else ""))
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400 or exc.content_type != "application/json":
                raise
            response = aiohttp_jinja2.render_template(
                "pages/error.html", request,
                {**base_context(request), "status": exc.status, "message": _message(exc)},
                status=exc.status)
            return response
    return wrapped


def signed_in(request: web.Request) -> Principal:
    principal = principal_of(request)
    assert principal is not None  # `page` guarantees it
    return principal


def base_context(request: web.Request) -> dict[str, Any]:
    principal = principal_of(request)
    session = principal.session if principal else None
    return {"user": {"login": principal.login, "id": principal.user_id} if principal else None,
            "csrf_token": session.csrf_token if session else "", "live_rooms": [], "fmt": fmt,
            "noun": noun}


def render(request: web.Request, template: str, context: dict[str, Any], *,
           status: int = 200) -> web.Response:
    return aiohttp_jinja2.render_template(f"pages/{template}", request,
                                          {**base_context(request), **context}, status=status)


def installation_path_id(request: web.Request) -> int:
    value = bounded_int(request.match_info["installation_id"], MAX_ID)
    if not value:
        raise web.HTTPNotFound(text='{"error": {"code": "not_found", "message": "not found"}}',
                               content_type="application/json")
    return value


async def installation_context(request: web.Request, conn: asyncpg.Connection, *,
                               minimum_role: str = "VIEWER") -> dict[str, Any]:
    """The installation of the path (404 when not visible) with what the navigation needs."""
    installation_id = installation_path_id(request)
    role = await require_installation(request, installation_id, minimum_role=minimum_role)
    login = await installations.account_login(conn, installation_id)
    visible = await visible_installations(request)
    return {"installation": {"id": installation_id, "login": login or "",
                             "role": role}, "several_installations": len(visible) > 1}


@dataclass(frozen=True)
class Filters:
    """The filter bar's state: a period choice and the repository/team filters, all in the URL."""

    installation_id: int
    choice: str  # "7", "30", "90" or "custom"
    period: Period
    repository_ids: tuple[int, ...] | None
    team_id: int | None

    def scope(self) -> Scope:
        return Scope(self.installation_id, self.period, self.repository_ids, self.team_id)

    def params(self) -> list[tuple[str, str]]:
        """The query that reproduces these filters (for links to explanations and other pages)."""
        out: list[tuple[str, str]] = [("period", self.choice)]
        if self.choice == "custom":
            out += [("from", self.period.start.date().isoformat()),
                    ("to", (self.period.end - timedelta(days=1)).date().isoformat())]
        out += [("repository", str(r)) for r in self.repository_ids or ()]
        if self.team_id is not None:
            out.append(("team", str(self.team_id)))
        return out

    @property
    def last_day(self) -> date:
        """The last day the period includes (its end is the next midnight, exclusive)."""
        return (self.period.end - timedelta(microseconds=1)).date()

    @property
    def query(self) -> str:
        return urlencode(self.params())

    def previous(self) -> Scope:
        """The period of the same length just before: the baseline of a tile's trend."""
        length = self.period.end - self.period.start
        return Scope(self.installation_id, Period(self.period.start - length, self.period.start),
                     self.repository_ids, self.team_id)


def _today_end() -> datetime:
    return datetime.combine(utcnow().date() + timedelta(days=1), time(), UTC)


def _nonempty(request: web.Request, field: str) -> str | None:
    raw = single(request, field)
    return raw if raw and raw.strip() else None


def period_filter(request: web.Request, default: str = DEFAULT_PERIOD) -> tuple[str, Period]:
    """`period=7|30|90` (default 30), or `period=custom` with `from`/`to` dates (inclusive)."""
    choice = single(request, "period") or default
    raw_from, raw_to = _nonempty(request, "from"), _nonempty(request, "to")
    if choice not in (*PERIODS, "custom"):
        raise bad_request("period", "one of 7, 30, 90 or custom")
    if choice != "custom":
        end = _today_end()
        return choice, Period(end - timedelta(days=int(choice)), end)
    end = _bound("to", raw_to, end=True) if raw_to else _today_end()
    start = _bound("from", raw_from, end=False) if raw_from else end - timedelta(days=int(DEFAULT_PERIOD))
    if end <= start:
        raise bad_request("to", "must not be before from")
    if end - start > timedelta(days=MAX_CUSTOM_DAYS):
        raise bad_request("from", f"the range may span at most {MAX_CUSTOM_DAYS} days")
    return choice, Period(start, end)


async def filters_of(request: web.Request, conn: asyncpg.Connection, installation_id: int, *,
                     default_period: str = DEFAULT_PERIOD) -> Filters:
    """Tenancy of the filter ids first (a foreign repository or team is 404), then the period."""
    repository_ids = await repositories_of(request, conn, installation_id)
    team_id = await team_of(request, conn, installation_id)
    choice, period = period_filter(request, default_period)
    return Filters(installation_id, choice, period, repository_ids, team_id)


async def filter_options(conn: asyncpg.Connection, installation_id: int) -> dict[str, Any]:
    """Repositories and teams for the filter bar's selects."""
    repositories = await store_repositories.names_for_select(conn, installation_id, connected_only=True)
    teams = await installations.live_teams(conn, installation_id)
    return {"repositories": [dict(r) for r in repositories], "teams": [dict(t) for t in teams]}


def pool(request: web.Request) -> asyncpg.Pool:
    return request.app[POOL]
