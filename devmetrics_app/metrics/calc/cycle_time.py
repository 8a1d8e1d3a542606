"""PR cycle time and its stages, per merged pull request and aggregated.

For a merged PR (all durations in hours):

- **ready** = when the PR first became reviewable: `created_at` if it was never a draft, else
  the end of its first draft interval (`ready_for_review_at` when no intervals are given).
- **first review** = the earliest submitted review (approved, changes requested, commented or
  later dismissed -- someone looked) by someone other than the author and not a bot, submitted
  no later than the merge. A review by the author, by a bot, or after the merge is no pickup.
- **approval** = the earliest approval (non-author, non-bot, before the merge) given after the
  last "changes requested" before the merge: the approval that stuck. An approval followed by
  a change request no longer counts; a dismissed approval is stored as DISMISSED and is not
  one. If changes were requested and nobody approved afterwards, there is no approval.
- **coding** = opened - first commit (0 when the first commit is after opening: the branch was
  opened empty); unknown without a first commit.
- **pickup** = first review - ready - draft time inside [ready, first review] (a PR put back
  to draft while waiting is not waiting for a reviewer). A review before ready (during the
  draft) means the PR was picked up before it asked: pickup 0.
- **review** = approval - first review (0 when the approval is the first review).
- **merge** = merged - approval.
- **deploy** = first successful production release of the PR's repository containing the
  merge commit, at or after the merge - merged; unknown when no such release exists (libraries,
  or not yet deployed). "Containing" comes from the releases' `shas` (see `dora`), or from a
  `contains(release, sha)` callable when the caller knows commit ordering instead.
- **time to first review** = pickup (measured from ready, draft time excluded -- the same
  clock); **time to approval** = approval - ready - draft time inside [ready, approval].
- **cycle time** = merged - min(first commit, opened). Deploy time is reported as a stage but
  not included, so the total does not depend on whether a repository deploys. Stages do not
  sum to the total: draft time belongs to no stage (it is reported as `draft`).

A PR with no qualifying review is **unreviewed**: pickup, review, merge, time to first review
and time to approval are None (not 0) and it is counted in the `unreviewed` figure; its cycle
time still counts. A reviewed PR merged without approval has review and merge stages None.

Aggregates (`CycleTimeReport`): each figure's value is the median; details give average,
median and p95 (PostgreSQL percentile_cont) over the PRs where that stage is known. PRs
authored by bots are excluded by default; PRs not merged in the period are not part of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..explain import ExclusionLog, Figure, Item, Period, hours
from ..settings import MetricsSettings
from .bots import bot_rule
from .builds import WorkflowRunFact
from .dora import DeploymentFact, Release, production_releases
from .stats import summarize

REVIEW_STATES = frozenset({"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"})
UNIT_HOURS = "hours"
STAGES = ("coding", "pickup", "review", "merge", "deploy", "time_to_first_review", "time_to_approval")

DraftInterval = tuple[datetime, datetime | None]


@dataclass(frozen=True)
class ReviewFact:
    reviewer_login: str | None
    state: str
    submitted_at: datetime | None
    reviewer_is_bot: bool = False


@dataclass(frozen=True)
class PullRequestFacts:
    id: int
    number: int
    repository_id: int
    author_login: str | None
    author_is_bot: bool
    created_at: datetime
    ready_for_review_at: datetime | None
    draft_intervals: tuple[DraftInterval, ...]
    first_commit_at: datetime | None
    merged_at: datetime | None
    merge_commit_sha: str | None
    reviews: tuple[ReviewFact, ...] = ()
    title: str = ""


@dataclass(frozen=True)
class PullRequestCycle:
    id: int
    number: int
    repository_id: int
    cycle_time: float
    coding: float | None
    pickup: float | None
    review: float | None
    merge: float | None
    deploy: float | None
    time_to_first_review: float | None
    time_to_approval: float | None
    draft: float
    unreviewed: bool
    first_review_at: datetime | None
    approved_at: datetime | None
    deployed_at: datetime | None


@dataclass(frozen=True)
class CycleTimeReport:
    cycle_time: Figure
    stages: Mapping[str, Figure]
    unreviewed: Figure
    pull_requests: list[PullRequestCycle]


def ready_at(pr: PullRequestFacts) -> datetime:
    """created_at if never a draft, else the end of the first draft interval."""
    intervals = sorted(pr.draft_intervals, key=lambda i: i[0])
    if intervals and intervals[0][0] <= pr.created_at:
        end = intervals[0][1]
        if end is not None:
            return end
        return pr.ready_for_review_at or pr.merged_at or pr.created_at
    if not intervals and pr.ready_for_review_at is not None and pr.ready_for_review_at > pr.created_at:
        return pr.ready_for_review_at
    return pr.created_at


def draft_overlap(intervals: Sequence[DraftInterval], start: datetime, end: datetime,
                  *, open_until: datetime) -> float:
    """Seconds of draft time within [start, end]; an open interval runs until `open_until`."""
    total = 0.0
    for draft_start, draft_end in intervals:
        lo = max(draft_start, start)
        hi = min(draft_end or open_until, end)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total


def _counted_reviews(pr: PullRequestFacts, settings: MetricsSettings) -> list[ReviewFact]:
    author = (pr.author_login or "").lower()
    out = []
    for review in pr.reviews:
        if review.submitted_at is None or review.state.upper() not in REVIEW_STATES:
            continue
        if pr.merged_at is not None and review.submitted_at > pr.merged_at:
            continue
        if (review.reviewer_login or "").lower() == author:
            continue
        if bot_rule(review.reviewer_login, is_bot=review.reviewer_is_bot, settings=settings):
            continue
        out.append(review)
    return sorted(out, key=lambda r: r.submitted_at or pr.created_at)


def approval_at(reviews: Sequence[ReviewFact]) -> datetime | None:
    """Earliest APPROVED after the last CHANGES_REQUESTED (reviews already filtered)."""
    last_change_request = max((r.submitted_at for r in reviews
                               if r.state.upper() == "CHANGES_REQUESTED" and r.submitted_at), default=None)
    approvals = [r.submitted_at for r in reviews if r.state.upper() == "APPROVED" and r.submitted_at
                 and (last_change_request is None or r.submitted_at > last_change_request)]
    return min(approvals, default=None)


def pull_request_cycle(pr: PullRequestFacts, *, settings: MetricsSettings,
                       releases: Sequence[Release] = (),
                       contains: Callable[[Release, str], bool] | None = None) -> PullRequestCycle:
    """The stages of one merged PR (see the module docstring for each formula)."""
    if pr.merged_at is None:
        raise ValueError(f"pull request {pr.id} is not merged")
    merged = pr.merged_at
    ready = ready_at(pr)
    intervals = pr.draft_intervals

    def active_hours(start: datetime, end: datetime) -> float:
        if end <= start:
            return 0.0
        seconds = (end - start).total_seconds() - draft_overlap(intervals, start, end, open_until=merged)
        return max(0.0, hours(seconds))

    start = min(pr.first_commit_at, pr.created_at) if pr.first_commit_at else pr.created_at
    coding = None
    if pr.first_commit_at is not None:
        coding = max(0.0, hours((pr.created_at - pr.first_commit_at).total_seconds()))
    reviews = _counted_reviews(pr, settings)
    first_review = reviews[0].submitted_at if reviews else None
    approved = approval_at(reviews)
    pickup = active_hours(ready, first_review) if first_review else None
    to_approval = active_hours(ready, approved) if approved else None
    review = max(0.0, hours((approved - first_review).total_seconds())) if approved and first_review else None
    merge = max(0.0, hours((merged - approved).total_seconds())) if approved else None

    deployed_at = None
    if pr.merge_commit_sha:
        candidates = [r for r in releases
                      if r.succeeded_at is not None and r.repository_id == pr.repository_id
                      and r.succeeded_at >= merged
                      and (contains(r, pr.merge_commit_sha) if contains else r.contains(pr.merge_commit_sha))]
        if candidates:
            deployed_at = min(r.succeeded_at for r in candidates if r.succeeded_at)
    deploy = hours((deployed_at - merged).total_seconds()) if deployed_at else None
    draft = hours(draft_overlap(intervals, pr.created_at, merged, open_until=merged))
    return PullRequestCycle(
        id=pr.id, number=pr.number, repository_id=pr.repository_id,
        cycle_time=hours((merged - start).total_seconds()),
        coding=coding, pickup=pickup, review=review, merge=merge, deploy=deploy,
        time_to_first_review=pickup, time_to_approval=to_approval, draft=draft,
        unreviewed=first_review is None, first_review_at=first_review, approved_at=approved,
        deployed_at=deployed_at)


def _figure(values: list[float], items: list[Item], log: ExclusionLog) -> Figure:
    summary = summarize(values)
    return Figure(summary.median, UNIT_HOURS, summary.count, log.exclusions(), items,
                  {"average": summary.average, "median": summary.median, "p95": summary.p95})


def cycle_time(pull_requests: Sequence[PullRequestFacts], *, period: Period, settings: MetricsSettings,
               deployments: Sequence[DeploymentFact] = (), workflow_runs: Sequence[WorkflowRunFact] = (),
               default_branches: Mapping[int, str] | None = None,
               contains: Callable[[Release, str], bool] | None = None) -> CycleTimeReport:
    """Cycle time and stage figures over PRs merged in `period` (median; avg/median/p95)."""
    log = ExclusionLog()
    releases = production_releases(deployments, workflow_runs, default_branches=default_branches,
                                   settings=settings)
    cycles: list[PullRequestCycle] = []
    for pr in pull_requests:
        if pr.merged_at is None or pr.merged_at not in period:
            continue
        rule = bot_rule(pr.author_login, is_bot=pr.author_is_bot, settings=settings)
        if rule:
            log.add("authored by a bot", Item("pull_request", pr.id, f"#{pr.number} {pr.title}",
                                              details={"rule": rule}))
            continue
        cycles.append(pull_request_cycle(pr, settings=settings, releases=releases, contains=contains))

    def item(c: PullRequestCycle, value: float | None) -> Item:
        return Item("pull_request", c.id, f"#{c.number}", value, {"repository_id": c.repository_id})

    total = _figure([c.cycle_time for c in cycles], [item(c, c.cycle_time) for c in cycles], log)
    stages: dict[str, Figure] = {}
    for stage in STAGES:
        stage_log = ExclusionLog()
        stage_log.extend(log.exclusions())
        values: list[float] = []
        items: list[Item] = []
        for c in cycles:
            value = getattr(c, stage)
            if value is None:
                stage_log.add(_missing_reason(c, stage), item(c, None))
            else:
                values.append(value)
                items.append(item(c, value))
        stages[stage] = _figure(values, items, stage_log)
    unreviewed = [c for c in cycles if c.unreviewed]
    share = len(unreviewed) / len(cycles) * 100.0 if cycles else None
    unreviewed_figure = Figure(float(len(unreviewed)), "pull requests", len(cycles), log.exclusions(),
                               [item(c, None) for c in unreviewed], {"percent": share})
    return CycleTimeReport(total, stages, unreviewed_figure, cycles)


def _missing_reason(c: PullRequestCycle, stage: str) -> str:
    if stage == "coding":
        return "first commit unknown"
    if stage == "deploy":
        return "no production deployment contains the merge commit"
    if c.unreviewed:
        return "unreviewed"
    return "merged without approval"
