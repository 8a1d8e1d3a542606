"""Sprint velocity: milestones are sprints, story points come from labels.

Points of an issue (`story_points`): a numeric points label (`points: 3`, `sp/5`; the
organisation's `story_point_labels` regexes) wins over a size label (`size: L` through
`size_points`); with several labels of the same kind the largest counts (a re-estimate usually
adds a label without removing the old one, and double counting would be worse). An issue with
no points label counts `default_points`.

A sprint's completed points are the points of its issues that are closed as completed (closed
with `state_reason` other than `not_planned`). Close time is not checked against the due date:
teams move unfinished issues to the next milestone, so an issue still in the milestone was
finished for it. Issues opened by bots (a dependency dashboard) are excluded. Only closed
sprints (`state == "CLOSED"`) count; open ones are excluded.

With completed sprints v₁ (most recent) … vₙ:

- weighted current velocity = Σ wᵢ·vᵢ / Σ wᵢ over i ≤ min(n, 4), w = 0.4, 0.3, 0.2, 0.1
  (with fewer than four sprints the available weights are renormalised, so 2 sprints weigh
  0.4/0.7 and 0.3/0.7);
- average = (v₁ + … + vₙ) / n;
- older average = mean of v₂ … vₙ (every sprint before the most recent);
  change = (current - older) / older; trend "up" if change > +5 %, "down" if < -5 %, else
  "stable". With an older average of 0 the change is undefined: trend "up" when the current
  velocity is above 0, "stable" when it is 0. With fewer than two sprints there is no trend
  (None);
- confidence = min(n, 4)/4 * max(0, 1 - CV) where CV = population standard deviation / mean
  of the last min(n, 4) sprints: more history and steadier sprints give more confidence.
  A mean of 0 gives confidence 0 (nothing to forecast from).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..explain import ExclusionLog, Figure, Item
from ..settings import MetricsSettings
from .bots import bot_rule
from .stats import mean

VELOCITY_WEIGHTS: tuple[float, ...] = (0.4, 0.3, 0.2, 0.1)
TREND_THRESHOLD = 0.05
UNIT_POINTS = "points"
NOT_PLANNED = "not_planned"


@dataclass(frozen=True)
class IssueFact:
    id: int
    number: int
    repository_id: int
    title: str
    state: str  # OPEN | CLOSED
    created_at: datetime
    closed_at: datetime | None = None
    state_reason: str | None = None
    labels: tuple[str, ...] = ()
    milestone_id: int | None = None
    author_login: str | None = None
    author_is_bot: bool = False
    assignee_logins: tuple[str, ...] = ()
    assignees_are_bots: tuple[bool, ...] = ()

    @property
    def completed(self) -> bool:
        """Closed, and not as "not planned" (won't do / duplicate is not work delivered)."""
        return self.state.upper() == "CLOSED" and (self.state_reason or "").lower() != NOT_PLANNED

    def item(self, points: float | None = None) -> Item:
        return Item("issue", self.id, f"#{self.number} {self.title}", points,
                    {"repository_id": self.repository_id})


@dataclass(frozen=True)
class Sprint:
    id: int
    title: str
    state: str  # OPEN | CLOSED
    starts_at: datetime
    ends_at: datetime  # due_on, else closed_at: the caller decides
    issues: tuple[IssueFact, ...] = ()


@dataclass(frozen=True)
class IssuePoints:
    points: float
    source: str  # "points label" | "size label" | "default"
    label: str | None = None


def story_points(labels: Sequence[str], settings: MetricsSettings) -> IssuePoints:
    """Points label (largest) > size label (largest) > `default_points`."""
    numeric: list[tuple[float, str]] = []
    for label in labels:
        for pattern in settings.story_point_labels:
            match = re.match(pattern, label, re.IGNORECASE)
            if match:
                value = float(match.group(1))
                if math.isfinite(value):
                    numeric.append((value, label))
                break
    if numeric:
        value, label = max(numeric, key=lambda p: p[0])
        return IssuePoints(value, "points label", label)
    sized: list[tuple[float, str]] = []
    for label in labels:
        match = re.match(settings.size_label_pattern, label, re.IGNORECASE)
        if match:
            points = settings.size_to_points(match.group(1))
            if points is not None:
                sized.append((points, label))
    if sized:
        value, label = max(sized, key=lambda p: p[0])
        return IssuePoints(value, "size label", label)
    return IssuePoints(settings.default_points, "default")


def completed_points(sprint: Sprint, settings: MetricsSettings) -> tuple[float, list[Item], ExclusionLog]:
    """Σ points of the sprint's issues closed as completed."""
    log = ExclusionLog()
    items: list[Item] = []
    total = 0.0
    for issue in sprint.issues:
        estimate = story_points(issue.labels, settings)
        item = issue.item(estimate.points)
        rule = bot_rule(issue.author_login, is_bot=issue.author_is_bot, settings=settings)
        if rule:
            log.add("opened by a bot", Item(item.kind, item.id, item.label, item.value, {"rule": rule}))
        elif issue.state.upper() != "CLOSED":
            log.add("not closed", item)
        elif not issue.completed:
            log.add("closed as not planned", item)
        else:
            total += estimate.points
            items.append(Item(item.kind, item.id, item.label, item.value,
                              {**item.details, "points_from": estimate.source}))
    return total, items, log


def weighted_velocity(velocities: Sequence[float]) -> float | None:
    """Σ wᵢvᵢ / Σ wᵢ, most recent first, weights 0.4/0.3/0.2/0.1; None without sprints."""
    recent = list(velocities[: len(VELOCITY_WEIGHTS)])
    if not recent:
        return None
    weights = VELOCITY_WEIGHTS[: len(recent)]
    return math.fsum(w * v for w, v in zip(weights, recent, strict=True)) / math.fsum(weights)


def trend(current: float | None, older_average: float | None) -> tuple[str | None, float | None]:
    """(trend, change) with change = (current - older) / older and ±5 % for up/down."""
    if current is None or older_average is None:
        return None, None
    if older_average == 0:
        return ("up" if current > 0 else "stable"), None
    change = (current - older_average) / older_average
    if change > TREND_THRESHOLD:
        return "up", change
    if change < -TREND_THRESHOLD:
        return "down", change
    return "stable", change


def confidence(velocities: Sequence[float]) -> float:
    """min(n, 4)/4 * max(0, 1 - pstdev/mean) over the last min(n, 4) sprints; 0 for mean 0."""
    recent = list(velocities[: len(VELOCITY_WEIGHTS)])
    average = mean(recent)
    if not recent or not average:
        return 0.0
    variance = math.fsum((v - average) ** 2 for v in recent) / len(recent)
    variation = math.sqrt(variance) / average
    return len(recent) / len(VELOCITY_WEIGHTS) * max(0.0, 1.0 - variation)


def velocity(sprints: Sequence[Sprint], *, settings: MetricsSettings) -> Figure:
    """Weighted current velocity over closed sprints (ordered by `ends_at`, newest first).

    details: average, older_average, trend, change, confidence, sprints (newest first)."""
    log = ExclusionLog()
    closed: list[tuple[Sprint, float, list[Item]]] = []
    for sprint in sprints:
        sprint_item = Item("sprint", sprint.id, sprint.title)
        if sprint.state.upper() != "CLOSED":
            log.add("sprint still open", sprint_item)
            continue
        points, issue_items, _ = completed_points(sprint, settings)
        closed.append((sprint, points, issue_items))
    closed.sort(key=lambda entry: entry[0].ends_at, reverse=True)
    velocities = [points for _, points, _ in closed]
    current = weighted_velocity(velocities)
    older = mean(velocities[1:])
    direction, change = trend(current, older)
    items = [Item("sprint", s.id, s.title, points,
                 {"ends_at": s.ends_at, "issues": [i.id for i in issue_items]})
             for s, points, issue_items in closed]
    return Figure(current, UNIT_POINTS, len(closed), log.exclusions(), items, {
        "average": mean(velocities),
        "older_average": older,
        "trend": direction,
        "change": change,
        "confidence": confidence(velocities),
        "sprints": [{"id": s.id, "title": s.title, "points": p} for s, p, _ in closed],
    })
