"""Snapshots: review load and work in progress from the open PRs' raw rows."""

from __future__ import annotations

import dataclasses

import asyncpg

from .. import open_work
from ..explain import Figure
from .paging import EXPLAIN_LIMIT
from .scope import Resolved, Scope, resolve


def _snapshot_repositories(r: Resolved) -> list[int] | None:
    """None for every connected repository (the snapshot queries join on that themselves)."""
    return None if r.all_repositories else r.repository_ids


async def review_load(conn: asyncpg.Connection, scope: Scope, *, explain: bool = False) -> Figure:
    """Open review requests per requested person now (the period does not apply: a snapshot).
    Details: per_reviewer, team_requests, source; with explain, items_total."""
    r = await resolve(conn, scope)
    figure, items_total = await open_work.review_load(
        conn, scope.installation_id, _snapshot_repositories(r), r.settings,
        limit=EXPLAIN_LIMIT if explain else None)
    if r.member_logins is not None:
        members = set(r.member_logins)
        per_reviewer = {k: v for k, v in figure.details["per_reviewer"].items() if k.lower() in members}
        total = sum(per_reviewer.values())
        figure = dataclasses.replace(figure, value=float(total), count=total,
                                     details={**figure.details, "per_reviewer": per_reviewer})
    return _snapshot(figure, items_total, explain)


async def work_in_progress(conn: asyncpg.Connection, scope: Scope, *, explain: bool = False) -> Figure:
    """Open PRs authored plus open issues assigned, per person now (a snapshot). Details: total,
    per_person, source; with explain, items_total."""
    r = await resolve(conn, scope)
    figure, items_total = await open_work.work_in_progress(
        conn, scope.installation_id, _snapshot_repositories(r), r.settings,
        limit=EXPLAIN_LIMIT if explain else None)
    if r.member_logins is not None:
        members = set(r.member_logins)
        people = {k: v for k, v in figure.details["per_person"].items() if k.lower() in members}
        total = sum(v["total"] for v in people.values())
        figure = dataclasses.replace(figure, value=total / len(people) if people else None,
                                     count=len(people),
                                     details={**figure.details, "total": total, "per_person": people})
    return _snapshot(figure, items_total, explain)


def _snapshot(figure: Figure, items_total: int, explain: bool) -> Figure:
    """The figure, with the number of its items in all beside them when they are listed."""
    if not explain:
        return figure
    return dataclasses.replace(figure, details={**figure.details, "items_total": items_total})


async def load_open_work(conn: asyncpg.Connection, r: Resolved) -> open_work.OpenWork:
    """The open-work snapshot's per-person counts (same rules as the calculators)."""
    return await open_work.counts(conn, r.scope.installation_id, _snapshot_repositories(r), r.settings)
