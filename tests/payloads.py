"""The sample world: named GitHub webhook payloads for handler tests.

The builders (users, repositories, pull requests, reviews, CI, deployments, event envelopes)
live in ``devmetrics_app.simulation.shapes`` so that ``devmetrics demo`` can simulate an
organisation with the very same shapes; they are re-exported here, so tests keep writing
``payloads.pull_request(...)``. That module is pure stdlib and imports nothing of the app:
fixtures still do not depend on the code they test.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from devmetrics_app.simulation.shapes import *  # noqa: F403  (re-exported for the tests)
from devmetrics_app.simulation.shapes import (
    ALICE,
    BACKEND_TEAM,
    BOB,
    BUSINESS_PLAN,
    CAROL,
    DEPENDABOT,
    FREE_PLAN,
    GHOST,
    GITHUB_ACTIONS_APP,
    OUTSIDER,
    REPO_API,
    REPO_FORK,
    REPO_LEGACY,
    REPO_TOOL,
    REPO_WEB,
    REVIEW_BOT,
    SOLO,
    TEAM_PLAN,
    Payload,
    at,
    check_run,
    check_run_event,
    check_suite,
    check_suite_event,
    commit,
    deployment,
    deployment_event,
    deployment_status_event,
    github_app_authorization_event,
    installation,
    installation_event,
    installation_repositories_event,
    issue,
    issues_event,
    label,
    marketplace_purchase,
    marketplace_purchase_event,
    milestone,
    milestone_event,
    ping_event,
    pull_request,
    pull_request_event,
    pull_request_review_comment_event,
    pull_request_review_event,
    push_event,
    repository_event,
    review,
    review_comment,
    sha,
    workflow_run,
    workflow_run_event,
)

# --------------------------------------------------------------------------- the sample world

Sample = tuple[str, str, Payload]


def _pr7(**changes: Any) -> Payload:
    """acme/api#7 by alice: the PR whose whole life the samples follow (same id throughout)."""
    base: dict[str, Any] = {
        "number": 7,
        "repo": REPO_API,
        "user": ALICE,
        "title": "Add login endpoint",
        "head_ref": "feature/login",
        "head_sha": sha("acme/api#7:v1"),
        "created_at": at(0),
    }
    base.update(changes)
    return pull_request(**base)


def _installation_samples() -> list[Sample]:
    suspended = installation(suspended_by=CAROL, suspended_at=at(60 * 24))
    return [
        ("installation", "created-org", installation_event("created", requester=None)),
        ("installation", "created-user-account", installation_event("created", target=SOLO)),
        (
            "installation",
            "created-org-epoch-timestamps",
            installation_event(
                "created",
                installation_obj=installation(epoch_timestamps=True),
                requester=BOB,
            ),
        ),
        ("installation", "suspend", installation_event("suspend", installation_obj=suspended)),
        ("installation", "unsuspend", installation_event("unsuspend")),
        (
            "installation",
            "new_permissions_accepted",
            installation_event("new_permissions_accepted"),
        ),
        ("installation", "deleted-user-account", installation_event("deleted", target=SOLO)),
        (
            "installation_repositories",
            "added",
            installation_repositories_event("added", added=[REPO_WEB]),
        ),
        (
            "installation_repositories",
            "removed",
            installation_repositories_event("removed", removed=[REPO_LEGACY]),
        ),
        ("repository", "created", repository_event("created", repo=REPO_WEB)),
        ("repository", "renamed", repository_event("renamed", repo=REPO_WEB)),
        (
            "repository",
            "archived",
            # Archiving bumps updated_at; the deletion afterwards carries the archived state.
            repository_event("archived", repo={**REPO_LEGACY, "archived": True, "updated_at": at(5)}),
        ),
        (
            "repository",
            "deleted",
            repository_event("deleted", repo={**REPO_LEGACY, "archived": True, "updated_at": at(6)}),
        ),
        ("ping", "app-hook", ping_event()),
        ("github_app_authorization", "revoked", github_app_authorization_event("revoked")),
    ]


