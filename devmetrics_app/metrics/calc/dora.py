"""The four DORA keys for a period, each with its 2023 benchmark bucket.

**Releases.** A release is a successful production deployment: a GitHub deployment whose
environment is one of the organisation's production environments (case-insensitive) and that
has a `success` status; it happened at its first `success` status. A repository with no
production deployment at all in the input falls back to workflow runs: a completed run on the
repository's default branch whose name matches `deploy_workflow_pattern` is a release when it
concluded `success` and a failed release when it concluded `failure`/`timed_out`/
`startup_failure`. Deployments are not subject to bot exclusion: they are normally created by
automation (Actions, a deploy bot), and excluding them would leave nothing to measure.
"Contains" is the caller's knowledge: a release contains its own sha and every sha in `shas`.

**Deployment frequency** = number of distinct deployment days (calendar days, in `tz`, with at
least one release) in the period; details give the release count and deployment days per week
= days * 7 / period length in days.

**Lead time for changes** = median over commits first released in the period of
(first successful release of the commit's repository containing it - commit time), in hours.
Commit time is `committed_at` (when the change entered a branch; `authored_at` survives
rebases and can be weeks old), falling back to `authored_at`. Bot commits are excluded; a
commit "released" before it was committed (clock skew) is excluded rather than counted as 0.

**Change failure rate** = failed releases / release attempts * 100 %. Attempts are releases
whose outcome (first success or failure status) falls in the period, including failed ones: a
deployment that failed is itself a failed change. A release also counts as failed when a
failure is attributed to it. A revert PR merged (title matches `revert_title_patterns`) names
what it reverts ("Reverts owner/repo#N", "This reverts commit <sha>."): the failure belongs to
the release that first shipped that change (the served figure, `read.dora.CHANGE_FAILURE_SQL`); a
revert naming nothing is reported, never guessed. An incident issue opened (labelled with one
of `incident_labels`) names no change: it is attributed to the latest successful release of
the same repository at or before that moment (if that repository never released -- an
incident tracker repository -- to the latest release across all repositories given). The pure
`change_failure_rate` below knows no PR bodies and attributes reverts like incidents. A failure
with no release before it is reported as unattributed.

**Time to restore** = median (closed_at - created_at) in hours over incidents resolved in the
period. Incidents closed as "not planned" were false alarms and are excluded here and from the
change failure rate; open incidents are reported as excluded ("still open").

**Benchmarks** (`BENCHMARK_SOURCE`): the 2023 Accelerate State of DevOps report's clusters:

    level   deploy frequency           lead time          CFR   recovery time
    elite   on demand (multiple/day)   < 1 day            5 %   < 1 hour
    high    once a day - once a week   1 day - 1 week    10 %   < 1 day
    medium  once a week - once a month 1 week - 1 month  15 %   1 day - 1 week
    low     once a week - once a month 1 week - 1 month  64 %   1 month - 6 months

Verified against the report's summaries (note: in 2023 the low cluster has the same throughput
ranges as medium; "monthly - every six months" and "1-6 months" are the 2021/2022 low values).
Where the report's ranges overlap or leave gaps we pick contiguous boundaries:

- frequency: elite ≥ 5 deployment days per week (deploying every working day is the most a
  count of deployment days can show of "on demand"), high ≥ 1 per week, medium ≥ 7/30 per
  week (once a month), low below that -- slower than every 2023 cluster;
- lead time: elite < 24 h, high < 168 h, medium < 720 h (30 days), low ≥ 720 h;
- change failure rate: the report gives each cluster's typical value, not a range; a rate up
  to a cluster's value belongs to it: elite ≤ 5 %, high ≤ 10 %, medium ≤ 15 %, low > 15 % (no
  boundary of our own between the report's values, such as a midpoint to 64 %);
- time to restore: elite < 1 h, high < 24 h, medium < 168 h, low ≥ 168 h (the report's gap
  between one week and one month is closer to low than to medium's "one day - one week").

No data gives no bucket (None), except frequency: releases exist but none in the period is
"low".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Protocol

from ..explain import ExclusionLog, Figure, Item, Period, hours
from ..settings import MetricsSettings
from .bots import bot_rule
from .builds import FAILURE_CONCLUSIONS, SUCCESS_CONCLUSIONS, WorkflowRunFact
from .stats import median
from .velocity import IssueFact

BENCHMARK_SOURCE = "DORA, Accelerate State of DevOps Report 2023 (dora.dev/research/2023/dora-report)"
ELITE, HIGH, MEDIUM, LOW = "elite", "high", "medium", "low"



@dataclass(frozen=True)
class Thresholds:
    """One key's cluster boundaries. A value is elite if it meets `elite`, else high if it meets
    `high`, else medium if it meets `medium`, else low; "meets" is >= for a key where more is
    better, else < (or <= when `inclusive`: the report gives a cluster's typical value, which
    belongs to that cluster). `report` is the 2023 report's wording per cluster."""

    unit: str
    higher_is_better: bool
    elite: float
    high: float
    medium: float
    report: tuple[str, str, str, str]
    inclusive: bool = False

    def meets(self, value: float, bound: float) -> bool:
        if self.higher_is_better:
            return value >= bound
        return value <= bound if self.inclusive else value < bound

    def bucket(self, value: float | None) -> str | None:
        if value is None:
            return None
        for level, bound in ((ELITE, self.elite), (HIGH, self.high), (MEDIUM, self.medium)):
            if self.meets(value, bound):
                return level
        return LOW

    def rules(self) -> dict[str, str]:
        """The rule per cluster, as the API documents it (explain, OpenAPI): "< 24", ">= 720"."""
        op = ">=" if self.higher_is_better else ("<=" if self.inclusive else "<")
        rest = "<" if self.higher_is_better else (">" if self.inclusive else ">=")
        return {ELITE: f"{op} {self.elite:.3g}", HIGH: f"{op} {self.high:.3g}",
                MEDIUM: f"{op} {self.medium:.3g}", LOW: f"{rest} {self.medium:.3g}"}

    def reported(self) -> dict[str, str]:
        """The 2023 report's wording per cluster."""
        return dict(zip((ELITE, HIGH, MEDIUM, LOW), self.report, strict=True))

    def describe(self) -> str:
        rules = self.rules()
        return ", ".join(f"{level} {rules[level]}" for level in (ELITE, HIGH, MEDIUM, LOW)) + (
            f" ({self.unit})")


