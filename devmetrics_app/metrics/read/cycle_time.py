"""PR cycle time and its stages over `pull_request_cycle`."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a named parameter (store/sql.named).
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from devmetrics_app.store.sql import bind

from .. import facts
from ..calc.cycle_time import STAGES, UNIT_HOURS
from ..explain import Figure, Item, explain_only
from ..materialize import histograms
from .paging import EXPLAIN_LIMIT, build_figure, cursor_offset, next_cursor_for
from .percentiles import (
    StaleHistograms,
    exact_percentiles,
    load_histograms,
    percentile_or_none,
    use_fast_path,
)
from .scope import Resolved, Scope, resolve

STAGE_COLUMNS = {
    "coding": "coding",
    "pickup": "pickup",
    "review": "review",
    "merge": "merge",
    "deploy": "deploy",
    "time_to_first_review": "pickup",
    "time_to_approval": "time_to_approval",
}


CYCLE_BOT = facts.bot_sql("f.author_login", "f.author_is_bot", "exclude_bots", "bot_patterns")
CYCLE_WHERE = """
f.installation_id = :installation AND f.merged_at >= :start AND f.merged_at < :end
AND f.repository_id = ANY(:repositories::bigint[])
AND (:members::bigint[] IS NULL OR f.author_id = ANY(:members::bigint[]))
"""
_STAGE_AGGREGATES = ",\n".join(
    f"count({c}) FILTER (WHERE NOT bot) AS {c}_n, avg({c}) FILTER (WHERE NOT bot) AS {c}_avg, "
    f"percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY {c}) FILTER (WHERE NOT bot) AS {c}_pct"
    for c in ("cycle_time", "coding", "pickup", "review", "merge", "deploy", "time_to_approval")
)
CYCLE_SQL = f"""
SELECT count(*) FILTER (WHERE NOT bot) AS merged, count(*) FILTER (WHERE bot) AS bots,
       count(*) FILTER (WHERE NOT bot AND unreviewed) AS unreviewed,
       count(*) FILTER (WHERE NOT bot AND NOT unreviewed AND time_to_approval IS NULL) AS unapproved,
       {_STAGE_AGGREGATES}
FROM (SELECT f.*, {CYCLE_BOT} AS bot FROM pull_request_cycle f WHERE {CYCLE_WHERE}
      OFFSET 0) x  -- OFFSET 0 keeps the subquery: the bot test runs once per row, not per FILTER
"""
CYCLE_ITEMS_SQL = f"""
SELECT f.pull_request_id, f.number, f.repository_id, f.title, f.cycle_time, f.coding, f.pickup,
       f.review, f.merge, f.deploy, f.time_to_approval, f.unreviewed, f.merged_at
FROM pull_request_cycle f WHERE {CYCLE_WHERE} AND NOT {CYCLE_BOT}
ORDER BY f.installation_id, f.cycle_time DESC, f.pull_request_id LIMIT :limit OFFSET :offset
"""
CYCLE_BOT_ITEMS_SQL = f"""
SELECT f.pull_request_id, f.number, f.title FROM pull_request_cycle f
WHERE {CYCLE_WHERE} AND {CYCLE_BOT} ORDER BY f.merged_at DESC, f.pull_request_id LIMIT :limit
"""
UNREVIEWED_ITEMS_SQL = f"""
SELECT f.pull_request_id, f.number, f.title, f.repository_id, f.merged_at FROM pull_request_cycle f
WHERE {CYCLE_WHERE} AND f.unreviewed AND NOT {CYCLE_BOT}
ORDER BY f.merged_at DESC, f.pull_request_id LIMIT :limit
"""


@dataclass(frozen=True)
class CycleTimeReport:
    """Cycle time, each stage (keyed as in `STAGE_COLUMNS`) and the merged-unreviewed count;
    with explain, the number of PRs behind them and the cursor to the next page of items."""

    cycle_time: Figure
    stages: dict[str, Figure]
    unreviewed: Figure
    items_total: int | None = explain_only()
    next_cursor: str | None = explain_only()


async def _cycle_row(conn: asyncpg.Connection, r: Resolved) -> dict | None:
    """CYCLE_SQL's row from the histograms (exact medians); None when they cannot answer."""
    series = (*histograms.CYCLE_STAGE_SERIES, *histograms.CYCLE_SCALAR_SERIES)
    try:
        hists, excluded = await load_histograms(conn, r, series)
        pct = await exact_percentiles(
            conn, r, hists, excluded, [(c, (0.5, 0.95)) for c in histograms.CYCLE_STAGE_SERIES]
        )
    except StaleHistograms:
        return None
    row: dict[str, Any] = {
        "merged": hists["cycle_time"].n,
        "bots": hists["cycle:bots"].n,
        "unreviewed": hists["cycle:unreviewed"].n,
        "unapproved": hists["cycle:unapproved"].n,
    }
    for c in histograms.CYCLE_STAGE_SERIES:
        h = hists[c]
        row[f"{c}_n"] = h.n
        row[f"{c}_avg"] = h.total / h.n if h.n else None
        row[f"{c}_pct"] = pct[c]
    return row