def _marketplace_samples() -> list[Sample]:
    trial = marketplace_purchase(
        target=SOLO,
        plan=TEAM_PLAN,
        on_free_trial=True,
        free_trial_ends_on="2024-05-15T00:00:00+00:00",
        billing_email=None,
    )
    seats = marketplace_purchase(plan=BUSINESS_PLAN, unit_count=25)
    return [
        ("marketplace_purchase", "purchased-org", marketplace_purchase_event("purchased")),
        (
            "marketplace_purchase",
            "purchased-user-free-trial",
            marketplace_purchase_event("purchased", purchase=trial, sender=SOLO),
        ),
        (
            "marketplace_purchase",
            "changed-upgrade",
            marketplace_purchase_event(
                "changed",
                purchase=seats,
                previous=marketplace_purchase(),
                effective_date="2024-05-10T00:00:00+00:00",
            ),
        ),
        (
            "marketplace_purchase",
            "pending_change-downgrade",
            marketplace_purchase_event(
                "pending_change",
                purchase=marketplace_purchase(plan=FREE_PLAN, next_billing_date=None),
                previous=seats,
                effective_date="2024-06-01T00:00:00+00:00",
            ),
        ),
        (
            "marketplace_purchase",
            "cancelled",
            marketplace_purchase_event(
                "cancelled", purchase=seats, effective_date="2024-07-01T00:00:00+00:00"
            ),
        ),
    ]


def _pull_request_samples() -> list[Sample]:
    enh = label("enhancement", repo=REPO_API)
    reviewers = [BOB]
    ready = {"draft": False, "requested_reviewers": reviewers}
    opened = _pr7(draft=True, body=None)
    v2 = sha("acme/api#7:v2")
    merged = _pr7(
        state="closed",
        merged=True,
        head_sha=v2,
        updated_at=at(200),
        commits=3,
        additions=120,
        deletions=8,
        changed_files=4,
        comments=1,
        review_comments=1,
        labels=[enh],
        assignees=[ALICE],
    )
    fork_pr = pull_request(
        9,
        repo=REPO_API,
        user=OUTSIDER,
        title="Fix typo in README",
        head_ref="patch-1",
        head_repo=REPO_FORK,
        author_association="FIRST_TIME_CONTRIBUTOR",
        created_at=at(400),
    )
    gone_fork = pull_request(
        10,
        repo=REPO_API,
        user=OUTSIDER,
        title="Old experiment",
        head_ref="experiment",
        head_repo_deleted=True,
        state="closed",
        created_at=at(-60 * 24 * 30),
        updated_at=at(410),
        author_association="CONTRIBUTOR",
    )
    deps = pull_request(
        11,
        repo=REPO_API,
        user=DEPENDABOT,
        title="Bump aiohttp from 3.9.4 to 3.9.5",
        body="Bumps aiohttp from 3.9.4 to 3.9.5.",
        head_ref="dependabot/pip/aiohttp-3.9.5",
        labels=[label("dependencies", repo=REPO_API)],
        created_at=at(420),
        author_association="NONE",
    )
    ghost_pr = pull_request(
        13,
        repo=REPO_API,
        user=GHOST,
        title="Legacy cleanup",
        head_ref="cleanup",
        created_at=at(-60 * 24 * 90),
        updated_at=at(430),
        author_association="NONE",
        head_repo_deleted=True,
    )
    web8 = {"repo": REPO_WEB, "user": ALICE, "title": "Try new chart library", "head_ref": "charts"}
    solo3 = {
        "repo": REPO_TOOL,
        "user": SOLO,
        "title": "Add CLI flag",
        "head_ref": "cli-flag",
        "author_association": "OWNER",
    }
    return [
        ("pull_request", "opened-draft-null-body", pull_request_event("opened", opened)),
        (
            "pull_request",
            "edited-title",
            pull_request_event("edited", _pr7(draft=True, updated_at=at(5))),
        ),
        (
            "pull_request",
            "synchronize",
            pull_request_event(
                "synchronize", _pr7(draft=True, updated_at=at(30)), before=sha("acme/api#7:v0")
            ),
        ),
        (
            "pull_request",
            "ready_for_review",
            pull_request_event("ready_for_review", _pr7(updated_at=at(60))),
        ),
        (
            "pull_request",
            "review_requested-user",
            pull_request_event("review_requested", _pr7(updated_at=at(61), **ready)),
        ),
        (
            "pull_request",
            "review_requested-team",
            pull_request_event(
                "review_requested",
                _pr7(updated_at=at(62), requested_teams=[BACKEND_TEAM], **ready),
                requested_team=BACKEND_TEAM,
            ),
        ),
        (
            "pull_request",
            "review_request_removed-team",
            pull_request_event(
                "review_request_removed",
                _pr7(updated_at=at(63), **ready),
                requested_team=BACKEND_TEAM,
            ),
        ),
        (
            "pull_request",
            "labeled",
            pull_request_event("labeled", _pr7(updated_at=at(64), labels=[enh], **ready)),
        ),
        (
            "pull_request",
            "unlabeled",
            pull_request_event(
                "unlabeled", _pr7(updated_at=at(65), **ready), label=label("wip", repo=REPO_API)
            ),
        ),
        (
            "pull_request",
            "assigned",
            pull_request_event(
                "assigned", _pr7(updated_at=at(66), labels=[enh], assignees=[ALICE], **ready)
            ),
        ),
        (
            "pull_request",
            "converted_to_draft",
            pull_request_event(
                "converted_to_draft",
                _pr7(updated_at=at(70), draft=True, labels=[enh], assignees=[ALICE]),
            ),
        ),
        (
            "pull_request",
            "ready_for_review-again",
            pull_request_event(
                "ready_for_review",
                _pr7(updated_at=at(80), labels=[enh], assignees=[ALICE], **ready),
            ),
        ),
        (
            "pull_request",
            "synchronize-after-review",
            pull_request_event(
                "synchronize",
                _pr7(
                    head_sha=v2,
                    updated_at=at(150),
                    labels=[enh],
                    assignees=[ALICE],
                    commits=3,
                    **ready,
                ),
                before=sha("acme/api#7:v1"),
            ),
        ),
        ("pull_request", "closed-merged", pull_request_event("closed", merged, sender=CAROL)),
        (
            "pull_request",
            "closed-not-merged",
            pull_request_event(
                "closed",
                pull_request(8, state="closed", updated_at=at(300), created_at=at(250), **web8),
            ),
        ),
        (
            "pull_request",
            "reopened",
            pull_request_event(
                "reopened", pull_request(8, updated_at=at(310), created_at=at(250), **web8)
            ),
        ),
        ("pull_request", "opened-from-fork", pull_request_event("opened", fork_pr)),
        (
            "pull_request",
            "closed-fork-deleted-head-repo-null",
            pull_request_event("closed", gone_fork, sender=CAROL),
        ),
        ("pull_request", "opened-by-bot", pull_request_event("opened", deps)),
        (
            "pull_request",
            "edited-ghost-author",
            pull_request_event("edited", ghost_pr, sender=CAROL),
        ),
        (
            "pull_request",
            "opened-user-account-repo",
            pull_request_event("opened", pull_request(3, created_at=at(500), **solo3)),
        ),
        (
            "pull_request",
            "closed-merged-user-account-repo",
            pull_request_event(
                "closed",
                pull_request(
                    3,
                    created_at=at(500),
                    updated_at=at(560),
                    state="closed",
                    merged=True,
                    merged_by=SOLO,
                    **solo3,
                ),
            ),
        ),
    ]


