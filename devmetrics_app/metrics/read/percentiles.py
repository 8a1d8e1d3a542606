"""Exact percentiles from the rank histograms `materialize.histograms.refresh_histograms` keeps,
with a fall back to sorting the facts when the histograms are stale or built with other bot
settings."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a parameter ($n, or :name through store/sql.named).
# ruff: noqa: S608

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from devmetrics_app.store.sql import bind, named

from .. import facts
from ..materialize import histograms
from .scope import Resolved


def percentile_or_none(values: Sequence[float] | None, index: int) -> float | None:
    return values[index] if values else None


HISTOGRAM_READ_SQL = """
SELECT s.series, coalesce(e.n, 0) AS e_n, coalesce(e.total, 0) AS e_total, coalesce(e.buckets, '{}') AS e_b,
       coalesce(b.n, 0) AS b_n, coalesce(b.total, 0) AS b_total, coalesce(b.buckets, '{}') AS b_b,
       (SELECT settings_key FROM metric_histogram_builds WHERE installation_id = $1) AS built,
       (SELECT coalesce(array_agg(id), '{}') FROM repositories
        WHERE installation_id = $1 AND NOT (connected AND removed_at IS NULL)) AS excluded
FROM unnest($2::text[]) AS s (series)
LEFT JOIN LATERAL (SELECT n, total, buckets FROM metric_histograms h
                   WHERE h.installation_id = $1 AND h.series = s.series AND h.day < $4
                   ORDER BY h.day DESC LIMIT 1) e ON true
LEFT JOIN LATERAL (SELECT n, total, buckets FROM metric_histograms h
                   WHERE h.installation_id = $1 AND h.series = s.series AND h.day < $3
                   ORDER BY h.day DESC LIMIT 1) b ON true
"""
# Where each histogram's values live: (table alias and FROM, value column, time column, bot test).
_RANK_SOURCES = {
    **{
        stage: ("pull_request_cycle f", f"f.{stage}", "f.merged_at", "f.author_login", "f.author_is_bot", "")
        for stage in histograms.CYCLE_STAGE_SERIES
    },
    histograms.LEAD_SERIES: (
        "release_commits f", "f.lead_hours", "f.released_at", "f.author_login", "f.author_is_bot",
        " AND f.lead_hours >= 0",
    ),
}


class StaleHistograms(Exception):
    """The histograms disagree with the facts (not built, other settings): sort the facts."""


@dataclass
class _Histogram:
    n: int
    total: float
    buckets: list[int]


async def load_histograms(
    conn: asyncpg.Connection, r: Resolved, series: Sequence[str]
) -> tuple[dict[str, _Histogram], list[int]]:
    """The period's histogram of each series for every repository of the scope (default scope,
    whole days); raises StaleHistograms when no build with the current settings exists."""
    period = r.scope.period
    rows = await conn.fetch(
        HISTOGRAM_READ_SQL, r.scope.installation_id, list(series), period.start.date(), period.end.date()
    )
    if not rows or rows[0]["built"] != facts.settings_key(r.settings):
        raise StaleHistograms
    excluded = list(rows[0]["excluded"])
    out = {}
    for row in rows:
        e, b = list(row["e_b"]), list(row["b_b"])
        b += [0] * (len(e) - len(b))
        out[row["series"]] = _Histogram(
            row["e_n"] - row["b_n"],
            row["e_total"] - row["b_total"],
            [x - y for x, y in zip(e, b, strict=False)],
        )
    if excluded:  # disconnected or removed repositories' facts are in the build: take them out
        exclude_bots, bot_patterns = r.bots
        params = {"installation": r.scope.installation_id, "start": period.start, "end": period.end,
                  "repositories": excluded, "exclude_bots": exclude_bots, "bot_patterns": bot_patterns}
        for d in await conn.fetch(*bind(histograms.HISTOGRAM_DELTAS_SQL, params)):
            h = out.get(d["series"])
            if h is None:
                continue
            h.n -= d["n"]
            h.total -= d["total"] or 0.0
            if d["bucket"] is not None:
                h.buckets[d["bucket"]] -= d["n"]
    return out, excluded


def _locate(buckets: Sequence[int], rank: int) -> tuple[int, int]:
    """(bucket, rank within it) of the rank-th smallest value (0-based)."""
    seen = 0
    for bucket, count in enumerate(buckets):
        if rank < seen + count:
            return bucket, rank - seen
        seen += count
    raise StaleHistograms


async def exact_percentiles(
    conn: asyncpg.Connection,
    r: Resolved,
    hists: dict[str, _Histogram],
    excluded: list[int],
    wanted: Sequence[tuple[str, Sequence[float]]],
) -> dict[str, list[float] | None]:
    """percentile_cont(fractions) of each series, exactly: the histogram locates the two ranks
    around p·(n-1), one index probe per bucket reads the order statistics from the facts."""
    period = r.scope.period
    exclude_bots, bot_patterns = r.bots
    params: dict[str, Any] = {"installation": r.scope.installation_id, "start": period.start,
                              "end": period.end, "excluded": excluded, "exclude_bots": exclude_bots,
                              "bot_patterns": bot_patterns}
    probes: list[str] = []
    # (series, position, first rank, second rank, [(probe column, limit)])
    plan: list[tuple[str, float, int, int, list[tuple[int, int]]]] = []
    for series, fractions in wanted:
        h = hists[series]
        if h.n <= 0:
            continue
        table, value, at, login, flag, extra = _RANK_SOURCES[series]
        bot = facts.bot_sql(login, flag, "exclude_bots", "bot_patterns")
        for fraction in fractions:
            position = fraction * (h.n - 1)
            first, second = math.floor(position), math.ceil(position)
            b1, k1 = _locate(h.buckets, first)
            b2, k2 = _locate(h.buckets, second)
            refs = []
            reads = [(b1, k1, second - first + 1)] if b1 == b2 else [(b1, k1, 1), (b2, k2, 1)]
            for bucket, offset, limit in reads:
                i = len(probes)
                params.update({f"bucket{i}": bucket, f"offset{i}": offset, f"limit{i}": limit})
                probes.append(
                    f"ARRAY(SELECT {value} FROM {table} WHERE f.installation_id = :installation"
                    f" AND metrics_bucket({value}) = :bucket{i}::smallint AND {value} IS NOT NULL{extra}"
                    f" AND {at} >= :start AND {at} < :end AND f.repository_id <> ALL(:excluded::bigint[])"
                    f" AND NOT {bot} ORDER BY {value} OFFSET :offset{i}::bigint LIMIT :limit{i}::bigint)"
                )
                refs.append((len(probes) - 1, limit))
            plan.append((series, position, first, second, refs))
    out: dict[str, list[float] | None] = {series: None for series, _ in wanted}
    if not probes:
        return out
    sql, args = named("SELECT " + ", ".join(probes), **params)
    row = await conn.fetchrow(sql, *args)
    for series, position, first, second, refs in plan:
        values = [v for probe, limit in refs for v in row[probe]]
        if len(values) != (second - first + 1 if len(refs) == 1 else 2):
            raise StaleHistograms
        lo, hi = values[0], values[-1]
        result = lo if first == second else lo + (hi - lo) * (position - first)
        out[series] = [*(out[series] or []), result]
    return out


def use_fast_path(r: Resolved) -> bool:
    """Histograms answer the default scope (every connected repository, no team) over whole days."""
    return r.aligned and r.all_repositories and r.member_ids is None
