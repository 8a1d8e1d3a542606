"""The query parameters every metrics and list endpoint shares, parsed one way everywhere.

Order matters: the installation (and the ids that must belong to it: `repository`, `team`) is
resolved before anything else is validated, so a caller asking about another installation
learns nothing from a 400 about a malformed date — they get the same 404 as for an id that does
not exist.

- `installation`: required when the caller can see several installations; otherwise their
  only one. One they cannot see is 404.
- `from`, `to`: ISO dates (`2024-05-01`, `to` inclusive) or ISO datetimes with an offset (`to`
  exclusive). Default: the last 30 days. At most `MAX_RANGE_DAYS`.
- `repository`: one or more ids (repeated or comma-separated) of the installation's repositories.
- `team`: a team id of the installation.
- `explain`: true/false — include the items behind each figure.
- `limit` (1-100, default 50) and `cursor` on lists: see `encode_cursor`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import orjson
from aiohttp import web

from devmetrics_app.digits import bounded_int, is_decimal
from devmetrics_app.metrics.explain import Period
from devmetrics_app.metrics.read.scope import Scope
from devmetrics_app.metrics.settings import SettingsError
from devmetrics_app.store import installations, repositories
from devmetrics_app.timeutil import utcnow
from devmetrics_app.web.api.params import MAX_ID, bad_request
from devmetrics_app.web.keys import SETTINGS
from devmetrics_app.web.tenancy import not_found, require_installation, visible_installations

DEFAULT_DAYS = 30
MAX_RANGE_DAYS = 3 * 366
MAX_REPOSITORIES = 50
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_CURSOR_CHARS = 512
TRUE_VALUES = frozenset({"true", "1", "yes"})
FALSE_VALUES = frozenset({"false", "0", "no"})
CURSOR_KEY_LABEL = b"devmetrics-api-cursor-v1"
CURSOR_MAC_BYTES = 16


def parse_id(field: str, raw: str) -> int:
    value = bounded_int(raw.strip(), MAX_ID)
    if not value:
        raise bad_request(field, "must be a positive integer id")
    return value


def single(request: web.Request, field: str) -> str | None:
    """One value of a query parameter; a parameter given twice is ambiguous, not 'the last'."""
    values = request.query.getall(field, [])
    if len(values) > 1:
        raise bad_request(field, "given more than once")
    return printable(field, values[0]) if values else None


def printable(field: str, value: str) -> str:
    """A query value without control characters (PostgreSQL refuses NUL in text; none of them
    belongs in an id, a date, a login or a label)."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise bad_request(field, "contains a control character")
    return value


async def installation_of(request: web.Request, *, minimum_role: str = "VIEWER") -> tuple[int, str]:
    """(installation id, caller's role) from `installation`, or the caller's only installation."""
    raw = single(request, "installation")
    if raw is None:
        visible = await visible_installations(request)
        if not visible:
            raise not_found()
        if len(visible) > 1:
            raise bad_request("installation", "required: you can see several installations")
        raw = str(next(iter(visible)))
    installation_id = parse_id("installation", raw)
    role = await require_installation(request, installation_id, minimum_role=minimum_role)
    return installation_id, role


async def repositories_of(request: web.Request, conn: asyncpg.Connection,
                          installation_id: int) -> tuple[int, ...] | None:
    """The `repository` filter: ids of the installation's repositories; a foreign id is 404."""
    values = [part for raw in request.query.getall("repository", []) for part in raw.split(",")]
    if not values:
        return None
    ids = sorted({parse_id("repository", v) for v in values})
    if len(ids) > MAX_REPOSITORIES:
        raise bad_request("repository", f"at most {MAX_REPOSITORIES} repositories")
    found = await repositories.count_in_installation(conn, installation_id, ids)
    if found != len(ids):
        raise not_found()
    return tuple(ids)


async def team_of(request: web.Request, conn: asyncpg.Connection, installation_id: int) -> int | None:
    raw = single(request, "team")
    if raw is None:
        return None
    team_id = parse_id("team", raw)
    if not await installations.has_live_team(conn, installation_id, team_id):
        raise not_found()
    return team_id


# Dates the API accepts (GitHub itself began in 2008).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _bound(field: str, raw: str, *, end: bool) -> datetime:
    raw = raw.strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            if not EARLIEST.date() <= day < LATEST.date():
                raise _out_of_range(field)
            # `to` names the last day included: the half-open period ends the next midnight.
            return datetime.combine(day + timedelta(days=1) if end else day, time(), UTC)
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise bad_request(field, "must be an ISO date (YYYY-MM-DD) or datetime with offset") from None
    if moment.tzinfo is None:
        raise bad_request(field, "a datetime needs a UTC offset (e.g. Z or +02:00)")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise _out_of_range(field) from None
    if not EARLIEST <= moment < LATEST:
        raise _out_of_range(field)
    return moment


def _out_of_range(field: str) -> web.HTTPBadRequest:
    # Beyond these, "the 30 days before" or "the period before" would leave the calendar.
    return bad_request(field, f"must be from {EARLIEST.date()} to before {LATEST.date()}")


def period_of(request: web.Request, *, required: bool = True) -> Period | None:
    """[from, to) from the query; the last `DEFAULT_DAYS` days when neither is given."""
    raw_from, raw_to = single(request, "from"), single(request, "to")
    if raw_from is None and raw_to is None and not required:
        return None
    if raw_to is not None:
        end = _bound("to", raw_to, end=True)
    else:
        end = datetime.combine(utcnow().date() + timedelta(days=1), time(), UTC)
    start = _bound("from", raw_from, end=False) if raw_from is not None else end - timedelta(
        days=DEFAULT_DAYS)
    if end <= start:
        raise bad_request("to", "must not be before from")
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise bad_request("from", f"the range may span at most {MAX_RANGE_DAYS} days")
    return Period(start, end)