def _review_samples() -> list[Sample]:
    during = _pr7(
        updated_at=at(120), requested_reviewers=[], labels=[label("enhancement", repo=REPO_API)]
    )
    after = _pr7(head_sha=sha("acme/api#7:v2"), updated_at=at(180), requested_reviewers=[])
    changes = review(
        during,
        seq=1,
        state="changes_requested",
        body="Please handle empty passwords.",
        submitted_at=at(120),
    )
    approve = review(after, seq=2, state="approved", submitted_at=at(180))
    thread = review_comment(during, seq=1, review_id=changes["id"])
    anonymous = review(
        after, seq=5, state="commented", body="Old note", submitted_at=at(186), user_deleted=True
    )
    return [
        (
            "pull_request_review",
            "submitted-changes_requested",
            pull_request_review_event("submitted", during, changes),
        ),
        (
            "pull_request_review",
            "submitted-approved",
            pull_request_review_event("submitted", after, approve),
        ),
        (
            "pull_request_review",
            "edited",
            pull_request_review_event("edited", after, {**approve, "body": "Looks good to me!"}),
        ),
        (
            "pull_request_review",
            "dismissed",
            pull_request_review_event(
                "dismissed", after, {**changes, "state": "dismissed"}, sender=CAROL
            ),
        ),
        (
            "pull_request_review",
            "submitted-commented-by-bot",
            pull_request_review_event(
                "submitted",
                after,
                review(
                    after,
                    seq=3,
                    user=REVIEW_BOT,
                    state="commented",
                    body="Summary of changes...",
                    submitted_at=at(185),
                    author_association="NONE",
                ),
            ),
        ),
        (
            "pull_request_review",
            "submitted-null-body",
            pull_request_review_event(
                "submitted",
                after,
                review(after, seq=4, user=CAROL, body=None, submitted_at=at(185)),
            ),
        ),
        (
            "pull_request_review",
            "submitted-deleted-user-null",
            pull_request_review_event("submitted", after, anonymous, sender=GHOST),
        ),
        (
            "pull_request_review_comment",
            "created",
            pull_request_review_comment_event("created", during, thread),
        ),
        (
            "pull_request_review_comment",
            "edited",
            pull_request_review_comment_event(
                "edited",
                during,
                {**thread, "body": "Please handle the empty password case.", "updated_at": at(122)},
            ),
        ),
        (
            "pull_request_review_comment",
            "deleted",
            pull_request_review_comment_event("deleted", during, thread),
        ),
        (
            "pull_request_review_comment",
            "created-reply-outdated-line",
            pull_request_review_comment_event(
                "created",
                after,
                review_comment(
                    after,
                    seq=2,
                    review_id=approve["id"],
                    user=ALICE,
                    body="Done.",
                    line=None,
                    created_at=at(181),
                    in_reply_to_id=thread["id"],
                ),
            ),
        ),
    ]


