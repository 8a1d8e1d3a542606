"""A seeded simulation of an engineering organisation, as the webhook deliveries GitHub sends.

Why simulate through webhooks rather than insert rows: the demo and the burst benchmark then
exercise exactly the path a real installation takes (signature, storage, routing, handlers,
rollups), and every figure on the dashboard is computed the way it would be for real data.

The organisation works weekdays over `weeks` weeks ending at `now`: developers open pull
requests from feature branches (pushes, CI check suites and workflow runs per head), ask for
review, get approvals or requested changes (self-reviews are rare), push fixes, and merge with
GitHub's web-flow merge commit; some repositories deploy every merge to production (a few
deployments fail, a few changes are reverted by a "Revert" pull request whose body says
"Reverts owner/repo#N", and incidents are opened and closed); Dependabot bumps dependencies
every week; two repositories plan two-week sprints as milestones whose issues carry
story-point labels. Anything that would happen after `now` is not sent, so the latest work is
still open, as it is in a real organisation.

Same seed, scale and `now` give the same deliveries, byte for byte.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from devmetrics_app.simulation import shapes as s
from devmetrics_app.simulation.delivery import Delivery, delivery_guid

Payload = dict[str, Any]

ORG_LOGIN = "northwind"
ORG_ID = 70_000
INSTALLATION_ID = 71_000
FIRST_REPO_ID = 70_001
FIRST_USER_ID = 5_000_001
WEEKS = 6
# Repositories by name, language, whether every merge deploys to production, whether it plans
# sprints. Scale picks how many of them exist (at least two).
REPOSITORIES: tuple[tuple[str, str, bool, bool], ...] = (
    ("api", "Python", True, True),
    ("web", "TypeScript", True, True),
    ("mobile", "Kotlin", False, False),
    ("infra", "HCL", True, False),
    ("billing", "Go", True, False),
    ("docs", "Markdown", False, False),
)
DEVELOPERS = (
    "amara", "ben", "chen", "dana", "elif", "femi", "gus", "hana", "ivan", "jo", "kai", "lena",
    "mo", "nia", "omar", "priya", "quinn", "rosa",
)
# Pull requests opened per repository per working day at scale 1.
PRS_PER_REPO_DAY = 2.4
CI_FAILURE_RATE = 0.12
CHANGES_REQUESTED_RATE = 0.22
SELF_REVIEW_RATE = 0.02
ABANDON_RATE = 0.07
DEPLOY_FAILURE_RATE = 0.08
REVERT_RATE = 0.04
INCIDENTS_PER_DEPLOYING_REPO_WEEK = 0.7
SPRINT_DAYS = 14
STORY_POINTS = (1, 2, 3, 3, 5, 5, 8)
TOPICS = (
    "login rate limit", "invoice export", "search filters", "audit log", "dark mode",
    "webhook retries", "session timeout", "CSV import", "billing emails", "team invites",
    "password reset", "API pagination", "feature flags", "onboarding tour", "cache warmup",
    "error pages", "SSO settings", "usage charts", "mobile push", "report scheduler",
)
VERBS = ("Add", "Fix", "Refactor", "Speed up", "Handle errors in", "Test", "Clean up", "Document")
FILES = ("app/{t}.py", "app/{t}/views.py", "src/{t}.ts", "lib/{t}.go", "tests/test_{t}.py")
DEPENDENCIES = ("requests", "react", "lodash", "urllib3", "axios", "pytest", "golang.org/x/net")
WEB_FLOW = {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Repo:
    payload: Payload
    deploys: bool
    sprints: bool
    next_number: int = 1
    ci_runs: int = 0

    @property
    def name(self) -> str:
        return str(self.payload["name"])

    @property
    def full_name(self) -> str:
        return str(self.payload["full_name"])

    def number(self) -> int:
        self.next_number += 1
        return self.next_number - 1


@dataclass
class _Sim:
    seed: int
    now: datetime
    rng: random.Random
    start: datetime
    org: Payload = field(default_factory=dict)
    people: list[Payload] = field(default_factory=list)
    repos: list[_Repo] = field(default_factory=list)
    events: list[tuple[datetime, int, str, Payload]] = field(default_factory=list)

    # ------------------------------------------------------------------ plumbing

    def emit(self, when: datetime, event: str, payload: Payload) -> None:
        if when <= self.now:
            self.events.append((when, len(self.events), event, payload))

    def sha(self, *parts: object) -> str:
        return s.sha("/".join(map(str, (self.seed, *parts))))

    def working_moment(self, day: datetime) -> datetime:
        """A moment in office hours (08:00-18:00 UTC) of `day`."""
        return day.replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(
            minutes=self.rng.randrange(0, 10 * 60))

    def later(self, when: datetime, low_hours: float, high_hours: float) -> datetime:
        """`when` plus a log-uniform-ish delay: most waits are short, a few are long."""
        hours = low_hours + (high_hours - low_hours) * self.rng.random() ** 2
        return when + timedelta(hours=hours)

    def commit(self, repo: _Repo, author: Payload, message: str, when: datetime, key: str,
               *, distinct: bool = True) -> Payload:
        topic_file = self.rng.choice(FILES).format(t=key.split(":")[0].replace(" ", "_"))
        return s.commit(message, repo=repo.payload, author=author, timestamp=iso(when),
                        modified=[topic_file], id=self.sha(repo.full_name, key, when.isoformat()),
                        distinct=distinct)

    def ctx(self) -> dict[str, Any]:
        return {"installation_id": INSTALLATION_ID}

    # ------------------------------------------------------------------ the organisation

    def build_org(self, scale: float) -> None:
        self.org = s.account(ORG_LOGIN, ORG_ID, "Organization")
        n_devs = max(4, min(len(DEVELOPERS), round(12 * scale ** 0.5)))
        self.people = [s.user(login, FIRST_USER_ID + i) for i, login in enumerate(DEVELOPERS[:n_devs])]
        n_repos = max(2, min(len(REPOSITORIES), round(5 * scale ** 0.5)))
        for i, (name, language, deploys, sprints) in enumerate(REPOSITORIES[:n_repos]):
            created = self.start - timedelta(days=400 - 30 * i)
            payload = s.repository(
                id=FIRST_REPO_ID + i, name=name, owner=self.org, language=language,
                created_at=iso(created), updated_at=iso(self.start), pushed_at=iso(self.start),
                description=f"Northwind {name}")
            self.repos.append(_Repo(payload, deploys, sprints))
        admin = self.people[0]
        when = self.start - timedelta(days=2)  # before anything else, sprint planning included
        payload = s.installation_event(
            "created", target=self.org, id=INSTALLATION_ID, sender=admin,
            repositories=[r.payload for r in self.repos],
            installation_obj=s.installation(INSTALLATION_ID, target=self.org, created_at=iso(when)))
        self.emit(when, "installation", payload)

    @property
    def admin(self) -> Payload:
        return self.people[0]

    def working_days(self) -> list[datetime]:
        day = self.start.replace(hour=0, minute=0, second=0, microsecond=0)
        days = []
        while day <= self.now:
            if day.weekday() < 5:
                days.append(day)
            day += timedelta(days=1)
        return days

    # ------------------------------------------------------------------ pull requests

    def ci(self, repo: _Repo, pr: Payload | None, head_sha: str, branch: str, when: datetime,
           actor: Payload, *, fail: bool, event: str = "pull_request") -> datetime:
        """GitHub Actions: a check suite and a workflow run for one head; returns when done."""
        repo.ci_runs += 1
        done = when + timedelta(minutes=self.rng.randrange(4, 16))
        conclusion = "failure" if fail else "success"
        run = s.workflow_run(
            repo=repo.payload, pr=pr, event=event, head_branch=branch, head_sha=head_sha,
            conclusion=conclusion, run_number=repo.ci_runs, actor=actor, created_at=iso(when),
            updated_at=iso(done), run_started_at=iso(when))
        self.emit(done, "workflow_run", s.workflow_run_event(
            "completed", run, repo=repo.payload, sender=actor, **self.ctx()))
        suite = s.check_suite(
            repo=repo.payload, pr=pr, head_branch=branch, head_sha=head_sha, conclusion=conclusion,
            suite_app=s.GITHUB_ACTIONS_APP, created_at=iso(when), updated_at=iso(done))
        self.emit(done, "check_suite", s.check_suite_event(
            "completed", suite, repo=repo.payload, sender=actor, **self.ctx()))
        return done

    def pr_snapshot(self, base: dict[str, Any], when: datetime, **changes: Any) -> Payload:
        fields = {**base, **changes, "updated_at": iso(when)}
        return s.pull_request(**fields)

    def push(self, repo: _Repo, ref: str, commits: list[Payload], sender: Payload, when: datetime,
             *, created: bool = False, before: str | None = None) -> None:
        self.emit(when, "push", s.push_event(
            repo=repo.payload, ref=f"refs/heads/{ref}", commits=commits, sender=sender,
            created=created, before=before, pushed_at=iso(when), **self.ctx()))

    def pull_request_life(self, repo: _Repo, author: Payload, opened: datetime, *,
                          title: str, body: str, branch: str, labels: list[str] | None = None,
                          revert_of: int | None = None, quick: bool = False) -> None:
        """One pull request from first commit to merge (or abandonment) and deployment."""
        rng = self.rng
        number = repo.number()
        is_bot = author["type"] == "Bot"
        key = f"{title}:{number}"
        first_commit = opened - timedelta(hours=0.2 if quick else 0.3 + 20 * rng.random() ** 2)
        commits = [self.commit(repo, author, title, first_commit, key + ":1")]
        for extra in range(rng.randrange(0, 3) if not quick else 0):
            moment = first_commit + (opened - first_commit) * (extra + 1) / 3
            commits.append(self.commit(repo, author, f"{title} (part {extra + 2})", moment,
                                       f"{key}:{extra + 2}"))
        self.push(repo, branch, list(commits), author, opened - timedelta(minutes=2), created=True)
        size = rng.choice((8, 25, 60, 120, 300, 700)) if not quick else 4
        reviewers = [p for p in self.people if p["id"] != author["id"]]
        reviewer = rng.choice(reviewers)
        base: dict[str, Any] = {
            "number": number, "repo": repo.payload, "user": author, "title": title, "body": body,
            "head_ref": branch, "head_sha": commits[-1]["id"], "created_at": iso(opened),
            "labels": [s.label(name, repo=repo.payload) for name in labels or []],
            "commits": len(commits), "additions": size, "deletions": size // 3,
            "changed_files": max(1, size // 40), "author_association": "CONTRIBUTOR" if is_bot
            else "MEMBER",
        }
        pr = self.pr_snapshot(base, opened)
        self.emit(opened, "pull_request", s.pull_request_event("opened", pr, sender=author, **self.ctx()))
        requested = opened + timedelta(minutes=1)
        base["requested_reviewers"] = [reviewer]
        pr = self.pr_snapshot(base, requested)
        self.emit(requested, "pull_request", s.pull_request_event(
            "review_requested", pr, sender=author, requested_reviewer=reviewer, **self.ctx()))
        ci_fails = not quick and rng.random() < CI_FAILURE_RATE
        when = self.ci(repo, pr, base["head_sha"], branch, opened, author, fail=ci_fails)
        if ci_fails:
            when = self.fix_push(repo, base, author, when, key, "Fix the failing test")
        if rng.random() < SELF_REVIEW_RATE and not is_bot:
            self.review(repo, base, author, "commented", self.later(when, 0.1, 2), seq=9,
                        body="Note to self: split this later.")
        first_review = self.later(when, 0.1 if quick else 0.3, 2 if quick else 30)
        seq = 1
        if not quick and rng.random() < CHANGES_REQUESTED_RATE:
            self.review(repo, base, reviewer, "changes_requested", first_review, seq=seq,
                        body="A few things to change before this goes in.")
            seq += 1
            fixed = self.fix_push(repo, base, author, self.later(first_review, 0.5, 20), key,
                                  "Address review comments")
            first_review = self.later(fixed, 0.2, 10)
        elif not quick and rng.random() < 0.3:
            self.review(repo, base, reviewer, "commented", first_review, seq=seq, body="One question inline.")
            seq += 1
            first_review = self.later(first_review, 0.2, 6)
        base["requested_reviewers"] = []
        self.review(repo, base, reviewer, "approved", first_review, seq=seq, body="Looks good to me.")
        if not quick and rng.random() < ABANDON_RATE:
            closed = self.later(first_review, 1, 72)
            pr = self.pr_snapshot(base, closed, state="closed", closed_at=iso(closed))
            self.emit(closed, "pull_request", s.pull_request_event("closed", pr, sender=author, **self.ctx()))
            return
        merged = self.later(first_review, 0.05, 4 if quick else 20)
        self.merge(repo, base, reviewer if is_bot else author, merged, commits, revert_of=revert_of)

    def fix_push(self, repo: _Repo, base: dict[str, Any], author: Payload, when: datetime, key: str,
                 message: str) -> datetime:
        """Another commit on the branch: push, pull_request.synchronize and CI (which passes)."""
        before = base["head_sha"]
        fix = self.commit(repo, author, message, when - timedelta(minutes=3), f"{key}:fix:{when}")
        self.push(repo, base["head_ref"], [fix], author, when, before=before)
        base["head_sha"] = fix["id"]
        base["commits"] += 1
        pr = self.pr_snapshot(base, when)
        self.emit(when, "pull_request", s.pull_request_event(
            "synchronize", pr, sender=author, before=before, after=fix["id"], **self.ctx()))
        return self.ci(repo, pr, fix["id"], base["head_ref"], when, author, fail=False)

    def review(self, repo: _Repo, base: dict[str, Any], reviewer: Payload, state: str, when: datetime,
               *, seq: int, body: str) -> None:
        pr = self.pr_snapshot(base, when)
        rev = s.review(pr, seq=seq, user=reviewer, state=state, body=body, submitted_at=iso(when))
        self.emit(when, "pull_request_review", s.pull_request_review_event(
            "submitted", pr, rev, sender=reviewer, **self.ctx()))

    def merge(self, repo: _Repo, base: dict[str, Any], merger: Payload, when: datetime,
              commits: list[Payload], *, revert_of: int | None) -> None:
        number = base["number"]
        merge_sha = self.sha(repo.full_name, number, "merge")
        pr = self.pr_snapshot(base, when, state="closed", merged=True, merged_by=merger,
                              closed_at=iso(when), merged_at=iso(when), merge_commit_sha=merge_sha)
        self.emit(when, "pull_request", s.pull_request_event("closed", pr, sender=merger, **self.ctx()))
        message = f"Merge pull request #{number} from {ORG_LOGIN}/{base['head_ref']}\n\n{base['title']}"
        merge_commit = s.commit(message, repo=repo.payload, author=merger, timestamp=iso(when),
                                id=merge_sha, modified=[])
        merge_commit["committer"] = dict(WEB_FLOW)
        pushed = [{**c, "distinct": False} for c in commits] + [merge_commit]
        self.push(repo, "main", pushed, merger, when + timedelta(seconds=5),
                  before=self.sha(repo.full_name, number, "main-before"))
        done = self.ci(repo, None, merge_sha, "main", when + timedelta(seconds=10), merger,
                       fail=False, event="push")
        if repo.deploys:
            self.deploy(repo, merge_sha, merger, done + timedelta(minutes=self.rng.randrange(1, 10)),
                        number=number, title=base["title"], revert_of=revert_of)

    # ------------------------------------------------------------------ delivery to production

    def deploy(self, repo: _Repo, commit_sha: str, creator: Payload, when: datetime, *, number: int,
               title: str, revert_of: int | None) -> None:
        rng = self.rng
        dep = s.deployment(repo=repo.payload, sha_=commit_sha, creator=creator, created_at=iso(when),
                           description=f"Deploy #{number}")
        self.emit(when, "deployment", s.deployment_event("created", dep, repo=repo.payload,
                                                         sender=creator, **self.ctx()))
        started = when + timedelta(seconds=30)
        self.emit(started, "deployment_status", s.deployment_status_event(
            "in_progress", dep, repo=repo.payload, sender=creator, created_at=iso(started),
            **self.ctx()))
        finished = started + timedelta(minutes=rng.randrange(3, 15))
        failed = rng.random() < DEPLOY_FAILURE_RATE
        self.emit(finished, "deployment_status", s.deployment_status_event(
            "failure" if failed else "success", dep, repo=repo.payload, sender=creator,
            created_at=iso(finished), **self.ctx()))
        if failed or revert_of is not None or self.rng.random() >= REVERT_RATE:
            return
        # The change broke something: a colleague reverts it, as GitHub's Revert button does.
        reverter = rng.choice(self.people)
        opened = self.later(finished, 0.5, 12)
        self.pull_request_life(
            repo, reverter, opened, title=f'Revert "{title}"',
            body=f"Reverts {repo.full_name}#{number}", branch=f"revert-{number}-{self.sha(number)[:6]}",
            revert_of=number, quick=True)

    def incidents(self, repo: _Repo, days: list[datetime]) -> None:
        count = round(INCIDENTS_PER_DEPLOYING_REPO_WEEK * len(days) / 5 + self.rng.random() - 0.5)
        for i in range(max(1, count)):
            opened = self.working_moment(self.rng.choice(days))
            number = repo.number()
            opener = self.rng.choice(self.people)
            labels = [s.label("incident", repo=repo.payload, color="d73a4a")]
            not_planned = i == 1
            base: dict[str, Any] = {
                "repo": repo.payload, "user": opener, "labels": labels,
                "title": self.rng.choice(("Checkout returns 500", "Login latency above 5 s",
                                          "Webhook queue backing up", "Reports page blank")),
                "body": "Customers report errors since the last deploy.", "created_at": iso(opened),
            }
            self.emit(opened, "issues", s.issues_event(
                "opened", s.issue(number, **base, updated_at=iso(opened)), repo=repo.payload,
                sender=opener, **self.ctx()))
            closed = self.later(opened, 0.3, 30)
            reason = "not_planned" if not_planned else "completed"
            self.emit(closed, "issues", s.issues_event(
                "closed", s.issue(number, **base, state="closed", state_reason=reason,
                                  updated_at=iso(closed), closed_at=iso(closed)),
                repo=repo.payload, sender=opener, **self.ctx()))

    # ------------------------------------------------------------------ planning

    def sprints(self, repo: _Repo, scale: float) -> None:
        rng = self.rng
        sprint_start = self.start.replace(hour=9, minute=0, second=0, microsecond=0)
        sprint_start += timedelta(days=(7 - sprint_start.weekday()) % 7)  # the first Monday
        index = 1
        while sprint_start <= self.now:
            due = sprint_start + timedelta(days=SPRINT_DAYS - 3, hours=8)  # the second Friday
            title = f"{repo.name} sprint {index}"
            ms_number = index
            planned = max(3, round(rng.randint(7, 12) * scale ** 0.5))
            creator = self.admin
            ms_fields: dict[str, Any] = {
                "repo": repo.payload, "description": f"Two-week sprint {index} of {repo.name}",
                "creator": creator, "created_at": iso(sprint_start - timedelta(days=1)),
                "due_on": iso(due),
            }
            created = sprint_start - timedelta(days=1)
            ms = s.milestone(ms_number, title, **ms_fields, updated_at=iso(created))
            self.emit(created, "milestone", s.milestone_event("created", ms, repo=repo.payload,
                                                              sender=creator, **self.ctx()))
            closed_count = 0
            for j in range(planned + rng.randint(0, 2)):
                scope_creep = j >= planned
                opened = sprint_start + (timedelta(days=rng.randint(2, 8)) if scope_creep
                                         else timedelta(minutes=rng.randint(0, 120)))
                number = repo.number()
                assignee = rng.choice(self.people)
                points = rng.choice(STORY_POINTS)
                labels = [s.label(f"points: {points}", repo=repo.payload, color="c5def5")]
                topic = rng.choice(TOPICS)
                fields: dict[str, Any] = {
                    "repo": repo.payload, "user": creator, "labels": labels, "assignees": [assignee],
                    "title": f"{rng.choice(VERBS)} {topic}", "body": f"As a user I want {topic}.",
                    "created_at": iso(opened),
                }
                ms_now = s.milestone(ms_number, title, **ms_fields, open_issues=planned - closed_count,
                                     closed_issues=closed_count, updated_at=iso(opened))
                self.emit(opened, "issues", s.issues_event(
                    "opened", s.issue(number, **fields, milestone=ms_now, updated_at=iso(opened)),
                    repo=repo.payload, sender=creator, **self.ctx()))
                if rng.random() < 0.82:
                    closed = opened + timedelta(hours=rng.uniform(6, (due - opened).total_seconds() / 3600))
                    closed_count += 1
                    ms_now = s.milestone(ms_number, title, **ms_fields,
                                         open_issues=max(0, planned - closed_count),
                                         closed_issues=closed_count, updated_at=iso(closed))
                    self.emit(closed, "issues", s.issues_event(
                        "closed", s.issue(number, **fields, milestone=ms_now, state="closed",
                                          state_reason="completed", updated_at=iso(closed),
                                          closed_at=iso(closed)),
                        repo=repo.payload, sender=assignee, **self.ctx()))
            end = due + timedelta(hours=1)
            ms = s.milestone(ms_number, title, **ms_fields, state="closed", updated_at=iso(end),
                             closed_at=iso(end), open_issues=max(0, planned - closed_count),
                             closed_issues=closed_count)
            self.emit(end, "milestone", s.milestone_event("closed", ms, repo=repo.payload,
                                                          sender=creator, **self.ctx()))
            sprint_start += timedelta(days=SPRINT_DAYS)
            index += 1

    # ------------------------------------------------------------------ the run

    def run(self, scale: float) -> list[Delivery]:
        rng = self.rng
        self.build_org(scale)
        days = self.working_days()
        for repo in self.repos:
            for day in days:
                expected = PRS_PER_REPO_DAY * scale ** 0.5
                count = int(expected) + (rng.random() < expected - int(expected))
                for _ in range(count):
                    author = rng.choice(self.people)
                    topic = rng.choice(TOPICS)
                    title = f"{rng.choice(VERBS)} {topic}"
                    branch = f"{author['login']}/{topic.replace(' ', '-').lower()}-{repo.next_number}"
                    self.pull_request_life(repo, author, self.working_moment(day), title=title,
                                           body=f"This PR: {title.lower()}.", branch=branch)
                if day.weekday() == 1:  # Dependabot runs on Tuesdays
                    dep = rng.choice(DEPENDENCIES)
                    old, new = rng.randint(1, 9), rng.randint(10, 20)
                    self.pull_request_life(
                        repo, s.DEPENDABOT, day.replace(hour=6), title=f"Bump {dep} from 1.{old} to 1.{new}",
                        body=f"Bumps {dep} from 1.{old} to 1.{new}.", labels=["dependencies"],
                        branch=f"dependabot/{dep.replace('/', '-')}-1.{new}", quick=True)
            if repo.deploys:
                self.incidents(repo, days)
            if repo.sprints:
                self.sprints(repo, scale)
        self.events.sort(key=lambda item: (item[0], item[1]))
        return [
            Delivery(event, delivery_guid(self.seed, index, event), payload)
            for index, (_, _, event, payload) in enumerate(self.events)
        ]


def generate_org(*, seed: int = 1, scale: float = 1.0, now: datetime | None = None,
                 weeks: int = WEEKS) -> list[Delivery]:
    """The deliveries of a simulated organisation over `weeks` weeks ending at `now`
    (default: the current minute), in the order GitHub would send them.

    `scale` multiplies the amount of work (1.0 is roughly 5,000 deliveries, 0.2 roughly 1,000).
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(weeks=weeks)
    sim = _Sim(seed=seed, now=now, rng=random.Random(seed), start=start)
    # More work mostly means more pull requests, so scale the days' volume, not only headcount.
    return sim.run(scale)
