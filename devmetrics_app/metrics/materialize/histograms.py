"""`metric_histograms` (sql/004): cumulative per-bucket counts of each cycle-time stage and of
the lead time per (installation, day), rebuilt from the first changed day on (a cumulative row
carries every earlier day, so a change on day D rewrites the rows of D and later ones);
`recompute_installation` rebuilds them fully. They only locate the rank of a median: the service
reads the exact value from the facts (see `read.percentiles.exact_percentiles`)."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a named parameter (store/sql.bind) or, in short fixed queries, $n.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import asyncpg

from devmetrics_app.store.sql import bind

from .. import facts
from ..settings import MetricsSettings
from .days import day_start

CYCLE_STAGE_SERIES = ("cycle_time", "coding", "pickup", "review", "merge", "deploy", "time_to_approval")
CYCLE_SCALAR_SERIES = ("cycle:bots", "cycle:unreviewed", "cycle:unapproved")
LEAD_SERIES = "lead_time"
LEAD_SCALAR_SERIES = ("lead:bots", "lead:unknown", "lead:skew", "lead:released_committed")
HISTOGRAM_SERIES = CYCLE_STAGE_SERIES + CYCLE_SCALAR_SERIES + (LEAD_SERIES,) + LEAD_SCALAR_SERIES
HISTOGRAM_LOCK = 0x64686973  # "dhis" + installation id: one rebuild of an installation at a time

# (series, day, bucket, n, total) of the facts with key time in [:start, :end) (NULL: unbounded)
# of the repositories :repositories (NULL: all): the build input, and what a disconnected
# repository adds (read.percentiles).
_HIST_BOT_CYCLE = facts.bot_sql("f.author_login", "f.author_is_bot", "exclude_bots", "bot_patterns")
_HIST_BOT_LEAD = facts.bot_sql("c.author_login", "c.author_is_bot", "exclude_bots", "bot_patterns")
_STAGE_VALUES = ", ".join(f"('{c}', f.{c})" for c in CYCLE_STAGE_SERIES)
HISTOGRAM_DELTAS_SQL = f"""
WITH cyc AS (
    SELECT f.*, (f.merged_at AT TIME ZONE 'UTC')::date AS day, {_HIST_BOT_CYCLE} AS bot
    FROM pull_request_cycle f
    WHERE f.installation_id = :installation AND (:start::timestamptz IS NULL OR f.merged_at >= :start)
      AND (:end::timestamptz IS NULL OR f.merged_at < :end)
      AND (:repositories::bigint[] IS NULL OR f.repository_id = ANY(:repositories::bigint[]))
),
lead AS (
    SELECT c.*, (c.released_at AT TIME ZONE 'UTC')::date AS day, {_HIST_BOT_LEAD} AS bot
    FROM release_commits c
    WHERE c.installation_id = :installation AND (:start::timestamptz IS NULL OR c.released_at >= :start)
      AND (:end::timestamptz IS NULL OR c.released_at < :end)
      AND (:repositories::bigint[] IS NULL OR c.repository_id = ANY(:repositories::bigint[]))
)
SELECT s.series, f.day, metrics_bucket(s.v)::integer AS bucket, count(*) AS n, sum(s.v) AS total
FROM cyc f CROSS JOIN LATERAL (VALUES {_STAGE_VALUES}) AS s (series, v)
WHERE NOT f.bot AND s.v IS NOT NULL
GROUP BY 1, 2, 3
UNION ALL
SELECT s.series, f.day, NULL, sum(s.n)::bigint, 0::float8
FROM (SELECT day, count(*) FILTER (WHERE bot) AS bots,
             count(*) FILTER (WHERE NOT bot AND unreviewed) AS unreviewed,
             count(*) FILTER (WHERE NOT bot AND NOT unreviewed AND time_to_approval IS NULL) AS unapproved
      FROM cyc GROUP BY day) f
CROSS JOIN LATERAL (VALUES ('cycle:bots', f.bots), ('cycle:unreviewed', f.unreviewed),
                           ('cycle:unapproved', f.unapproved)) AS s (series, n)
WHERE s.n > 0
GROUP BY 1, 2
UNION ALL
SELECT 'lead_time', c.day, metrics_bucket(c.lead_hours), count(*), sum(c.lead_hours)
FROM lead c WHERE NOT c.bot AND c.lead_hours >= 0
GROUP BY 2, 3
UNION ALL
SELECT s.series, c.day, NULL, sum(s.n)::bigint, 0::float8
FROM (SELECT day, count(*) FILTER (WHERE bot) AS bots,
             count(*) FILTER (WHERE NOT bot AND committed_at IS NULL) AS unknown,
             count(*) FILTER (WHERE NOT bot AND lead_hours < 0) AS skew
      FROM lead GROUP BY day) c