def _issue_samples() -> list[Sample]:
    bug = label("bug", repo=REPO_WEB, color="d73a4a", default=True)
    v1 = milestone(1, "v1.0", repo=REPO_WEB, open_issues=1)
    base = {"repo": REPO_WEB, "user": CAROL, "created_at": at(0)}
    transferred_new = issue(
        30, repo=REPO_API, title="Move to API repo", user=CAROL, created_at=at(700)
    )
    return [
        ("issues", "opened", issues_event("opened", issue(20, **base))),
        ("issues", "edited", issues_event("edited", issue(20, updated_at=at(5), **base))),
        (
            "issues",
            "labeled",
            issues_event("labeled", issue(20, updated_at=at(10), labels=[bug], **base), label=bug),
        ),
        (
            "issues",
            "unlabeled",
            issues_event(
                "unlabeled",
                issue(20, updated_at=at(11), **base),
                label=label("question", repo=REPO_WEB),
            ),
        ),
        (
            "issues",
            "milestoned",
            issues_event(
                "milestoned",
                issue(20, updated_at=at(12), labels=[bug], milestone=v1, **base),
                milestone=v1,
            ),
        ),
        (
            "issues",
            "demilestoned",
            issues_event(
                "demilestoned", issue(20, updated_at=at(13), labels=[bug], **base), milestone=v1
            ),
        ),
        (
            "issues",
            "assigned",
            issues_event(
                "assigned",
                issue(20, updated_at=at(14), labels=[bug], assignees=[BOB], **base),
                assignee=BOB,
            ),
        ),
        (
            "issues",
            "closed",
            issues_event(
                "closed",
                issue(
                    20,
                    state="closed",
                    state_reason="completed",
                    updated_at=at(600),
                    labels=[bug],
                    assignees=[BOB],
                    **base,
                ),
                sender=BOB,
            ),
        ),
        (
            "issues",
            "reopened",
            issues_event(
                "reopened",
                issue(
                    20,
                    state_reason="reopened",
                    updated_at=at(620),
                    labels=[bug],
                    assignees=[BOB],
                    **base,
                ),
            ),
        ),
        (
            "issues",
            "opened-ghost-author-null-body",
            issues_event(
                "opened",
                issue(21, repo=REPO_WEB, user=GHOST, body=None, author_association="NONE"),
                sender=GHOST,
            ),
        ),
        (
            "issues",
            "opened-by-bot",
            issues_event(
                "opened", issue(24, repo=REPO_WEB, user=DEPENDABOT, title="Dependabot alert")
            ),
        ),
        (
            "issues",
            "transferred",
            issues_event(
                "transferred",
                issue(22, repo=REPO_WEB, title="Move to API repo", updated_at=at(700)),
                changes={"new_issue": transferred_new, "new_repository": REPO_API},
            ),
        ),
        (
            "issues",
            "deleted",
            issues_event("deleted", issue(23, repo=REPO_WEB, title="Spam"), sender=CAROL),
        ),
        (
            "issues",
            "opened-user-account-repo",
            issues_event("opened", issue(4, repo=REPO_TOOL, user=SOLO, author_association="OWNER")),
        ),
    ]


