"""Sprint velocity over `sprint_facts`, and one milestone's burndown."""

# SQL here is assembled from this module's own constant fragments (bot tests, column lists,
# table names); every value is a named parameter (store/sql.bind).
# ruff: noqa: S608

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from devmetrics_app.store.sql import bind

from .. import facts
from ..calc.burndown import burndown as burndown_figure
from ..calc.velocity import confidence, trend, weighted_velocity
from ..explain import Figure, Item
from .paging import build_figure
from .scope import TEAM_NOT_APPLIED, Scope, resolve

VELOCITY_SPRINTS_SHOWN = 50


SPRINT_WHERE = "s.installation_id = :installation AND s.repository_id = ANY(:repositories::bigint[])"
VELOCITY_SQL = f"""
SELECT count(*) AS n, coalesce(sum(points), 0) AS total,
       coalesce(sum(bot_issues), 0) AS bot_issues, coalesce(sum(not_planned_issues), 0) AS not_planned,
       coalesce(sum(open_issues), 0) AS open_issues,
       (SELECT count(*) FROM sprint_facts s WHERE {SPRINT_WHERE} AND s.state <> 'CLOSED'
          AND s.starts_at < :end AND s.ends_at >= :start) AS open_sprints
FROM sprint_facts s WHERE {SPRINT_WHERE} AND s.state = 'CLOSED' AND s.ends_at >= :start AND s.ends_at < :end
"""
# Up to :shown most recent closed sprints of each repository, with the repository's totals: sprints
# of different repositories (teams) are never pooled into one series.
SPRINTS_SQL = f"""
SELECT x.milestone_id, x.title, x.points, x.ends_at, x.completed_issues, x.repository_id, x.full_name,
       x.repo_n, x.repo_total
FROM (SELECT s.milestone_id, s.title, s.points, s.ends_at, s.completed_issues, s.repository_id, r.full_name,
             row_number() OVER w AS k, count(*) OVER p AS repo_n, sum(s.points) OVER p AS repo_total
      FROM sprint_facts s JOIN repositories r ON r.id = s.repository_id
      WHERE {SPRINT_WHERE} AND s.state = 'CLOSED' AND s.ends_at >= :start AND s.ends_at < :end
      WINDOW w AS (PARTITION BY s.repository_id ORDER BY s.ends_at DESC, s.milestone_id DESC),
             p AS (PARTITION BY s.repository_id)) x
WHERE x.k <= :shown
ORDER BY x.ends_at DESC, x.milestone_id DESC
"""


@dataclass(frozen=True)
class RepositoryVelocity:
    """One repository's velocity over its own sprints (`value`: weighted, recent sprints weighing
    more; `older_average`: the sprints before the latest; `sprints`: how many closed ones)."""

    repository_id: int
    repository: str
    value: float | None
    average: float
    older_average: float | None
    trend: str | None
    change: float | None
    confidence: float
    sprints: int


@dataclass(frozen=True)
class SprintPoints:
    """A closed sprint (milestone) shown in the velocity series, with the points it completed."""

    id: int
    title: str
    points: float
    repository_id: int
    repository: str


@dataclass(frozen=True)
class BurndownMilestone:
    """The milestone a burndown is drawn for."""

    id: int
    title: str
    state: str
    starts_at: datetime
    ends_at: datetime


def _repository_velocities(rows: Sequence[asyncpg.Record]) -> list[RepositoryVelocity]:
    """Each repository's velocity over its own sprints (rows newest first, as SPRINTS_SQL)."""
    by_repo: dict[int, list[asyncpg.Record]] = {}
    for row in rows:
        by_repo.setdefault(row["repository_id"], []).append(row)
    out = []
    for repository_id, sprints in by_repo.items():
        velocities = [s["points"] for s in sprints]
        n, total = sprints[0]["repo_n"], sprints[0]["repo_total"]
        current = weighted_velocity(velocities)
        older = (total - velocities[0]) / (n - 1) if n > 1 else None
        direction, change = trend(current, older)
        out.append(RepositoryVelocity(
            repository_id, sprints[0]["full_name"], current, total / n, older, direction, change,
            confidence(velocities), n))
    return sorted(out, key=lambda v: (v.repository.lower(), v.repository_id))