# Every DORA bucket boundary, in one place (see the module docstring for how each is chosen).
DORA_THRESHOLDS: dict[str, Thresholds] = {
    "deployment_frequency": Thresholds(
        "deployment days per week", True, 5.0, 1.0, 7.0 / 30.0,
        ("on demand (multiple deploys per day)", "between once per day and once per week",
         "between once per week and once per month", "between once per week and once per month")),
    "lead_time": Thresholds(
        "hours", False, 24.0, 7 * 24.0, 30 * 24.0,
        ("less than one day", "between one day and one week", "between one week and one month",
         "between one week and one month")),
    "change_failure_rate": Thresholds(
        "%", False, 5.0, 10.0, 15.0, ("5%", "10%", "15%", "64%"), inclusive=True),
    "time_to_restore": Thresholds(
        "hours", False, 1.0, 24.0, 7 * 24.0,
        ("less than one hour", "less than one day", "between one day and one week",
         "between one month and six months")),
}
# The names other modules use (the dashboard's elite band, tests).
ELITE_MIN_DEPLOY_DAYS_PER_WEEK = DORA_THRESHOLDS["deployment_frequency"].elite
HIGH_MIN_DEPLOY_DAYS_PER_WEEK = DORA_THRESHOLDS["deployment_frequency"].high
MEDIUM_MIN_DEPLOY_DAYS_PER_WEEK = DORA_THRESHOLDS["deployment_frequency"].medium
ELITE_MAX_LEAD_TIME_HOURS = DORA_THRESHOLDS["lead_time"].elite
HIGH_MAX_LEAD_TIME_HOURS = DORA_THRESHOLDS["lead_time"].high
MEDIUM_MAX_LEAD_TIME_HOURS = DORA_THRESHOLDS["lead_time"].medium
ELITE_CHANGE_FAILURE_RATE = DORA_THRESHOLDS["change_failure_rate"].elite
HIGH_CHANGE_FAILURE_RATE = DORA_THRESHOLDS["change_failure_rate"].high
MEDIUM_CHANGE_FAILURE_RATE = DORA_THRESHOLDS["change_failure_rate"].medium
LOW_CHANGE_FAILURE_RATE = 64.0
ELITE_MAX_RESTORE_HOURS = DORA_THRESHOLDS["time_to_restore"].elite
HIGH_MAX_RESTORE_HOURS = DORA_THRESHOLDS["time_to_restore"].high
MEDIUM_MAX_RESTORE_HOURS = DORA_THRESHOLDS["time_to_restore"].medium