def _milestone_samples() -> list[Sample]:
    def v1(**kw: Any) -> Payload:
        return milestone(1, "v1.0", repo=REPO_WEB, **kw)

    obsolete = milestone(2, "obsolete", repo=REPO_WEB, due_on=None, description=None)
    return [
        ("milestone", "created", milestone_event("created", v1())),
        ("milestone", "edited", milestone_event("edited", v1(updated_at=at(30)))),
        (
            "milestone",
            "closed",
            milestone_event(
                "closed", v1(state="closed", closed_issues=1, updated_at=at(610), closed_at=at(610))
            ),
        ),
        (
            "milestone",
            "opened",
            milestone_event("opened", v1(open_issues=1, closed_issues=1, updated_at=at(620))),
        ),
        ("milestone", "deleted", milestone_event("deleted", obsolete)),
    ]


def _ci_samples() -> list[Sample]:
    head = _pr7(head_sha=sha("acme/api#7:v2"), updated_at=at(150))
    merged_sha = sha("acme/api#7:merge")
    fork_pr = pull_request(
        9, repo=REPO_API, user=OUTSIDER, head_ref="patch-1", head_repo=REPO_FORK, created_at=at(400)
    )
    ours = check_suite(pr=head, status="queued", conclusion=None)
    actions_suite = check_suite(
        pr=head,
        suite_app=GITHUB_ACTIONS_APP,
        status="completed",
        conclusion="success",
        updated_at=at(165),
    )
    analysis = {"repo": REPO_API, "pr": head, "suite": ours}
    return [
        (
            "workflow_run",
            "requested",
            workflow_run_event(
                "requested", workflow_run(pr=head, status="queued", conclusion=None)
            ),
        ),
        (
            "workflow_run",
            "in_progress",
            workflow_run_event(
                "in_progress",
                workflow_run(pr=head, status="in_progress", conclusion=None, updated_at=at(151)),
            ),
        ),
        (
            "workflow_run",
            "completed-success",
            workflow_run_event("completed", workflow_run(pr=head, updated_at=at(165))),
        ),
        (
            "workflow_run",
            "completed-failure-rerun",
            workflow_run_event(
                "completed",
                workflow_run(
                    pr=head, conclusion="failure", run_attempt=2, updated_at=at(170), actor=BOB
                ),
            ),
        ),
        (
            "workflow_run",
            "completed-fork-no-pull_requests",
            workflow_run_event(
                "completed", workflow_run(pr=fork_pr, created_at=at(401), conclusion="failure")
            ),
        ),
        (
            "workflow_run",
            "completed-push-main-by-bot",
            workflow_run_event(
                "completed",
                workflow_run(
                    event="push",
                    head_branch="main",
                    head_sha=merged_sha,
                    created_at=at(201),
                    actor=DEPENDABOT,
                ),
            ),
        ),
        ("check_suite", "requested", check_suite_event("requested", ours)),
        ("check_suite", "rerequested", check_suite_event("rerequested", ours, sender=BOB)),
        ("check_suite", "completed", check_suite_event("completed", actions_suite)),
        (
            "check_run",
            "created",
            check_run_event("created", check_run(status="queued", conclusion=None, **analysis)),
        ),
        ("check_run", "completed", check_run_event("completed", check_run(**analysis))),
        (
            "check_run",
            "completed-actions-failure",
            check_run_event(
                "completed",
                check_run(
                    "test (3.12)",
                    repo=REPO_API,
                    pr=head,
                    suite=actions_suite,
                    conclusion="failure",
                    title=None,
                    summary=None,
                ),
            ),
        ),
        (
            "check_run",
            "completed-fork-no-pull_requests",
            check_run_event("completed", check_run(repo=REPO_API, pr=fork_pr), sender=OUTSIDER),
        ),
        (
            "check_run",
            "rerequested",
            check_run_event("rerequested", check_run(**analysis), sender=BOB),
        ),
        (
            "check_run",
            "requested_action",
            check_run_event("requested_action", check_run(**analysis), identifier="rerun-analysis"),
        ),
    ]


