"""CSV downloads of the tables a manager sees (`?format=csv` on the page that shows them).

Cells a user wrote (titles, logins) could start with `=`, `+`, `-` or `@`, which spreadsheet
programs run as formulas (CSV injection): such a cell gets a leading apostrophe, shown as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp import web

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_FORMAT = "csv"


def wants_csv(request: web.Request) -> bool:
    return request.query.get("format") == CSV_FORMAT


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, int | bool):
        return value
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if text.startswith(FORMULA_STARTS) and not _number(text):
        return "'" + text
    return text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_response(filename: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})