SUCCESS_STATES = frozenset({"success"})
FAILURE_STATES = frozenset({"failure", "error"})


@dataclass(frozen=True)
class DeploymentStatusFact:
    state: str
    created_at: datetime


@dataclass(frozen=True)
class DeploymentFact:
    id: int
    repository_id: int
    environment: str
    sha: str
    created_at: datetime
    statuses: tuple[DeploymentStatusFact, ...] = ()
    # Every commit this deployment contains besides `sha` (from the caller's ancestry data).
    shas: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CommitFact:
    sha: str
    repository_id: int
    committed_at: datetime | None
    authored_at: datetime | None = None
    author_login: str | None = None
    author_is_bot: bool = False

    @property
    def at(self) -> datetime | None:
        return self.committed_at or self.authored_at


class MergedChange(Protocol):
    """What revert detection needs of a pull request (cycle_time and throughput facts fit)."""

    @property
    def id(self) -> int: ...
    @property
    def number(self) -> int: ...
    @property
    def repository_id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def merged_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class Release:
    """A production deployment attempt with a final outcome (from a deployment or a run)."""

    source: str  # "deployment" | "workflow_run"
    id: int
    repository_id: int
    sha: str
    shas: frozenset[str]
    succeeded_at: datetime | None
    failed_at: datetime | None

    def contains(self, sha: str | None) -> bool:
        return sha is not None and (sha == self.sha or sha in self.shas)

    @property
    def outcome_at(self) -> datetime:
        times = [t for t in (self.succeeded_at, self.failed_at) if t is not None]
        return min(times)

    def item(self) -> Item:
        return Item(self.source, self.id, self.sha[:12],
                    details={"repository_id": self.repository_id, "succeeded_at": self.succeeded_at,
                             "failed_at": self.failed_at})


@dataclass(frozen=True)
class DoraReport:
    deployment_frequency: Figure
    lead_time: Figure
    change_failure_rate: Figure
    time_to_restore: Figure


def production_releases(deployments: Sequence[DeploymentFact], workflow_runs: Sequence[WorkflowRunFact] = (),
                        *, default_branches: Mapping[int, str] | None = None,
                        settings: MetricsSettings, log: ExclusionLog | None = None,
                        period: Period | None = None) -> list[Release]:
    """Production deployments with a final status, plus deploy workflow runs on the default
    branch for repositories without any production deployment; sorted by outcome time."""
    log = log if log is not None else ExclusionLog()
    releases: list[Release] = []
    deploying: set[int] = set()
    for deployment in deployments:
        if not settings.is_production(deployment.environment):
            continue
        deploying.add(deployment.repository_id)
        ordered = sorted(deployment.statuses, key=lambda s: s.created_at)
        succeeded = next((s.created_at for s in ordered if s.state.lower() in SUCCESS_STATES), None)
        failed = next((s.created_at for s in ordered if s.state.lower() in FAILURE_STATES), None)
        if succeeded is None and failed is None:
            if period is None or deployment.created_at in period:
                log.add("deployment without a final status",
                        Item("deployment", deployment.id, deployment.sha[:12]))
            continue
        releases.append(Release("deployment", deployment.id, deployment.repository_id, deployment.sha,
                                deployment.shas, succeeded, failed))
    branches = default_branches or {}
    for run in workflow_runs:
        if run.repository_id in deploying or not settings.is_deploy_workflow(run.name):
            continue
        branch = branches.get(run.repository_id)
        if branch is None or run.head_branch != branch or run.finished_at is None or not run.head_sha:
            continue
        conclusion = (run.conclusion or "").lower()
        if conclusion in SUCCESS_CONCLUSIONS:
            releases.append(Release("workflow_run", run.id, run.repository_id, run.head_sha, run.shas,
                                    run.finished_at, None))
        elif conclusion in FAILURE_CONCLUSIONS:
            releases.append(Release("workflow_run", run.id, run.repository_id, run.head_sha, run.shas,
                                    None, run.finished_at))
    releases.sort(key=lambda r: (r.outcome_at, r.id))
    return releases