CROSS JOIN LATERAL (VALUES ('lead:bots', c.bots), ('lead:unknown', c.unknown),
                           ('lead:skew', c.skew)) AS s (series, n)
WHERE s.n > 0
GROUP BY 1, 2
UNION ALL
SELECT 'lead:released_committed', (c.committed_at AT TIME ZONE 'UTC')::date, NULL, count(*), 0::float8
FROM release_commits c
WHERE c.installation_id = :installation AND c.committed_at IS NOT NULL
  AND (:start::timestamptz IS NULL OR c.committed_at >= :start)
  AND (:end::timestamptz IS NULL OR c.committed_at < :end)
  AND (:repositories::bigint[] IS NULL OR c.repository_id = ANY(:repositories::bigint[]))
GROUP BY 2
"""
HISTOGRAM_BASE_SQL = """
SELECT s.series, h.n, h.total, h.buckets FROM unnest($2::text[]) AS s (series)
JOIN LATERAL (SELECT n, total, buckets FROM metric_histograms h
              WHERE h.installation_id = $1 AND h.series = s.series AND h.day < $3
              ORDER BY h.day DESC LIMIT 1) h ON true
"""


def accumulate(
    deltas: Iterable[tuple[str, date, int | None, int, float]],
    base: dict[str, tuple[int, float, list[int]]],
) -> list[tuple[str, date, int, float, list[int]]]:
    """Cumulative rows (series, day, n, total, per-bucket counts) from daily deltas on a base."""
    by_series: dict[str, dict[date, list[tuple[int | None, int, float]]]] = {}
    for series, day, bucket, n, total in deltas:
        by_series.setdefault(series, {}).setdefault(day, []).append((bucket, int(n), float(total or 0.0)))
    out = []
    for series in sorted(by_series):
        n, total, buckets = base.get(series, (0, 0.0, []))
        buckets = list(buckets)
        for day in sorted(by_series[series]):
            for bucket, count, subtotal in by_series[series][day]:
                n += count
                total += subtotal
                if bucket is not None:
                    if bucket >= len(buckets):
                        buckets.extend([0] * (bucket + 1 - len(buckets)))
                    buckets[bucket] += count
            out.append((series, day, n, total, list(buckets)))
    return out


async def refresh_histograms(
    conn: asyncpg.Connection, installation_id: int, since: date | None, settings: MetricsSettings
) -> int:
    """Rebuild the installation's cumulative histograms from `since` on (None: fully); a build
    with other bot settings, or none, is rebuilt fully. Returns whether it rebuilt fully."""
    key = facts.settings_key(settings)
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", HISTOGRAM_LOCK, installation_id & 0x7FFFFFFF)
    built = await conn.fetchval(
        "SELECT settings_key FROM metric_histogram_builds WHERE installation_id = $1", installation_id
    )
    if built != key:
        since = None
    base: dict[str, tuple[int, float, list[int]]] = {}
    if since is None:
        await conn.execute("DELETE FROM metric_histograms WHERE installation_id = $1", installation_id)
    else:
        await conn.execute(
            "DELETE FROM metric_histograms WHERE installation_id = $1 AND day >= $2", installation_id, since
        )
        for row in await conn.fetch(HISTOGRAM_BASE_SQL, installation_id, list(HISTOGRAM_SERIES), since):
            base[row["series"]] = (row["n"], row["total"], list(row["buckets"]))
    exclude_bots, bot_patterns = facts.bot_params(settings)
    params = {"installation": installation_id, "start": day_start(since) if since is not None else None,
              "end": None, "repositories": None, "exclude_bots": exclude_bots, "bot_patterns": bot_patterns}
    deltas = await conn.fetch(*bind(HISTOGRAM_DELTAS_SQL, params))
    rows = accumulate(((d["series"], d["day"], d["bucket"], d["n"], d["total"]) for d in deltas), base)
    await conn.copy_records_to_table(
        "metric_histograms",
        records=[(installation_id, s, day, n, total, buckets, key) for s, day, n, total, buckets in rows],
        columns=["installation_id", "series", "day", "n", "total", "buckets", "settings_key"],
    )
    await conn.execute(
        """INSERT INTO metric_histogram_builds (installation_id, settings_key) VALUES ($1, $2)
           ON CONFLICT (installation_id) DO UPDATE SET settings_key = EXCLUDED.settings_key,
               built_at = now()""",
        installation_id,
        key,
    )
    return since is None
