"""Trend series per day, week or month from the rollups."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a named parameter (store/sql.named).
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import asyncpg

from devmetrics_app.store.sql import named

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


@dataclass(frozen=True)
class TrendPoint:
    """One bucket of a series: the day, week or month starting on `start`, and its value (None
    when nothing was measured, for a rate or an average)."""

    start: date
    value: float | None


@dataclass(frozen=True)
class TrendsReport:
    metric: str
    interval: str
    series: list[TrendPoint]


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


async def trends(conn: asyncpg.Connection, scope: Scope, *, metric: str, interval: str) -> TrendsReport:
    """A series per day/week/month from the daily rollups (days overlapping the period)."""
    if interval not in TREND_INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(TREND_INTERVALS)}")
    team = scope.team_id is not None
    allowed = TEAM_TREND_METRICS if team else TREND_METRICS
    if metric not in allowed:
        raise ValueError(f"metric must be one of {', '.join(allowed)}")
    r = await resolve(conn, scope)
    if team:
        table, extra = "team_metrics", " AND s.team_id = :team"
    else:
        table, extra = stats_source(r)
    expression = _trend_expression(metric, team)
    sql, args = named(
        f"""SELECT date_trunc(:interval, s.day::timestamp)::date AS bucket, {expression} AS value
            FROM {table} s WHERE s.installation_id = :installation AND s.day >= :start
              AND s.day <= :end{extra}
            GROUP BY 1 ORDER BY 1""",
        installation=scope.installation_id, start=scope.period.start.date(),
        end=(scope.period.end - _EPSILON).date(), interval=interval, team=scope.team_id,
        repositories=r.repository_ids,
    )
    rows = await conn.fetch(sql, *args)
    return TrendsReport(metric, interval, [TrendPoint(row["bucket"], row["value"]) for row in rows])
