"""Trend series per day, week or month from the rollups."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a $n parameter.
# ruff: noqa: S608

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from .scope import Scope, resolve, stats_source

TREND_INTERVALS = ("day", "week", "month")
TREND_METRICS = (
    "prs_opened",
    "prs_merged",
    "commits",
    "reviews",
    "issues_opened",
    "issues_closed",
    "deployments",
    "failed_deployments",
    "workflow_runs",
    "build_success_rate",
    "cycle_time",
)
TEAM_TREND_METRICS = ("prs_opened", "prs_merged", "commits", "reviews", "cycle_time")
_EPSILON = timedelta(microseconds=1)


def _trend_expression(metric: str, team: bool) -> str:
    if metric == "cycle_time":
        return "sum(s.cycle_time_hours_sum) / nullif(sum(s.cycle_time_count), 0)"
    if metric == "build_success_rate":
        return (
            "100.0 * sum(s.workflow_successes) / "
            "nullif(sum(s.workflow_successes) + sum(s.workflow_failures), 0)"
        )
    if team and metric == "reviews":
        return "sum(s.reviews_given)::float8"
    return f"sum(s.{metric})::float8"


async def trends(conn: asyncpg.Connection, scope: Scope, *, metric: str, interval: str) -> dict:
    """A series per day/week/month from the daily rollups (days overlapping the period)."""
    if interval not in TREND_INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(TREND_INTERVALS)}")
    team = scope.team_id is not None
    allowed = TEAM_TREND_METRICS if team else TREND_METRICS
    if metric not in allowed:
        raise ValueError(f"metric must be one of {', '.join(allowed)}")
    r = await resolve(conn, scope)
    args: list[Any] = [
        scope.installation_id,
        scope.period.start.date(),
        (scope.period.end - _EPSILON).date(),
        interval,
    ]
    if team:
        table, extra = "team_metrics", " AND s.team_id = $5"
        args.append(scope.team_id)
    else:
        table, extra = stats_source(r, 5)
        if extra:
            args.append(r.repository_ids)
    expression = _trend_expression(metric, team)
    rows = await conn.fetch(
        f"""SELECT date_trunc($4, s.day::timestamp)::date AS bucket, {expression} AS value
            FROM {table} s WHERE s.installation_id = $1 AND s.day >= $2 AND s.day <= $3{extra}
            GROUP BY 1 ORDER BY 1""",
        *args,
    )
    return {
        "metric": metric,
        "interval": interval,
        "series": [{"start": row["bucket"].isoformat(), "value": row["value"]} for row in rows],
    }