def _deploy_samples() -> list[Sample]:
    merged_sha = sha("acme/api#7:merge")
    prod = deployment(sha_=merged_sha, environment="production", created_at=at(210))
    staging = deployment(
        sha_=merged_sha, environment="staging", created_at=at(205), creator=DEPENDABOT
    )
    tool = deployment(
        repo=REPO_TOOL, sha_=sha("solo/tool#3:merge"), creator=SOLO, created_at=at(570)
    )
    return [
        ("deployment", "created-production", deployment_event("created", prod)),
        ("deployment", "created-staging-by-bot", deployment_event("created", staging)),
        (
            "deployment",
            "created-user-account-repo",
            deployment_event("created", tool, repo=REPO_TOOL),
        ),
        (
            "deployment_status",
            "in_progress",
            deployment_status_event("in_progress", prod, created_at=at(211)),
        ),
        (
            "deployment_status",
            "success",
            deployment_status_event("success", prod, created_at=at(220)),
        ),
        (
            "deployment_status",
            "failure",
            deployment_status_event("failure", staging, created_at=at(206)),
        ),
        (
            "deployment_status",
            "error",
            deployment_status_event("error", staging, created_at=at(207)),
        ),
        (
            "deployment_status",
            "success-user-account-repo",
            deployment_status_event("success", tool, repo=REPO_TOOL, created_at=at(575)),
        ),
    ]


def _push_samples() -> list[Sample]:
    merged_sha = sha("acme/api#7:merge")
    feature = [
        commit("Add login endpoint", author=ALICE, timestamp=at(-30), id=sha("acme/api#7:v1")),
        commit("Handle empty password", author=ALICE, timestamp=at(140), id=sha("acme/api#7:v2")),
    ]
    to_main = [
        *feature,
        commit(
            "Merge pull request #7 from acme/feature/login",
            author=CAROL,
            timestamp=at(200),
            id=merged_sha,
            modified=[],
        ),
    ]
    unlinked = commit(
        "Hotfix typo",
        author=None,
        name="Contractor",
        email="contractor@example.com",
        timestamp=at(145),
    )
    bot_commit = commit(
        "Bump aiohttp from 3.9.4 to 3.9.5",
        author=DEPENDABOT,
        timestamp=at(420),
        modified=["requirements.txt"],
    )
    tool_commit = commit("Add CLI flag", repo=REPO_TOOL, author=SOLO, timestamp=at(550))
    return [
        (
            "push",
            "main-merge-with-unlinked-author",
            push_event(commits=[*to_main[:-1], unlinked, to_main[-1]], sender=CAROL),
        ),
        (
            "push",
            "new-branch",
            push_event(
                ref="refs/heads/feature/login", created=True, commits=feature[:1], pushed_at=at(-29)
            ),
        ),
        (
            "push",
            "force-push",
            push_event(
                ref="refs/heads/feature/login", forced=True, commits=feature, pushed_at=at(141)
            ),
        ),
        (
            "push",
            "branch-deleted",
            push_event(
                ref="refs/heads/feature/login",
                deleted=True,
                before=feature[-1]["id"],
                pushed_at=at(201),
            ),
        ),
        (
            "push",
            "by-bot",
            push_event(
                ref="refs/heads/dependabot/pip/aiohttp-3.9.5",
                created=True,
                commits=[bot_commit],
                sender=DEPENDABOT,
            ),
        ),
        (
            "push",
            "user-account-repo",
            push_event(repo=REPO_TOOL, commits=[tool_commit], sender=SOLO),
        ),
        (
            "push",
            "tag-created",
            push_event(
                ref="refs/tags/v1.0.0", created=True, commits=[], after=merged_sha, sender=CAROL
            ),
        ),
    ]


def _build_samples() -> list[Sample]:
    return [
        *_installation_samples(),
        *_marketplace_samples(),
        *_push_samples(),
        *_pull_request_samples(),
        *_review_samples(),
        *_issue_samples(),
        *_milestone_samples(),
        *_ci_samples(),
        *_deploy_samples(),
    ]


ALL_SAMPLES: list[Sample] = _build_samples()


def sample(event: str, label: str) -> Payload:
    """A deep copy of one sample by event and label, so a test may change it freely."""
    for name, case, payload in ALL_SAMPLES:
        if (name, case) == (event, label):
            return copy.deepcopy(payload)
    raise KeyError((event, label))


def samples_for(event: str) -> list[Sample]:
    """The samples of one event name, for parametrised handler tests."""
    return [sample for sample in ALL_SAMPLES if sample[0] == event]


if __name__ == "__main__":
    counts = Counter(event for event, _, _ in ALL_SAMPLES)
    for name, count in sorted(counts.items()):
        print(f"{name:32} {count}")
    print(f"{'total':32} {len(ALL_SAMPLES)}")
