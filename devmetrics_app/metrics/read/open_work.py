"""Snapshots: review load and work in progress from the open PRs' raw rows."""

from __future__ import annotations

import asyncpg

from .. import open_work
from ..explain import Figure
from .paging import EXPLAIN_LIMIT
from .scope import Resolved, Scope, resolve


def _snapshot_repositories(r: Resolved) -> list[int] | None:
    """None for every connected repository (the snapshot queries join on that themselves)."""
    return None if r.all_repositories else r.repository_ids


async def review_load(conn: asyncpg.Connection, scope: Scope, *, explain: bool = False) -> dict:
    """Open review requests per requested person now (the period does not apply: a snapshot)."""
    r = await resolve(conn, scope)
    figure, items_total = await open_work.review_load(
        conn, scope.installation_id, _snapshot_repositories(r), r.settings,
        limit=EXPLAIN_LIMIT if explain else None)
    out = _snapshot_dict(figure, items_total, explain)
    if r.member_logins is not None:
        members = set(r.member_logins)
        out["per_reviewer"] = {k: v for k, v in out["per_reviewer"].items() if k.lower() in members}
        out["value"] = float(sum(out["per_reviewer"].values()))
        out["count"] = int(out["value"])
    return out


async def work_in_progress(conn: asyncpg.Connection, scope: Scope, *, explain: bool = False) -> dict:
    """Open PRs authored plus open issues assigned, per person now (a snapshot)."""
    r = await resolve(conn, scope)
    figure, items_total = await open_work.work_in_progress(
        conn, scope.installation_id, _snapshot_repositories(r), r.settings,
        limit=EXPLAIN_LIMIT if explain else None)
    out = _snapshot_dict(figure, items_total, explain)
    if r.member_logins is not None:
        members = set(r.member_logins)
        people = {k: v for k, v in out["per_person"].items() if k.lower() in members}
        total = sum(v["total"] for v in people.values())
        out.update(
            per_person=people, total=total, count=len(people), value=total / len(people) if people else None
        )
    return out


def _snapshot_dict(figure: Figure, items_total: int, explain: bool) -> dict:
    out = figure.to_dict(explain=explain)
    if explain:
        out["items_total"] = items_total
    return out



async def load_open_work(conn: asyncpg.Connection, r: Resolved) -> open_work.OpenWork:
    """The open-work snapshot's per-person counts (same rules as the calculators)."""
    return await open_work.counts(conn, r.scope.installation_id, _snapshot_repositories(r), r.settings)