def first_release_containing(releases: Sequence[Release], repository_id: int, sha: str | None,
                             *, not_before: datetime | None = None) -> Release | None:
    """The earliest successful release of the repository that contains `sha`."""
    found = [r for r in releases
             if r.succeeded_at is not None and r.repository_id == repository_id and r.contains(sha)
             and (not_before is None or r.succeeded_at >= not_before)]
    return min(found, key=lambda r: (r.succeeded_at, r.id)) if found else None


def frequency_bucket(deploy_days_per_week: float) -> str:
    return DORA_THRESHOLDS["deployment_frequency"].bucket(deploy_days_per_week) or LOW


def lead_time_bucket(hours_: float | None) -> str | None:
    return DORA_THRESHOLDS["lead_time"].bucket(hours_)


def change_failure_bucket(percent: float | None) -> str | None:
    return DORA_THRESHOLDS["change_failure_rate"].bucket(percent)


def restore_bucket(hours_: float | None) -> str | None:
    return DORA_THRESHOLDS["time_to_restore"].bucket(hours_)


def deployment_frequency(releases: Sequence[Release], *, period: Period, tz: tzinfo = UTC,
                         log: ExclusionLog | None = None) -> Figure:
    """deployment days = |{ date(succeeded_at, tz) : succeeded_at ∈ period }|;
    per week = days * 7 / period days."""
    successes = [r for r in releases if r.succeeded_at is not None and r.succeeded_at in period]
    days = sorted({r.succeeded_at.astimezone(tz).date() for r in successes if r.succeeded_at})
    per_week = len(days) * 7.0 / period.days
    bucket = frequency_bucket(per_week) if releases else None
    sources = {"deployment": 0, "workflow_run": 0}
    for release in successes:
        sources[release.source] += 1
    return Figure(float(len(days)), "deployment days", len(successes),
                  log.exclusions() if log else [], [r.item() for r in successes], {
                      "deployments": len(successes),
                      "deployment_days_per_week": per_week,
                      "sources": sources,
                      "benchmark": bucket,
                  })


def lead_time(releases: Sequence[Release], commits: Sequence[CommitFact], *, period: Period,
              settings: MetricsSettings) -> Figure:
    """median over commits first released in the period of (release time - commit time), h."""
    log = ExclusionLog()
    values: list[float] = []
    items: list[Item] = []
    for commit in commits:
        item = Item("commit", commit.sha, commit.sha[:12])
        committed = commit.at
        release = first_release_containing(releases, commit.repository_id, commit.sha)
        if release is None or release.succeeded_at is None:
            if committed is not None and committed in period:
                log.add("not deployed yet", item)
            continue
        if release.succeeded_at not in period:
            continue
        rule = bot_rule(commit.author_login, is_bot=commit.author_is_bot, settings=settings)
        if rule:
            log.add("authored by a bot", Item("commit", commit.sha, commit.sha[:12], details={"rule": rule}))
            continue
        if committed is None:
            log.add("commit time unknown", item)
            continue
        lead = hours((release.succeeded_at - committed).total_seconds())
        if lead < 0:
            log.add("committed after its deployment (clock skew)", item)
            continue
        values.append(lead)
        items.append(Item("commit", commit.sha, commit.sha[:12], lead,
                          {"release": release.id, "source": release.source}))
    value = median(values)
    return Figure(value, "hours", len(values), log.exclusions(), items,
                  {"benchmark": lead_time_bucket(value)})


def _attribute(releases: Sequence[Release], repository_id: int, moment: datetime) -> Release | None:
    def latest(candidates: list[Release]) -> Release | None:
        return max(candidates, key=lambda r: (r.succeeded_at, r.id)) if candidates else None

    successful = [r for r in releases if r.succeeded_at is not None and r.succeeded_at <= moment]
    if any(r.repository_id == repository_id for r in releases):
        return latest([r for r in successful if r.repository_id == repository_id])
    return latest(successful)


