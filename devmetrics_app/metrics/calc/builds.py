"""Build success rate from GitHub Actions workflow runs.

    success rate = successes / (successes + failures) * 100 %

over runs completed in the period (`completed_at`, else `updated_at`). A failure is a run
concluded `failure`, `timed_out` or `startup_failure`: the build was asked to pass and did not.
Runs concluded `cancelled`, `skipped`, `neutral`, `action_required` or `stale` said nothing
about whether the code builds, and runs not yet completed have no verdict: all of these are
excluded, each with its reason. A run triggered by a bot (Dependabot, Renovate) is excluded as
a bot run by default. One row per run id holds its latest attempt, so a re-run that passed
replaces the failure it re-ran: the rate measures where builds ended, not every attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..explain import ExclusionLog, Figure, Item, Period
from ..settings import MetricsSettings
from .bots import bot_rule

SUCCESS_CONCLUSIONS = frozenset({"success"})
FAILURE_CONCLUSIONS = frozenset({"failure", "timed_out", "startup_failure"})
UNIT_PERCENT = "%"


@dataclass(frozen=True)
class WorkflowRunFact:
    id: int
    repository_id: int
    name: str | None
    head_branch: str | None
    head_sha: str | None
    status: str | None
    conclusion: str | None
    created_at: datetime
    completed_at: datetime | None = None
    updated_at: datetime | None = None
    event: str | None = None
    actor_login: str | None = None
    actor_is_bot: bool = False
    # Commits this run's head contains (for deployments by workflow run), when the caller knows.
    shas: frozenset[str] = frozenset()

    @property
    def finished_at(self) -> datetime | None:
        if (self.status or "").lower() != "completed":
            return None
        return self.completed_at or self.updated_at

    def item(self) -> Item:
        return Item("workflow_run", self.id, self.name or "",
                    details={"conclusion": self.conclusion, "head_branch": self.head_branch,
                             "repository_id": self.repository_id})


def build_success_rate(runs: Sequence[WorkflowRunFact], *, period: Period,
                       settings: MetricsSettings) -> Figure:
    """successes / (successes + failures) * 100 over runs finished in `period`; None if none."""
    log = ExclusionLog()
    successes = failures = 0
    items: list[Item] = []
    for run in runs:
        finished = run.finished_at
        if finished is None:
            if run.created_at in period:
                log.add("not completed yet", run.item())
            continue
        if finished not in period:
            continue
        rule = bot_rule(run.actor_login, is_bot=run.actor_is_bot, settings=settings)
        if rule:
            log.add("triggered by a bot", _with_rule(run.item(), rule))
            continue
        conclusion = (run.conclusion or "").lower()
        if conclusion in SUCCESS_CONCLUSIONS:
            successes += 1
        elif conclusion in FAILURE_CONCLUSIONS:
            failures += 1
        else:
            log.add(f"concluded {conclusion or 'without a conclusion'}", run.item())
            continue
        items.append(run.item())
    total = successes + failures
    value = successes / total * 100.0 if total else None
    return Figure(value, UNIT_PERCENT, total, log.exclusions(), items,
                  {"successes": successes, "failures": failures})


def _with_rule(item: Item, rule: str) -> Item:
    return Item(item.kind, item.id, item.label, item.value, {**item.details, "rule": rule})
