"""Throughput, review load and work in progress.

- **Throughput** over a period: PRs merged (merged_at in the period) and issues closed as
  completed (closed_at in the period; closed as "not planned" is excluded -- nothing was
  delivered). Bot-authored PRs and issues are excluded by default.
- **Review load** (a snapshot of open PRs): open review requests per requested reviewer, from
  each open, non-draft PR's `requested_reviewers` (GitHub removes a request once the reviewer
  submits, so what is left is waiting). Drafts are excluded (nobody is asked to review a draft
  yet); team requests are not a person's load and are reported separately; bot reviewers are
  excluded, and so are PRs authored by bots (a wave of dependency PRs would otherwise drown the
  figure; the API can show them with bots included).
  value = total open requests to people; details.per_reviewer = {login: count}.
- **Work in progress** per person (snapshot): open PRs they authored (drafts included -- they
  are work in progress) plus open issues assigned to them. A PR that closes an issue counts
  twice for its author if they are also the assignee: both are open work items.
  value = mean WIP per person with any; details.per_person = {login: {pull_requests, issues,
  total}}.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..explain import ExclusionLog, Figure, Item, Period
from ..settings import MetricsSettings
from .bots import bot_rule
from .velocity import IssueFact


@dataclass(frozen=True)
class PullRequestSnapshot:
    id: int
    number: int
    repository_id: int
    title: str
    state: str  # OPEN | CLOSED | MERGED
    author_login: str | None
    author_is_bot: bool
    created_at: datetime
    draft: bool = False
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    # [(login, is_bot)] of requested users; teams by slug.
    requested_reviewers: tuple[tuple[str, bool], ...] = ()
    requested_teams: tuple[str, ...] = ()

    def item(self) -> Item:
        return Item("pull_request", self.id, f"#{self.number} {self.title}",
                    details={"repository_id": self.repository_id})


@dataclass(frozen=True)
class ThroughputReport:
    pull_requests_merged: Figure
    issues_closed: Figure


def throughput(pull_requests: Sequence[PullRequestSnapshot], issues: Sequence[IssueFact], *,
               period: Period, settings: MetricsSettings) -> ThroughputReport:
    """count(PRs merged in period) and count(issues closed as completed in period)."""
    pr_log = ExclusionLog()
    merged: list[Item] = []
    for pr in pull_requests:
        if pr.merged_at is None or pr.merged_at not in period:
            continue
        rule = bot_rule(pr.author_login, is_bot=pr.author_is_bot, settings=settings)
        if rule:
            pr_log.add("authored by a bot", _rule(pr.item(), rule))
        else:
            merged.append(pr.item())
    issue_log = ExclusionLog()
    closed: list[Item] = []
    for issue in issues:
        if issue.closed_at is None or issue.closed_at not in period or issue.state.upper() != "CLOSED":
            continue
        rule = bot_rule(issue.author_login, is_bot=issue.author_is_bot, settings=settings)
        if rule:
            issue_log.add("opened by a bot", _rule(issue.item(), rule))
        elif not issue.completed:
            issue_log.add("closed as not planned", issue.item())
        else:
            closed.append(issue.item())
    return ThroughputReport(
        Figure(float(len(merged)), "pull requests", len(merged), pr_log.exclusions(), merged),
        Figure(float(len(closed)), "issues", len(closed), issue_log.exclusions(), closed),
    )


def review_load(pull_requests: Sequence[PullRequestSnapshot], *, settings: MetricsSettings) -> Figure:
    """Σ open review requests to people; per reviewer in details.per_reviewer."""
    log = ExclusionLog()
    per_reviewer: Counter[str] = Counter()
    team_requests: Counter[str] = Counter()
    items: list[Item] = []
    for pr in pull_requests:
        if pr.state.upper() != "OPEN" or not (pr.requested_reviewers or pr.requested_teams):
            continue
        rule = bot_rule(pr.author_login, is_bot=pr.author_is_bot, settings=settings)
        if rule:
            log.add("authored by a bot", _rule(pr.item(), rule))
            continue
        if pr.draft:
            log.add("draft", pr.item())
            continue
        for login, reviewer_is_bot in pr.requested_reviewers:
            reviewer_rule = bot_rule(login, is_bot=reviewer_is_bot, settings=settings)
            if reviewer_rule:
                log.add("reviewer is a bot", Item("review_request", f"{pr.id}:{login}", login,
                                                  details={"pull_request": pr.id, "rule": reviewer_rule}))
                continue
            per_reviewer[login] += 1
            items.append(Item("review_request", f"{pr.id}:{login}", login, details={"pull_request": pr.id}))
        for team in pr.requested_teams:
            team_requests[team] += 1
            log.add("team request (not a person)", Item("review_request", f"{pr.id}:team:{team}", team,
                                                        details={"pull_request": pr.id}))
    total = sum(per_reviewer.values())
    return Figure(float(total), "review requests", total, log.exclusions(), items, {
        "per_reviewer": dict(sorted(per_reviewer.items(), key=lambda kv: (-kv[1], kv[0]))),
        "team_requests": dict(sorted(team_requests.items())),
    })


def work_in_progress(pull_requests: Sequence[PullRequestSnapshot], issues: Sequence[IssueFact], *,
                     settings: MetricsSettings) -> Figure:
    """Per person: open PRs authored + open issues assigned; value = mean over people with WIP."""
    log = ExclusionLog()
    prs: Counter[str] = Counter()
    assigned: Counter[str] = Counter()
    items: list[Item] = []
    for pr in pull_requests:
        if pr.state.upper() != "OPEN" or not pr.author_login:
            continue
        rule = bot_rule(pr.author_login, is_bot=pr.author_is_bot, settings=settings)
        if rule:
            log.add("authored by a bot", _rule(pr.item(), rule))
            continue
        prs[pr.author_login] += 1
        items.append(pr.item())
    for issue in issues:
        if issue.state.upper() != "OPEN" or not issue.assignee_logins:
            continue
        people = []
        flags = issue.assignees_are_bots or (False,) * len(issue.assignee_logins)
        for login, assignee_is_bot in zip(issue.assignee_logins, flags, strict=False):
            rule = bot_rule(login, is_bot=assignee_is_bot, settings=settings)
            if rule:
                log.add("assignee is a bot", _rule(issue.item(), rule))
            else:
                people.append(login)
        for login in people:
            assigned[login] += 1
        if people:
            items.append(issue.item())
    people_all = sorted(set(prs) | set(assigned))
    per_person = {p: {"pull_requests": prs[p], "issues": assigned[p], "total": prs[p] + assigned[p]}
                  for p in people_all}
    total = sum(v["total"] for v in per_person.values())
    value = total / len(per_person) if per_person else None
    return Figure(value, "items per person", len(per_person), log.exclusions(), items,
                  {"total": total, "per_person": per_person})


def _rule(item: Item, rule: str) -> Item:
    return Item(item.kind, item.id, item.label, item.value, {**item.details, "rule": rule})