def flag(request: web.Request, field: str, *, default: bool = False) -> bool:
    value = optional_flag(request, field)
    return default if value is None else value


def optional_flag(request: web.Request, field: str) -> bool | None:
    """true/false, or None when the parameter is absent (a filter that is off)."""
    raw = single(request, field)
    if raw is None:
        return None
    if raw.lower() in TRUE_VALUES:
        return True
    if raw.lower() in FALSE_VALUES:
        return False
    raise bad_request(field, "must be true or false")


def choice(request: web.Request, field: str, allowed: tuple[str, ...], *,
           default: str | None = None, required: bool = False) -> str | None:
    raw = single(request, field)
    if raw is None:
        if required:
            raise bad_request(field, f"required: one of {', '.join(allowed)}")
        return default
    if raw not in allowed:
        raise bad_request(field, f"must be one of {', '.join(allowed)}")
    return raw


def limit_of(request: web.Request) -> int:
    raw = single(request, "limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not is_decimal(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise bad_request("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


# -- cursors ------------------------------------------------------------------------------------

def _cursor_key(request: web.Request) -> bytes:
    secret = request.app[SETTINGS].secret_key.get().encode()
    return hmac.new(secret, CURSOR_KEY_LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cursor(request: web.Request, kind: str, sort_key: Any, row_id: int) -> str:
    """An opaque keyset position (sort key, id) after which the next page starts.

    Signed (HMAC with a key derived from SECRET_KEY) and bound to the list it came from, so a
    client cannot hand-craft positions or carry one list's cursor to another; the listing query
    is still scoped by installation, so even a forged cursor could only skip rows it may see."""
    payload = _b64(orjson.dumps([kind, sort_key, row_id], default=str))
    mac = hmac.new(_cursor_key(request), payload.encode(), hashlib.sha256).digest()[:CURSOR_MAC_BYTES]
    return f"{payload}.{_b64(mac)}"


def decode_cursor(request: web.Request, kind: str) -> tuple[Any, int] | None:
    """The (sort key, id) of `cursor`, or None when absent; 400 when tampered or foreign."""
    raw = single(request, "cursor")
    if raw is None:
        return None
    payload, _, mac = raw.partition(".")
    if not payload or not mac or len(raw) > MAX_CURSOR_CHARS:
        raise bad_request("cursor", "malformed; pass back the next_cursor of a previous page")
    expected = hmac.new(_cursor_key(request), payload.encode(), hashlib.sha256).digest()[:CURSOR_MAC_BYTES]
    try:
        valid = hmac.compare_digest(_unb64(mac), expected)
        decoded = orjson.loads(_unb64(payload)) if valid else None
    except (binascii.Error, ValueError):
        valid, decoded = False, None
    if not valid or not isinstance(decoded, list) or len(decoded) != 3:
        raise bad_request("cursor", "invalid or tampered; pass back the next_cursor of a previous page")
    cursor_kind, sort_key, row_id = decoded
    if cursor_kind != kind or not isinstance(row_id, int):
        raise bad_request("cursor", "belongs to another list")
    return sort_key, row_id


def page(request: web.Request, kind: str, rows: list[dict[str, Any]], limit: int,
         sort_field: str) -> dict[str, Any]:
    """Rows fetched with LIMIT limit+1: the extra row only says there is a next page."""
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    next_cursor = (encode_cursor(request, kind, last[sort_field], last["id"])
                   if more and last is not None else None)
    return {"items": rows, "next_cursor": next_cursor, "limit": limit}


def settings_error(exc: SettingsError) -> web.HTTPUnprocessableEntity:
    """The organisation's metric settings are broken: say which key, never a 500."""
    return web.HTTPUnprocessableEntity(
        text=orjson.dumps({"error": {"code": "invalid_settings", "field": "settings",
                                     "message": f"organisation settings: {exc}"}}).decode(),
        content_type="application/json")


async def computed(awaitable: Awaitable[Any]) -> Any:
    try:
        return await awaitable
    except SettingsError as exc:
        raise settings_error(exc) from None


@dataclass(frozen=True)
class MetricQuery:
    installation_id: int
    role: str
    period: Period
    repository_ids: tuple[int, ...] | None
    team_id: int | None
    explain: bool

    def scope(self) -> Scope:
        return Scope(installation_id=self.installation_id, period=self.period,
                     repository_ids=self.repository_ids, team_id=self.team_id)

    def echo(self) -> dict[str, Any]:
        """What the figures were computed over, returned beside them."""
        return {"installation": self.installation_id,
                "from": self.period.start.isoformat(), "to": self.period.end.isoformat(),
                "repository": list(self.repository_ids) if self.repository_ids else None,
                "team": self.team_id}


async def metric_query(request: web.Request, conn: asyncpg.Connection, *,
                       installation_id: int | None = None) -> MetricQuery:
    """Tenancy first (installation, repositories, team → 404), then the other parameters."""
    if installation_id is None:
        installation_id, role = await installation_of(request)
    else:
        role = await require_installation(request, installation_id)
    repository_ids = await repositories_of(request, conn, installation_id)
    team_id = await team_of(request, conn, installation_id)
    period = period_of(request)
    assert period is not None
    return MetricQuery(installation_id=installation_id, role=role, period=period,
                       repository_ids=repository_ids, team_id=team_id,
                       explain=flag(request, "explain"))