async def velocity(conn: asyncpg.Connection, scope: Scope, *, explain: bool = False) -> Figure:
    """Weighted velocity over the closed sprints (milestones) that ended in the period.

    Sprints belong to a repository (its team's cadence): each repository's velocity is computed
    over its own sprints (`by_repository`), and the scope's is their sum -- the points the
    organisation completes per sprint. Its older average is the sum of the repositories' older
    averages, a repository with a single sprint counting its current velocity on both sides (no
    history, no trend of its own); its confidence is the mean of theirs."""
    r = await resolve(conn, scope)
    params = {"installation": scope.installation_id, "start": scope.period.start, "end": scope.period.end,
              "repositories": r.repository_ids, "shown": VELOCITY_SPRINTS_SHOWN}
    agg = await conn.fetchrow(*bind(VELOCITY_SQL, params))
    rows = await conn.fetch(*bind(SPRINTS_SQL, params))
    shown = rows[:VELOCITY_SPRINTS_SHOWN]
    n = agg["n"]
    repos = _repository_velocities(rows)
    current = math.fsum(v.value for v in repos if v.value is not None) if repos else None
    with_history = [v for v in repos if v.older_average is not None]
    older = (math.fsum(v.older_average if v.older_average is not None else v.value or 0.0 for v in repos)
             if with_history else None)
    direction, change = trend(current, older)
    items = [
        Item(
            "sprint",
            s["milestone_id"],
            f"{s['title']} ({s['full_name']})",
            s["points"],
            {"ends_at": s["ends_at"], "completed_issues": s["completed_issues"],
             "repository_id": s["repository_id"], "repository": s["full_name"]},
        )
        for s in shown
    ]
    return build_figure(
        current,
        "points",
        n,
        [
            ("sprint still open", agg["open_sprints"]),
            # Issues of the counted sprints whose points did not count:
            ("issues opened by a bot", agg["bot_issues"]),
            ("issues closed as not planned", agg["not_planned"]),
            ("issues still open when the sprint closed", agg["open_issues"]),
        ],
        items,
        {
            "average": math.fsum(v.average for v in repos) if repos else None,
            "older_average": older,
            "trend": direction,
            "change": change,
            "confidence": math.fsum(v.confidence for v in repos) / len(repos) if repos else 0.0,
            "by_repository": repos,
            "sprints": [SprintPoints(s["milestone_id"], s["title"], s["points"], s["repository_id"],
                                     s["full_name"]) for s in shown],
            "sprints_total": n,
            **({"team_filter": TEAM_NOT_APPLIED} if scope.narrowed_to_people else {}),
        },
    )


MILESTONE_SCOPE_SQL = """
SELECT m.id FROM milestones m JOIN repositories r ON r.id = m.repository_id
WHERE m.id = :milestone AND m.installation_id = :installation AND r.installation_id = :installation
  AND m.repository_id = ANY(:repositories::bigint[])
  AND m.deleted_at IS NULL
"""


async def burndown(
    conn: asyncpg.Connection, scope: Scope, milestone_id: int, *, now: datetime | None = None
) -> Figure | None:
    """Burndown of one milestone (its few issues, raw); None when not in the scope. Details: the
    calculator's (initial_scope, scope_change, planned_at, days) and the `milestone`; it is
    always served explained (its issues are few and the page lists them)."""
    r = await resolve(conn, scope)
    params = {"milestone": milestone_id, "installation": scope.installation_id,
              "repositories": r.repository_ids}
    if await conn.fetchval(*bind(MILESTONE_SCOPE_SQL, params)) is None:
        return None
    loaded = await facts.load_sprints(conn, [milestone_id])
    if not loaded:
        return None
    sprint, _ = loaded[0]
    figure = burndown_figure(sprint, settings=r.settings, now=now or datetime.now(UTC))
    milestone = BurndownMilestone(sprint.id, sprint.title, sprint.state, sprint.starts_at, sprint.ends_at)
    return dataclasses.replace(figure, details={**figure.details, "milestone": milestone})