async def cycle_time(
    conn: asyncpg.Connection, scope: Scope, *, explain: bool = False, cursor: str | None = None
) -> CycleTimeReport:
    """PR cycle time and stages over PRs merged in the period (value = median, hours)."""
    r = await resolve(conn, scope)
    offset = cursor_offset(cursor)
    params = r.params(limit=EXPLAIN_LIMIT, offset=offset)
    row = await _cycle_row(conn, r) if use_fast_path(r) else None
    if row is None:
        row = await conn.fetchrow(*bind(CYCLE_SQL, params))
    bot_reason = [("authored by a bot", row["bots"])]
    items_by_stage: dict[str, list[Item]] = {}
    bot_items: dict[str, list[Item]] = {}
    unreviewed_items: list[Item] = []
    if explain:
        rows = await conn.fetch(*bind(CYCLE_ITEMS_SQL, params))
        for stage, column in (("cycle_time", "cycle_time"), *STAGE_COLUMNS.items()):
            items_by_stage[stage] = [
                Item(
                    "pull_request",
                    p["pull_request_id"],
                    f"#{p['number']}",
                    p[column],
                    {"repository_id": p["repository_id"], "title": p["title"], "merged_at": p["merged_at"]},
                )
                for p in rows
            ]
        bot_items["authored by a bot"] = [
            Item("pull_request", p["pull_request_id"], f"#{p['number']} {p['title']}")
            for p in await conn.fetch(*bind(CYCLE_BOT_ITEMS_SQL, params))
        ]
        unreviewed_items = [
            Item("pull_request", p["pull_request_id"], f"#{p['number']} {p['title']}", None,
                 {"repository_id": p["repository_id"], "merged_at": p["merged_at"]})
            for p in await conn.fetch(*bind(UNREVIEWED_ITEMS_SQL, params))
        ]

    def figure(column: str, stage: str | None) -> Figure:
        pct = row[f"{column}_pct"]
        n = row[f"{column}_n"]
        missing: list[tuple[str, int]] = []
        if stage == "coding":
            missing = [("first commit unknown", row["merged"] - n)]
        elif stage == "deploy":
            missing = [("no production deployment contains the merge commit", row["merged"] - n)]
        elif stage in {"pickup", "time_to_first_review"}:
            missing = [("unreviewed", row["unreviewed"])]
        elif stage is not None:
            missing = [
                ("unreviewed", row["unreviewed"]),
                ("merged without approval", row["merged"] - n - row["unreviewed"]),
            ]
        median = percentile_or_none(pct, 0)
        return build_figure(
            median,
            UNIT_HOURS,
            n,
            bot_reason + missing,
            items_by_stage.get(stage or "cycle_time"),
            {"average": row[f"{column}_avg"], "median": median, "p95": percentile_or_none(pct, 1)},
            bot_items,
        )

    merged = row["merged"]
    return CycleTimeReport(
        cycle_time=figure("cycle_time", None),
        stages={stage: figure(column, stage) for stage, column in STAGE_COLUMNS.items() if stage in STAGES},
        unreviewed=build_figure(
            float(row["unreviewed"]),
            "pull requests",
            merged,
            bot_reason,
            unreviewed_items,
            {"percent": row["unreviewed"] / merged * 100.0 if merged else None},
            bot_items,
        ),
        items_total=merged if explain else None,
        next_cursor=next_cursor_for(offset, merged) if explain else None,
    )
