"""DORA keys from webhook deliveries to the API figure, against timelines whose expected values
are worked out by hand below (not by the code under test).

Lead time: definition followed (DORA 2023 State of DevOps report, "change lead time: the time it takes
for a code change to go from committed to deployed"; Google Four Keys' lead_time query: the
deployment's time minus the change's commit timestamp). Which deployment releases a commit
follows Apache DevLake's deployment-commit diff rather than Four Keys' (Four Keys only credits
the commits of the push whose head was deployed): the first successful production deployment
at or after the moment the commit reached the default branch (the merge push of its PR, or its
direct push) whose sha is that commit or a descendant. Merge commits are not changes.

Change failure rate (DORA 2023: "the percentage of deployments that cause failures in
production"; Four Keys' change_failure_rate query: a deployment fails when an incident's root
cause is one of its changes): a revert PR names what it reverts ("Reverts owner/repo#N" from
GitHub's Revert button, "This reverts commit <sha>." from git), and the failure belongs to the
deployment that first shipped that change. A revert naming nothing blames nobody.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import payloads as p
from conftest import deliver
from served import service

from devmetrics_app.metrics import materialize
from devmetrics_app.metrics.explain import Period

REPO = p.REPO_API
INST = p.ORG_INSTALLATION_ID
MARCH = Period(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC))
DAYS = [date(2024, 3, 1) + timedelta(days=i) for i in range(31)]
WEB_FLOW = {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"}


def iso(day: int, hour: int, minute: int = 0, second: int = 0) -> str:
    return datetime(2024, 3, day, hour, minute, second, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def commit(key: str, when: str, message: str | None = None, **kw) -> dict:
    return p.commit(message or f"Change {key}", repo=REPO, author=p.ALICE, timestamp=when,
                    id=p.sha(key), **kw)


async def push(pool, ref: str, commits: list[dict], when: str) -> None:
    await deliver(pool, "push", p.push_event(repo=REPO, ref=f"refs/heads/{ref}", commits=commits,
                                             sender=p.ALICE, pushed_at=when, installation_id=INST))


async def deploy(pool, number: int, sha: str, created: str, finished: str, state: str = "success") -> None:
    dep = p.deployment(repo=REPO, sha_=sha, creator=p.ALICE, created_at=created, id=9000 + number)
    await deliver(pool, "deployment", p.deployment_event("created", dep, repo=REPO, sender=p.ALICE,
                                                         installation_id=INST))
    await deliver(pool, "deployment_status", p.deployment_status_event(
        state, dep, repo=REPO, sender=p.ALICE, created_at=finished, installation_id=INST))


async def test_a_commit_is_released_by_the_first_deployment_after_it_reached_main(pool):
    a1 = commit("a1", iso(4, 9))                       # PR #1's commit, authored Mar 4 09:00
    d1 = commit("d1", iso(4, 11))                      # a direct commit, committed Mar 4 11:00
    merge = commit("mA", iso(5, 10), "Merge pull request #1 from acme/feature-a\n\nChange a1")
    merge["committer"] = dict(WEB_FLOW)
    await push(pool, "feature-a", [a1], iso(4, 9, 5))
    await push(pool, "main", [d1], iso(4, 12))         # d1 reaches main at Mar 4 12:00
    # D1 deploys d1: finished Mar 4 12:45. PR #1 is not merged yet, so a1 is not in it,
    # although a1's commit time (09:00) is older than d1's.
    await deploy(pool, 1, d1["id"], iso(4, 12, 30), iso(4, 12, 45))
    # PR #1 merges on Mar 5 10:00 with a web-flow merge commit: a1 reaches main then.
    await push(pool, "main", [{**a1, "distinct": False}, merge], iso(5, 10, 0, 5))
    # D2 fails, D3 ships the merge commit at Mar 5 11:45.
    await deploy(pool, 2, merge["id"], iso(5, 10, 30), iso(5, 10, 45), state="failure")
    await deploy(pool, 3, merge["id"], iso(5, 11, 30), iso(5, 11, 45))
    async with pool.acquire() as conn:
        await materialize.recompute_installation(conn, INST, DAYS)
        dora = await service.dora(conn, service.Scope(INST, MARCH), explain=True)
    lead = dora["lead_time"]
    # d1: D1 12:45 - committed 11:00           = 1.75 h
    # a1: D3 Mar 5 11:45 - committed Mar 4 09:00 = 24 h + 2.75 h = 26.75 h
    # the merge commit is not a change.
    assert {i["id"]: i["value"] for i in lead["items"]} == {a1["id"]: 26.75, d1["id"]: 1.75}
    assert {i["id"]: i["details"]["release"] for i in lead["items"]} == {
        a1["id"]: "deployment:9003", d1["id"]: "deployment:9001"}
    assert lead["value"] == (1.75 + 26.75) / 2  # median of two = 14.25 h
    assert lead["count"] == 2
    # Excluded: the merge commit, counted apart; every other commit of March was deployed.
    assert {e["reason"]: e["count"] for e in lead["excluded"]} == {"merge commits (not changes)": 1}


async def test_default_branch_push_time_is_the_earliest_and_order_free(pool):
    a1 = commit("a1", iso(4, 9))
    main_push = (("main", [a1], iso(5, 10)), ("main", [a1], iso(6, 10)), ("feature-a", [a1], iso(4, 9, 5)))
    for ref, commits, when in reversed(main_push):
        await push(pool, ref, commits, when)
    row = await pool.fetchrow(
        "SELECT branches, default_branch_pushed_at, is_merge FROM commits WHERE sha = $1", a1["id"])
    assert row["branches"] == ["feature-a", "main"] and row["is_merge"] is False
    assert row["default_branch_pushed_at"] == datetime(2024, 3, 5, 10, tzinfo=UTC)


async def merge_and_deploy(pool, number: int, merged: str, deployed: str, *, title: str | None = None,
                           body: str | None = None) -> str:
    """PR `number` merged at `merged` (web-flow merge commit pushed 5 s later) and deployed by a
    deployment that succeeds at `deployed`; returns the merge commit's sha."""
    merge_sha = p.sha(f"merge-{number}")
    title = title or f"Change {number}"
    merge = commit(f"merge-{number}", merged, f"Merge pull request #{number} from acme/f{number}\n\n{title}")
    merge["id"] = merge_sha
    merge["committer"] = dict(WEB_FLOW)
    pushed = (datetime.fromisoformat(merged.replace("Z", "+00:00")) + timedelta(seconds=5))
    await push(pool, "main", [merge], pushed.strftime("%Y-%m-%dT%H:%M:%SZ"))
    pr = p.pull_request(number, repo=REPO, user=p.ALICE, title=title, body=body, state="closed", merged=True,
                        head_ref=f"f{number}", created_at=iso(1, 9), closed_at=merged, merged_at=merged,
                        merge_commit_sha=merge_sha, merged_by=p.ALICE, updated_at=merged, id=7000 + number)
    await deliver(pool, "pull_request", p.pull_request_event("closed", pr, sender=p.ALICE,
                                                             installation_id=INST))
    created = (datetime.fromisoformat(deployed.replace("Z", "+00:00")) - timedelta(minutes=15))
    await deploy(pool, number, merge_sha, created.strftime("%Y-%m-%dT%H:%M:%SZ"), deployed)
    return merge_sha


