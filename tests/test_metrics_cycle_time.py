"""cycle_time: hand-computed stages, unreviewed PRs, draft exclusion, bots, aggregation."""

from datetime import UTC, datetime

import pytest

from devmetrics_app.metrics.calc.cycle_time import (
    PullRequestFacts,
    ReviewFact,
    cycle_time,
    pull_request_cycle,
)
from devmetrics_app.metrics.calc.dora import DeploymentFact, DeploymentStatusFact, Release
from devmetrics_app.metrics.explain import Period
from devmetrics_app.metrics.settings import MetricsSettings
from devmetrics_app.web.api.serialize import to_json

S = MetricsSettings()
PERIOD = Period(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 8, tzinfo=UTC))


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


def pr(id_: int, *, created, merged, first_commit=None, drafts=(), reviews=(), author="ann",
       author_is_bot=False, sha=None, ready=None) -> PullRequestFacts:
    return PullRequestFacts(
        id=id_, number=id_, repository_id=1, author_login=author, author_is_bot=author_is_bot,
        created_at=created, ready_for_review_at=ready, draft_intervals=tuple(drafts),
        first_commit_at=first_commit, merged_at=merged, merge_commit_sha=sha,
        reviews=tuple(reviews), title=f"PR {id_}")


def deployment(id_, env, at, shas, sha="head", state="success", repo=1):
    return DeploymentFact(id=id_, repository_id=repo, environment=env, sha=sha, created_at=at,
                          statuses=(DeploymentStatusFact(state, at),), shas=frozenset(shas))


# PR A, never a draft: first commit Mon 09:00, opened 12:00, merged Tue 12:00.
PR_A = pr(1, first_commit=t(4, 9), created=t(4, 12), merged=t(5, 12), sha="m1", reviews=[
    ReviewFact("ann", "COMMENTED", t(4, 12, 30)),                   # the author: not pickup
    ReviewFact("lint[bot]", "COMMENTED", t(4, 12, 45)),             # a bot: not pickup
    ReviewFact("alice", "COMMENTED", t(4, 14)),                     # first review
    ReviewFact("alice", "APPROVED", t(4, 15)),                      # superseded by bob's request
    ReviewFact("bob", "CHANGES_REQUESTED", t(4, 16)),
    ReviewFact("bob", "APPROVED", t(5, 10)),                        # the approval that stuck
    ReviewFact("carol", "APPROVED", t(5, 11)),                      # later approvals don't move it
    ReviewFact("dave", "PENDING", None),
])
# PR B, opened as draft 10:00, ready 14:00, back to draft 16:00-18:00, approved 20:00.
PR_B = pr(2, first_commit=t(4, 8), created=t(4, 10), merged=t(4, 21), sha="m2",
          drafts=[(t(4, 10), t(4, 14)), (t(4, 16), t(4, 18))], ready=t(4, 14),
          reviews=[ReviewFact("carol", "APPROVED", t(4, 20))])
# PR C: only the author reviewed -> unreviewed.
PR_C = pr(3, created=t(6, 9), merged=t(6, 10, 30), sha="m3",
          reviews=[ReviewFact("ann", "APPROVED", t(6, 10))])
# PR D: a bot's PR. PR E: merged before the period.
PR_D = pr(4, created=t(5, 1), merged=t(5, 2), author="dependabot[bot]")
PR_E = pr(5, created=datetime(2024, 2, 1, tzinfo=UTC), merged=datetime(2024, 2, 2, tzinfo=UTC))
# PR F: commented but never approved.
PR_F = pr(6, created=t(7, 0), merged=t(7, 3), reviews=[ReviewFact("dave", "COMMENTED", t(7, 1))])

DEPLOYMENTS = [
    deployment(10, "production", t(5, 12, 30), {"m0"}),        # before m1 was merged in
    deployment(11, "staging", t(5, 13), {"m1"}),               # not production
    deployment(12, "Production", t(5, 15), {"m0", "m1"}),      # first prod deploy with m1
    deployment(13, "prod", t(5, 18), {"m1"}),
]


def test_stages_of_a_reviewed_pr_hand_computed():
    c = pull_request_cycle(PR_A, settings=S, releases=_releases())
    assert c.coding == 3.0          # 09:00 -> 12:00
    assert c.pickup == 2.0          # ready 12:00 (never a draft) -> alice 14:00
    assert c.time_to_first_review == 2.0
    assert c.approved_at == t(5, 10)
    assert c.review == 20.0         # Mon 14:00 -> Tue 10:00
    assert c.merge == 2.0           # Tue 10:00 -> 12:00
    assert c.deploy == 3.0          # merged 12:00 -> deployment 12 at 15:00
    assert c.time_to_approval == 22.0  # Mon 12:00 -> Tue 10:00
    assert c.cycle_time == 27.0     # Mon 09:00 -> Tue 12:00
    assert c.draft == 0.0 and not c.unreviewed


