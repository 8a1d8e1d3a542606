"""Burndown of a milestone: remaining points per day against the ideal line.

The sprint starts at the milestone's start (`starts_at`: GitHub milestones have no start date,
so their creation). A milestone is usually created empty and planned a little later: when it
holds no issue at its start, the sprint starts on the day of its first issue instead, and the
planned scope is what it holds at the end of that day (the figures are daily).

Days are the calendar days (in `tz`) from that start date to the end date, inclusive; each
day's figures are taken at the end of that day (or at `now` for today). For day i of N:

- initial = Σ points of the issues the milestone holds at the start (as above);
- scope(i) = Σ points of the milestone's issues created by then (ones created after the start
  join the scope the day they appear -- the milestone's own history of added/removed issues is
  not recorded, so current membership is assumed throughout);
- scope_change(i) = scope(i) - initial: what was added after planning;
- completed(i) = Σ points of those issues closed as completed by then;
- remaining(i) = scope(i) - completed(i);
- ideal(i) = initial * (1 - i / (N - 1)) (a straight line from the planned scope to 0 on the
  last day; a one-day sprint's ideal is 0).

Days after `now` have remaining None (not yet happened). Points come from
`velocity.story_points`. Only the current close state is known: an issue closed and reopened
counts as open. Issues opened by bots and issues closed as not planned are excluded.
The figure's value is the remaining points on the last day that has happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from ..explain import ExclusionLog, Figure, Item
from ..settings import MetricsSettings
from .bots import bot_rule
from .velocity import Sprint, story_points

UNIT_POINTS = "points"


@dataclass(frozen=True)
class BurndownDay:
    day: date
    scope: float
    scope_change: float
    completed: float
    remaining: float | None
    ideal: float


def burndown(sprint: Sprint, *, settings: MetricsSettings, now: datetime, tz: tzinfo = UTC) -> Figure:
    """Per-day scope, completed, remaining and ideal points; value = remaining as of `now`."""
    log = ExclusionLog()
    counted: list[tuple[datetime, datetime | None, float]] = []
    items: list[Item] = []
    for issue in sprint.issues:
        estimate = story_points(issue.labels, settings)
        item = issue.item(estimate.points)
        rule = bot_rule(issue.author_login, is_bot=issue.author_is_bot, settings=settings)
        if rule:
            log.add("opened by a bot", item)
            continue
        if issue.state.upper() == "CLOSED" and not issue.completed:
            log.add("closed as not planned", item)
            continue
        closed = issue.closed_at if issue.state.upper() == "CLOSED" else None
        counted.append((issue.created_at, closed, estimate.points))
        items.append(item)

    first, start_moment = _planned_start(sprint, [created for created, _, _ in counted], tz)
    last = max(sprint.ends_at.astimezone(tz).date(), first)
    count = (last - first).days + 1
    initial = sum(p for created, _, p in counted if created <= start_moment)
    days: list[BurndownDay] = []
    value: float | None = None
    for i in range(count):
        day = first + timedelta(days=i)
        moment = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)  # end of the day
        happened = datetime.combine(day, time.min, tzinfo=tz) <= now
        at = min(moment, now) if happened else moment
        scope = sum(p for created, _, p in counted if created < at or created <= start_moment)
        completed = sum(p for created, closed, p in counted
                        if closed is not None and closed < at and (created < at or created <= start_moment))
        ideal = initial * (1 - i / (count - 1)) if count > 1 else 0.0
        remaining = scope - completed if happened else None
        if remaining is not None:
            value = remaining
        days.append(BurndownDay(day, scope, scope - initial, completed, remaining, ideal))
    return Figure(value, UNIT_POINTS, len(items), log.exclusions(), items,
                  {"initial_scope": initial, "scope_change": days[-1].scope_change if days else 0.0,
                   "planned_at": start_moment, "days": days})


def _planned_start(sprint: Sprint, created: list[datetime], tz: tzinfo) -> tuple[date, datetime]:
    """(first day, moment the planned scope is taken): the milestone's start if it held an
    issue then, else the end of its first issue's day (never after the sprint's end)."""
    if not created or min(created) <= sprint.starts_at:
        return sprint.starts_at.astimezone(tz).date(), sprint.starts_at
    day = min(min(created).astimezone(tz).date(), sprint.ends_at.astimezone(tz).date())
    return day, datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz) - timedelta(microseconds=1)
