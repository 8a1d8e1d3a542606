"""Which figures the dashboard shows, how each is computed and what it means.

One table, `FIGURES`, maps a figure key (used in explanation links: /orgs/{id}/explain/{key})
to its title, its definition in plain words and the service call that explains it, so the
overview, the explanation page and the tests cannot disagree about what "lead time" is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from devmetrics_app.metrics import service
from devmetrics_app.metrics.calc import dora
from devmetrics_app.metrics.service import Scope
from devmetrics_app.web.api.serialize import to_json

Compute = Callable[[asyncpg.Connection, Scope], Awaitable[dict[str, Any]]]  # explained, as JSON


@dataclass(frozen=True)
class FigureDef:
    title: str
    definition: str
    compute: Compute


def _pick(call: Callable[..., Awaitable[Any]], *path: str) -> Compute:
    async def compute(conn: asyncpg.Connection, scope: Scope) -> dict[str, Any]:
        result = to_json(await call(conn, scope, explain=True), explain=True)
        for key in path:
            result = result[key]
        return result
    return compute


STAGE_WORDS = {
    "coding": "from the first commit to opening the pull request",
    "pickup": "from ready for review to the first review by someone else (draft time excluded)",
    "review": "from the first review to the approval that stuck",
    "merge": "from that approval to the merge",
    "deploy": "from the merge to the first successful production deployment containing it",
    "time_to_first_review": "from opening (or ready for review) to the first review by someone else",
    "time_to_approval": "from opening (or ready for review) to the approval that stuck",
}

FIGURES: dict[str, FigureDef] = {
    "deployment_frequency": FigureDef(
        "Deployment frequency",
        "Days with at least one successful production deployment (a GitHub deployment, or a deploy "
        "workflow run where a repository has none) in the period; the benchmark uses deployment "
        "days per week.",
        _pick(service.dora, "deployment_frequency")),
    "lead_time": FigureDef(
        "Lead time for changes",
        "Median hours from a commit to the first successful production deployment containing it.",
        _pick(service.dora, "lead_time")),
    "change_failure_rate": FigureDef(
        "Change failure rate",
        "Share of production deployments followed by a failure: a failed deployment, a revert or an "
        "incident issue.",
        _pick(service.dora, "change_failure_rate")),
    "time_to_restore": FigureDef(
        "Time to restore service",
        "Median hours from an incident issue being opened to it being closed as completed.",
        _pick(service.dora, "time_to_restore")),
    "cycle_time": FigureDef(
        "PR cycle time",
        "Median hours from the first commit (or opening, if earlier) to the merge, over pull "
        "requests merged in the period. Stages do not add up to it: draft time belongs to none.",
        _pick(service.cycle_time, "cycle_time")),
    "unreviewed": FigureDef(
        "Merged without review",
        "Pull requests merged in the period with no review by anyone but their author; they "
        "count as unreviewed, never as a pickup time of zero.",
        _pick(service.cycle_time, "unreviewed")),
    **{f"stage_{name}": FigureDef(
        f"{name.replace('_', ' ').capitalize()}" + ("" if name.startswith("time_to") else " time"),
        f"Median hours {words}, over pull requests merged in the period where it is known.",
        _pick(service.cycle_time, "stages", name)) for name, words in STAGE_WORDS.items()},
    "prs_merged": FigureDef(
        "Pull requests merged",
        "Pull requests merged in the period, bots' pull requests left out.",
        _pick(service.throughput, "pull_requests_merged")),
    "issues_closed": FigureDef(
        "Issues closed",
        "Issues closed as completed in the period (not planned and bots' issues left out).",
        _pick(service.throughput, "issues_closed")),
    "build_success": FigureDef(
        "Build success",
        "Successful workflow runs among runs that concluded with a verdict (success or failure) "
        "in the period; bots' runs and cancelled or skipped runs are left out.",
        _pick(service.build_success)),
    "review_load": FigureDef(
        "Review load",
        "Open review requests to people right now (a snapshot: the period does not apply).",
        _pick(service.review_load)),
    "velocity": FigureDef(
        "Velocity",
        "Weighted average of story points completed per sprint (closed milestones ending in the "
        "period), recent sprints weighing more.",
        _pick(service.velocity)),
}

# Figures where a smaller number is the better one; for the others (deployment frequency,
# throughput, build success) up is good.
LOWER_IS_BETTER = frozenset({"lead_time", "change_failure_rate", "time_to_restore", "cycle_time"})


def change(current: float | None, previous: float | None, key: str = "") -> dict[str, Any] | None:
    """A tile's trend against the previous period of the same length, with whether the move is
    better or worse for that figure (so a falling lead time reads as good news)."""
    if current is None or previous is None:
        return None
    if previous == 0:
        direction, percent = ("up" if current > 0 else "flat"), None
    else:
        percent = (current - previous) / abs(previous) * 100.0
        direction = "flat" if abs(percent) < 1 else ("up" if percent > 0 else "down")
    verdict = None
    if direction != "flat":
        verdict = "better" if (direction == "down") == (key in LOWER_IS_BETTER) else "worse"
    return {"direction": direction, "percent": percent, "verdict": verdict}


def _hours(value: float) -> str:
    for size, unit in ((24 * 7, "week"), (24, "day"), (1, "hour")):
        if value >= size and value % size == 0 and not (unit == "week" and value > 24 * 7 * 4):
            count = int(value // size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{value / 24:g} days"


def _bands(key: str, show: Any) -> list[tuple[str, str]]:
    """A lower-is-better key's clusters in words, read off the Thresholds that place a figure
    (an inclusive bound -- the report's typical value of a cluster -- reads "or less")."""
    t = dora.DORA_THRESHOLDS[key]
    def below(v: float) -> str:
        return f"{show(v)} or less" if t.inclusive else f"under {show(v)}"
    low = f"over {show(t.medium)}" if t.inclusive else f"{show(t.medium)} or more"
    return [(dora.ELITE, below(t.elite)), (dora.HIGH, below(t.high)), (dora.MEDIUM, below(t.medium)),
            (dora.LOW, low)]


# What each DORA bucket means, from the same Thresholds that place a figure in a bucket.
DORA_THRESHOLDS: dict[str, list[tuple[str, str]]] = {
    "deployment_frequency": [
        (dora.ELITE, f"{dora.ELITE_MIN_DEPLOY_DAYS_PER_WEEK:g}+ deploy days/week"),
        (dora.HIGH, f"{dora.HIGH_MIN_DEPLOY_DAYS_PER_WEEK:g}+ deploy days/week"),
        (dora.MEDIUM, f"1+ deploy day per {round(7 / dora.MEDIUM_MIN_DEPLOY_DAYS_PER_WEEK)} days"),
        (dora.LOW, f"fewer than 1 deploy day per {round(7 / dora.MEDIUM_MIN_DEPLOY_DAYS_PER_WEEK)} days")],
    "lead_time": _bands("lead_time", _hours),
    "change_failure_rate": _bands("change_failure_rate", lambda v: f"{v:g}%"),
    "time_to_restore": _bands("time_to_restore", _hours),
}
# What each figure's count counts (one word for deployments wherever a deployment is meant).
COUNTED = {"deployment_frequency": "deployments", "lead_time": "commits",
           "change_failure_rate": "deployments", "time_to_restore": "incidents",
           "cycle_time": "pull requests", "unreviewed": "pull requests",
           **{f"stage_{name}": "pull requests" for name in STAGE_WORDS},
           "prs_merged": "pull requests", "issues_closed": "issues", "build_success": "workflow runs",
           "review_load": "review requests", "velocity": "sprints"}
# Figures whose explanation lists only part of what they were computed from: (the figure's
# field holding how many are listed, what those are). The rest list every counted item.
LISTED_SUBSET = {"change_failure_rate": ("failed", "failed"),
                 "unreviewed": ("value", "were merged without a review")}
# Why a deployment counts as failed, from the change-failure figure's `failed_by`.
FAILED_BY = {"deployment status": "its deployment status was a failure",
             "revert": "a revert was merged after it", "incident": "an incident was opened after it"}