def test_draft_time_is_excluded_from_pickup():
    c = pull_request_cycle(PR_B, settings=S)
    assert c.coding == 2.0          # 08:00 -> opened 10:00
    # ready 14:00 -> review 20:00 = 6 h, minus the 16:00-18:00 draft = 4 h
    assert c.pickup == 4.0
    assert c.review == 0.0          # the first review was the approval
    assert c.merge == 1.0           # 20:00 -> 21:00
    assert c.time_to_approval == 4.0
    assert c.draft == 6.0           # 10-14 and 16-18
    assert c.cycle_time == 13.0     # 08:00 -> 21:00
    assert c.deploy is None


def test_no_reviews_means_unreviewed_not_zero():
    c = pull_request_cycle(PR_C, settings=S)
    assert c.unreviewed
    assert c.pickup is None and c.review is None and c.merge is None
    assert c.time_to_first_review is None and c.time_to_approval is None
    assert c.cycle_time == 1.5 and c.coding is None


def test_review_during_draft_gives_zero_pickup_and_post_merge_reviews_do_not_count():
    early = pr(7, created=t(4, 9), merged=t(4, 15), drafts=[(t(4, 9), t(4, 12))], ready=t(4, 12),
               reviews=[ReviewFact("bob", "APPROVED", t(4, 10))])
    c = pull_request_cycle(early, settings=S)
    assert c.pickup == 0.0 and c.merge == 5.0  # approved 10:00, merged 15:00
    late = pr(8, created=t(4, 9), merged=t(4, 10), reviews=[ReviewFact("bob", "APPROVED", t(4, 11))])
    assert pull_request_cycle(late, settings=S).unreviewed


def test_changes_requested_after_the_only_approval_means_no_approval():
    p = pr(9, created=t(4, 9), merged=t(4, 12), reviews=[
        ReviewFact("bob", "APPROVED", t(4, 10)), ReviewFact("eve", "CHANGES_REQUESTED", t(4, 11))])
    c = pull_request_cycle(p, settings=S)
    assert c.pickup == 1.0 and c.approved_at is None and c.review is None and c.merge is None


def test_contains_callable_supplied_by_the_caller():
    order = {"m0": 0, "m1": 1, "m9": 9}  # commit ordering on the default branch
    release = Release("deployment", 20, 1, "m9", frozenset(), t(5, 20), None)
    c = pull_request_cycle(PR_A, settings=S, releases=[release],
                           contains=lambda r, sha: order[sha] <= order[r.sha])
    assert c.deploy == 8.0  # Tue 12:00 -> 20:00


def test_unmerged_pr_rejected():
    with pytest.raises(ValueError):
        pull_request_cycle(pr(10, created=t(4, 1), merged=None), settings=S)


def test_aggregate_report():
    report = cycle_time([PR_A, PR_B, PR_C, PR_D, PR_E, PR_F], period=PERIOD, settings=S,
                        deployments=DEPLOYMENTS)
    total = report.cycle_time
    # cycle times: A 27, B 13, C 1.5, F 3 -> sorted [1.5, 3, 13, 27]
    assert total.count == 4 and total.unit == "hours"
    assert total.value == 8.0 and total.details["median"] == 8.0       # (3 + 13) / 2
    assert total.details["average"] == 11.125                          # 44.5 / 4
    assert total.details["p95"] == pytest.approx(24.9)                 # pos 2.85: 13 + 14*0.85
    assert [(e.reason, e.count) for e in total.excluded] == [("authored by a bot", 1)]
    assert total.excluded[0].items[0].details["rule"] == "login ends with [bot]"

    pickup = report.stages["pickup"]
    assert sorted(i.value for i in pickup.items) == [1.0, 2.0, 4.0]   # F, A, B
    assert pickup.value == 2.0
    assert {e.reason: e.count for e in pickup.excluded} == {"authored by a bot": 1, "unreviewed": 1}
    review = report.stages["review"]
    assert {e.reason: e.count for e in review.excluded} == {
        "authored by a bot": 1, "unreviewed": 1, "merged without approval": 1}
    assert review.details["average"] == 10.0                          # (20 + 0) / 2
    deploy = report.stages["deploy"]
    assert deploy.value == 3.0 and deploy.count == 1
    assert {e.reason: e.count for e in deploy.excluded}[
        "no production deployment contains the merge commit"] == 3
    assert report.unreviewed.value == 1.0 and report.unreviewed.details["percent"] == 25.0
    data = to_json(total, explain=True)
    assert data["excluded"][0]["items"][0]["id"] == 4 and len(data["items"]) == 4
    assert "items" not in to_json(total)


def _releases():
    from devmetrics_app.metrics.calc.dora import production_releases

    return production_releases(DEPLOYMENTS, settings=S)
