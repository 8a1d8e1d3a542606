"""What the repository list shows beside each name: its figures for the period (from the daily
rollups, `repository_stats`, the same source as a repository page's totals) and the state of its
history import, so an import that has been failing for hours is visible at a glance.

An import is "failed" when an unfinished kind recorded an error, as `GET /api/repositories/:id`
says (importer/runner.progress_for); here the states of every repository come from one query,
and an unfinished import that has made no progress for `STALLED_AFTER` is called stalled.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from devmetrics_app.metrics.explain import Period
from devmetrics_app.store import repository_status as stored
from devmetrics_app.timeutil import utcnow

STALLED_AFTER = timedelta(hours=1)


def _figures(row: asyncpg.Record | None) -> dict[str, Any]:
    if row is None:
        return {"prs_merged": 0, "commits": 0, "deployments": 0, "failed_deployments": 0,
                "build_success": None, "workflow_runs": 0, "average_cycle_time": None}
    runs, count = row["workflow_runs"], row["cycle_time_count"]
    return {"prs_merged": row["prs_merged"], "commits": row["commits"], "deployments": row["deployments"],
            "failed_deployments": row["failed_deployments"], "workflow_runs": runs,
            "build_success": row["workflow_successes"] * 100.0 / runs if runs else None,
            "average_cycle_time": row["cycle_time_hours_sum"] / count if count else None}


NOT_STARTED = {"state": "not started"}


def import_state(row: asyncpg.Record, now: datetime) -> dict[str, Any]:
    state = "done" if row["done"] else ("failed" if row["errors"] else "running")
    if state == "running" and now - row["updated_at"] > STALLED_AFTER:
        state = "stalled"
    return {"state": state, "imported": row["items"], "kinds_done": row["kinds_done"],
            "kinds_total": row["kinds_total"], "errors": row["errors"], "updated_at": row["updated_at"]}


async def history(conn: asyncpg.Connection, installation_id: int,
                  repository_id: int | None = None) -> dict[int, dict[str, Any]]:
    """Import states by repository id (every repository of the installation, or one)."""
    now = utcnow()
    return {r["repository_id"]: import_state(r, now)
            for r in await stored.import_summaries(conn, installation_id, repository_id)}


async def annotate(conn: asyncpg.Connection, installation_id: int, period: Period,
                   repositories: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The repositories, each with `figures` for the period and `history` (its import)."""
    figures = {r["repository_id"]: r for r in await stored.period_totals(
        conn, installation_id, period.start.date(), period.end.date())}
    imports = await history(conn, installation_id)
    return [{**repo, "figures": _figures(figures.get(repo["id"])),
             "history": imports.get(repo["id"], NOT_STARTED)} for repo in repositories]
