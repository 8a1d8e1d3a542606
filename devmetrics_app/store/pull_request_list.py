"""The pull request list's SQL (the API's keyset pages, the page's sorted window), built with
pypika because its filters combine freely.

Every user value is a positional parameter ($n); only constants are written into the SQL. Rows
are ordered newest first by (github_created_at, id) and paged by keyset: a page starts strictly
after the last (created, id) of the previous one, so rows inserted meanwhile neither repeat nor
shift the pages (an OFFSET would).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from pypika import Order, Parameter, PostgreSQLQuery, Table
from pypika.functions import Lower
from pypika.terms import BetweenCriterion, Function, Tuple

# A PR's risk is the score of its latest completed AI review; the bands name its ranges.
RISK_BANDS: dict[str, tuple[int, int]] = {"low": (0, 39), "medium": (40, 69), "high": (70, 100)}
STATES = ("open", "closed", "merged")
LIST_COLUMNS = ("id", "installation_id", "repository_id", "number", "title", "author_id",
                "author_login", "state", "draft", "labels", "additions", "deletions",
                "changed_files", "html_url", "github_created_at", "merged_at", "closed_at")

PR = Table("pull_requests").as_("pr")
REPO = Table("repositories").as_("repo")
REVIEW = Table("ai_reviews").as_("ar")
TEAM_MEMBERS = Table("team_members").as_("tm")
# Column -> SQL over the list's rows (x) and their cycle-time facts (c). Constants only.
SORTS = {
    "opened": "x.github_created_at",
    "size": "(coalesce(x.additions, 0) + coalesce(x.deletions, 0))",
    "age": "(coalesce(x.merged_at, x.closed_at, now()) - x.github_created_at)",
    "cycle_time": "c.cycle_time",
}


@dataclass(frozen=True)
class PullRequestFilters:
    installation_id: int
    states: tuple[str, ...] = ()
    author: str | None = None
    repository_ids: tuple[int, ...] | None = None
    team_id: int | None = None
    risk: str | None = None
    labels: tuple[str, ...] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None
    after: tuple[datetime, int] | None = None


class _Args:
    """Collects values and hands out their $n placeholders in order."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> Parameter:
        self.values.append(value)
        return Parameter(f"${len(self.values)}")


def _latest_risk():
    return (PostgreSQLQuery.from_(REVIEW).select(REVIEW.risk_score)
            .where(REVIEW.pull_request_id == PR.id).where(REVIEW.status == "completed")
            .orderby(REVIEW.created_at, order=Order.desc).orderby(REVIEW.id, order=Order.desc)
            .limit(1))


def list_sql(filters: PullRequestFilters, limit: int, arg: _Args | None = None) -> tuple[str, list[Any]]:
    """(SQL, args) for one page: `limit` + 1 rows, the extra one only signals a next page.
    With `arg`, its placeholders continue those of a query that wraps this one."""
    arg = arg or _Args()
    query = (PostgreSQLQuery.from_(PR).join(REPO).on(REPO.id == PR.repository_id)
             .select(*(PR.field(c) for c in LIST_COLUMNS), REPO.full_name.as_("repository"),
                     _latest_risk().as_("risk_score"))
             .where(PR.installation_id == arg(filters.installation_id)))
    if filters.states:
        query = query.where(PR.state == Function("ANY", arg([s.upper() for s in filters.states])))
    if filters.author is not None:
        query = query.where(Lower(PR.author_login) == arg(filters.author.lower()))
    if filters.repository_ids:
        query = query.where(PR.repository_id == Function("ANY", arg(list(filters.repository_ids))))
    if filters.team_id is not None:
        members = (PostgreSQLQuery.from_(TEAM_MEMBERS).select(TEAM_MEMBERS.user_id)
                   .where(TEAM_MEMBERS.team_id == arg(filters.team_id))
                   .where(TEAM_MEMBERS.installation_id == arg(filters.installation_id)))
        query = query.where(PR.author_id.isin(members))
    if filters.risk is not None:
        low, high = RISK_BANDS[filters.risk]
        query = query.where(BetweenCriterion(_latest_risk(), arg(low), arg(high)))
    for label in filters.labels:
        query = query.where(arg(label) == Function("ANY", PR.labels))
    if filters.created_from is not None:
        query = query.where(PR.github_created_at >= arg(filters.created_from))
    if filters.created_to is not None:
        query = query.where(PR.github_created_at < arg(filters.created_to))
    if filters.after is not None:
        created, row_id = filters.after
        query = query.where(Tuple(PR.github_created_at, PR.id) < Tuple(arg(created), arg(row_id)))
    query = (query.orderby(PR.github_created_at, order=Order.desc).orderby(PR.id, order=Order.desc)
             .limit(limit + 1))
    return query.get_sql(), arg.values


async def fetch_page(db: asyncpg.Connection | asyncpg.Pool, filters: PullRequestFilters,
                     limit: int) -> list[dict[str, Any]]:
    """One page as dicts: `limit` + 1 rows at most (see list_sql)."""
    sql, args = list_sql(filters, limit)
    return [dict(r) for r in await db.fetch(sql, *args)]


def sorted_sql(filters: PullRequestFilters, sort: str, order: str, *, limit: int, offset: int,
               window: int) -> tuple[str, list[Any]]:
    """The list (same filters, same tenancy) with size, age and cycle time, in `sort` order.
    Any sort but "opened" ranks the newest `window` matching rows (keyset paging only follows
    the creation order)."""
    window = limit if sort == "opened" else window
    arg = _Args()
    inner, _ = list_sql(filters, window, arg)
    direction = "ASC" if order == "asc" else "DESC"
    sql = f"""
SELECT x.*, coalesce(x.additions, 0) + coalesce(x.deletions, 0) AS size,
       (extract(epoch FROM coalesce(x.merged_at, x.closed_at, now()) - x.github_created_at) / 3600.0)::float8
           AS age_hours,
       c.cycle_time AS cycle_time_hours
FROM ({inner}) x LEFT JOIN pull_request_cycle c ON c.pull_request_id = x.id
ORDER BY {SORTS[sort]} {direction} NULLS LAST, x.id {direction}
LIMIT {arg(limit + 1)} OFFSET {arg(offset)}"""  # noqa: S608 - constant SQL, values are $n
    return sql, arg.values


async def fetch_sorted(db: asyncpg.Connection | asyncpg.Pool, filters: PullRequestFilters, sort: str,
                       order: str, *, limit: int, offset: int, window: int) -> list[dict[str, Any]]:
    """One sorted page as dicts: `limit` + 1 rows at most (see sorted_sql)."""
    sql, args = sorted_sql(filters, sort, order, limit=limit, offset=offset, window=window)
    return [dict(r) for r in await db.fetch(sql, *args)]