def change_failure_rate(releases: Sequence[Release], *, period: Period, settings: MetricsSettings,
                        pull_requests: Sequence[MergedChange] = (),
                        incidents: Sequence[IssueFact] = ()) -> Figure:
    """failed / attempts * 100, attempts = releases whose outcome falls in the period."""
    log = ExclusionLog()
    attempts = [r for r in releases if r.outcome_at in period]
    causes: dict[tuple[str, int], list[str]] = {}
    for release in attempts:
        if release.failed_at is not None:
            causes.setdefault((release.source, release.id), []).append("failed deployment status")
    signals: list[tuple[str, Item, int, datetime]] = []
    for pr in pull_requests:
        if pr.merged_at is not None and settings.is_revert_title(pr.title):
            signals.append(("revert", Item("pull_request", pr.id, f"#{pr.number} {pr.title}"),
                            pr.repository_id, pr.merged_at))
    for issue in incidents:
        if not settings.is_incident(issue.labels):
            continue
        if (issue.state_reason or "").lower() == "not_planned":
            log.add("incident closed as not planned", issue.item())
            continue
        signals.append(("incident", Item("incident", issue.id, f"#{issue.number} {issue.title}"),
                        issue.repository_id, issue.created_at))
    attempt_keys = {(r.source, r.id) for r in attempts}
    for kind, item, repository_id, moment in signals:
        target = _attribute(releases, repository_id, moment)
        if target is None:
            if moment in period:
                log.add(f"{kind} with no deployment before it", item)
            continue
        key = (target.source, target.id)
        if key in attempt_keys:
            causes.setdefault(key, []).append(f"{kind} {item.kind} {item.id}")
    failed = [r for r in attempts if (r.source, r.id) in causes]
    value = len(failed) / len(attempts) * 100.0 if attempts else None
    items = [Item(r.source, r.id, r.sha[:12], 1.0 if (r.source, r.id) in causes else 0.0,
                  {"repository_id": r.repository_id, "failures": causes.get((r.source, r.id), [])})
             for r in attempts]
    return Figure(value, "%", len(attempts), log.exclusions(), items,
                  {"failed": len(failed), "benchmark": change_failure_bucket(value)})


def time_to_restore(incidents: Sequence[IssueFact], *, period: Period, settings: MetricsSettings) -> Figure:
    """median (closed_at - created_at) in hours over incidents closed in the period."""
    log = ExclusionLog()
    values: list[float] = []
    items: list[Item] = []
    for issue in incidents:
        if not settings.is_incident(issue.labels):
            continue
        if issue.closed_at is None:
            if issue.created_at < period.end:
                log.add("still open", issue.item())
            continue
        if issue.closed_at not in period:
            continue
        if (issue.state_reason or "").lower() == "not_planned":
            log.add("closed as not planned", issue.item())
            continue
        duration = hours((issue.closed_at - issue.created_at).total_seconds())
        values.append(duration)
        items.append(Item("incident", issue.id, f"#{issue.number} {issue.title}", duration))
    value = median(values)
    return Figure(value, "hours", len(values), log.exclusions(), items, {"benchmark": restore_bucket(value)})


def dora(*, period: Period, settings: MetricsSettings, deployments: Sequence[DeploymentFact] = (),
         workflow_runs: Sequence[WorkflowRunFact] = (), default_branches: Mapping[int, str] | None = None,
         commits: Sequence[CommitFact] = (), pull_requests: Sequence[MergedChange] = (),
         incidents: Sequence[IssueFact] = (), tz: tzinfo = UTC) -> DoraReport:
    """All four keys over one set of releases (deployments, else deploy workflow runs)."""
    log = ExclusionLog()
    releases = production_releases(deployments, workflow_runs, default_branches=default_branches,
                                   settings=settings, log=log, period=period)
    return DoraReport(
        deployment_frequency=deployment_frequency(releases, period=period, tz=tz, log=log),
        lead_time=lead_time(releases, commits, period=period, settings=settings),
        change_failure_rate=change_failure_rate(releases, period=period, settings=settings,
                                                pull_requests=pull_requests, incidents=incidents),
        time_to_restore=time_to_restore(incidents, period=period, settings=settings),
    )