async def test_a_revert_fails_the_deployment_that_first_shipped_what_it_names(pool):
    # Deployment 900N ships PR #N's merge commit, 45 minutes after the merge.
    await merge_and_deploy(pool, 1, iso(4, 10), iso(4, 10, 45))
    m2 = await merge_and_deploy(pool, 2, iso(4, 14), iso(4, 14, 45))
    await merge_and_deploy(pool, 3, iso(5, 9), iso(5, 9, 45))
    # #4 reverts PR #1 -> fails 9001 (not 9003, the latest deployment before the revert).
    await merge_and_deploy(pool, 4, iso(5, 12), iso(5, 12, 45), title='Revert "Change 1"',
                           body="Reverts acme/api#1")
    # #5 reverts #2's merge commit by sha -> fails 9002 (not 9004).
    await merge_and_deploy(pool, 5, iso(5, 15), iso(5, 15, 45), title='Revert "Change 2"',
                           body=f"This reverts commit {m2}.\n\nIt broke the login.")
    # #6 says it reverts something but names nothing: no deployment is blamed (not 9005).
    await merge_and_deploy(pool, 6, iso(6, 10), iso(6, 10, 45), title='Revert "a bad idea"', body="")
    async with pool.acquire() as conn:
        await materialize.recompute_installation(conn, INST, DAYS)
        dora = await service.dora(conn, service.Scope(INST, MARCH), explain=True)
    cfr = dora["change_failure_rate"]
    # Attempts: 9001..9006 = 6; failed: 9001 and 9002 = 2 -> 2 / 6 = 33.3 %.
    assert cfr["count"] == 6 and cfr["failed"] == 2
    assert cfr["value"] == 2 / 6 * 100
    assert {i["id"]: i["details"]["failed_by"] for i in cfr["items"]} == {9001: ["revert"], 9002: ["revert"]}
    assert {e["reason"]: e["count"] for e in cfr["excluded"]} == {
        "revert naming no pull request or commit (not attributed)": 1}
    # 33.3 % is above the 2023 report's medium cluster (15 %): low; the thresholds come along.
    assert cfr["benchmark"] == "low"
    assert cfr["benchmark_thresholds"]["medium"] == {"rule": "<= 15", "report": "15%"}
