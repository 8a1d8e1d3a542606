"""History import against a real PostgreSQL and the fake GitHub over HTTP (REST + GraphQL)."""

from __future__ import annotations

import copy
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import payloads
import pytest
from conftest import deliver
from fakes.github.state import InjectedFailure
from gidgethub.aiohttp import GitHubAPI

from devmetrics_app.importer import ImportIncomplete, KindProgress, import_repository, progress_for

TOKEN = "ghs_importtesttoken"
INSTALLATION = payloads.ORG_INSTALLATION_ID
REPO = payloads.REPO_API
FULL_NAME = REPO["full_name"]
REQUEST_BUDGET_PER_1000_PRS = 20


class Crash(Exception):
    """Stands in for the process dying right after a page was committed."""


def ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rest_commit(message: str, date: str, author: dict | None, *, parents: int = 1) -> dict:
    """A commit as GET /repos/{o}/{r}/commits lists it."""
    commit_sha = payloads.sha(f"{FULL_NAME}:{message}")
    login = author["login"] if author else None
    person = {"name": login or "Contractor",
              "email": payloads.noreply_email(login, author["id"]) if author
              else "contractor@example.com", "date": date}
    api = f"{payloads.API}/repos/{FULL_NAME}"
    return {
        "sha": commit_sha,
        "node_id": payloads.node_id("Commit", int(commit_sha[:6], 16)),
        "commit": {"author": dict(person), "committer": dict(person), "message": message,
                   "tree": {"sha": payloads.sha("tree:" + commit_sha),
                            "url": f"{api}/git/trees/{payloads.sha('tree:' + commit_sha)}"},
                   "url": f"{api}/git/commits/{commit_sha}", "comment_count": 0,
                   "verification": {"verified": False, "reason": "unsigned", "signature": None,
                                    "payload": None}},
        "url": f"{api}/commits/{commit_sha}",
        "html_url": f"{payloads.WEB}/{FULL_NAME}/commit/{commit_sha}",
        "comments_url": f"{api}/commits/{commit_sha}/comments",
        "author": copy.deepcopy(author),
        "committer": copy.deepcopy(author),
        "parents": [{"sha": payloads.sha(f"{commit_sha}:parent{i}"),
                     "url": f"{api}/commits/{payloads.sha(f'{commit_sha}:parent{i}')}",
                     "html_url": f"{payloads.WEB}/{FULL_NAME}/commit/{i}"} for i in range(parents)],
    }


def give_access(state) -> None:
    state.repositories[FULL_NAME] = copy.deepcopy(REPO)
    state.repository_installation[FULL_NAME] = INSTALLATION
    state.tokens[TOKEN] = {"installation_id": INSTALLATION, "expires_at": time.time() + 86_400}


def seed_world(state) -> dict[str, Any]:
    """A repository with a bit of everything, some of it older than the import window."""
    give_access(state)
    v1 = payloads.milestone(1, "v1.0", repo=REPO, updated_at=ago(5))
    v0 = payloads.milestone(2, "v0.9", repo=REPO, state="closed", updated_at=ago(300),
                            closed_at=ago(300))
    merged = payloads.pull_request(1, repo=REPO, state="closed", merged=True, created_at=ago(10),
                                   updated_at=ago(8), labels=[payloads.label("feature")],
                                   milestone=v1)
    draft = payloads.pull_request(2, repo=REPO, draft=True, created_at=ago(6), updated_at=ago(5),
                                  requested_reviewers=[payloads.BOB],
                                  requested_teams=[payloads.BACKEND_TEAM])
    by_bot = payloads.pull_request(3, repo=REPO, user=payloads.DEPENDABOT, state="closed",
                                   created_at=ago(4), updated_at=ago(3), head_ref="dependabot/x")
    fork = payloads.pull_request(4, repo=REPO, user=payloads.OUTSIDER, head_repo=payloads.REPO_FORK,
                                 created_at=ago(2), updated_at=ago(1), head_ref="patch-1")
    old = payloads.pull_request(5, repo=REPO, created_at=ago(200), updated_at=ago(150))
    state.pulls[FULL_NAME] = [merged, draft, by_bot, fork, old]
    state.reviews[(FULL_NAME, 1)] = [
        payloads.review(merged, seq=1, user=payloads.BOB, submitted_at=ago(9)),
        payloads.review(merged, seq=2, user=payloads.REVIEW_BOT, state="commented",
                        submitted_at=ago(9.5)),
        payloads.review(merged, seq=3, user=payloads.CAROL, state="changes_requested",
                        submitted_at=ago(9.8)),
    ]
    state.reviews[(FULL_NAME, 5)] = [payloads.review(old, seq=1, submitted_at=ago(160))]
    state.milestones[FULL_NAME] = [v1, v0]
    state.issues[FULL_NAME] = [
        payloads.issue(30, repo=REPO, created_at=ago(20), updated_at=ago(2), milestone=v1),
        payloads.issue(31, repo=REPO, state="closed", created_at=ago(40), updated_at=ago(30)),
        payloads.issue(32, repo=REPO, created_at=ago(400), updated_at=ago(120)),
    ]
    state.commits[FULL_NAME] = [
        rest_commit("Add login", ago(9), payloads.ALICE),
        rest_commit("Merge pull request #1", ago(8), payloads.CAROL, parents=2),
        rest_commit("Hotfix", ago(7), None),
        rest_commit("Ancient", ago(100), payloads.ALICE),
    ]
    state.workflow_runs[FULL_NAME] = [
        payloads.workflow_run(pr=merged, run_number=1, created_at=ago(9)),
        payloads.workflow_run(pr=merged, run_number=2, created_at=ago(8.5), conclusion="failure"),
        payloads.workflow_run(run_number=3, created_at=ago(95)),
    ]
    prod = payloads.deployment(sha_=payloads.sha("prod"), created_at=ago(8))
    staging = payloads.deployment(sha_=payloads.sha("staging"), environment="staging",
                                  created_at=ago(7))
    ancient = payloads.deployment(sha_=payloads.sha("ancient"), created_at=ago(100))
    state.deployments[FULL_NAME] = [prod, staging, ancient]
    state.deployment_statuses[prod["id"]] = [
        payloads.deployment_status(prod, state="in_progress", created_at=ago(7.99)),
        payloads.deployment_status(prod, state="success", created_at=ago(7.9)),
    ]
    state.deployment_statuses[staging["id"]] = [
        payloads.deployment_status(staging, state="failure", created_at=ago(6.9))]
    state.deployment_statuses[ancient["id"]] = [
        payloads.deployment_status(ancient, state="success", created_at=ago(99))]
    return {"merged": merged, "prod": prod, "staging": staging, "ancient": ancient}


def seed_pulls(state, count: int, *, reviews_each: int) -> None:
    """`count` PRs updated one minute apart (all inside the window), each with reviews."""
    give_access(state)
    pulls = []
    for number in range(1, count + 1):
        pr = payloads.pull_request(number, repo=REPO, created_at=ago(30),
                                   updated_at=ago(number / 1440))
        pulls.append(pr)
        state.reviews[(FULL_NAME, number)] = [
            payloads.review(pr, seq=seq, user=payloads.BOB, submitted_at=ago(number / 1440 + 0.001))
            for seq in range(1, reviews_each + 1)]
    state.pulls[FULL_NAME] = pulls


@pytest.fixture
async def github(fake_github):
    state, base_url = fake_github
    async with aiohttp.ClientSession() as session:
        yield state, GitHubAPI(session, "devmetrics-test", oauth_token=TOKEN, base_url=base_url)


def graphql_afters(state) -> list[str | None]:
    return [r.body["variables"].get("after") for r in state.requests_to("POST", "/graphql")
            if "ImportPullRequests" in r.body["query"]]


async def count(pool, table: str) -> int:
    return await pool.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names


# ----------------------------------------------------------------------------- full import


async def test_full_import_stores_every_kind_within_the_window(pool, github) -> None:
    state, gh = github
    world = seed_world(state)
    heard: list[KindProgress] = []
    summary = await import_repository(pool, gh, installation_id=INSTALLATION, repository=FULL_NAME,
                                      days=90, progress=heard.append)

    assert summary.items == {"milestones": 2, "pull_requests": 4, "issues": 2, "commits": 3,
                             "workflow_runs": 2, "deployments": 2}
    prs = {r["number"]: r for r in await pool.fetch("SELECT * FROM pull_requests")}
    assert set(prs) == {1, 2, 3, 4}  # #5 was last updated 150 days ago
    merged = prs[1]
    assert merged["state"] == "MERGED"
    assert merged["id"] == world["merged"]["id"]
    assert merged["merge_commit_sha"] == world["merged"]["merge_commit_sha"]
    assert merged["merged_by_id"] == payloads.CAROL["id"]
    assert merged["labels"] == ["feature"]
    assert merged["milestone_id"] == world["merged"]["milestone"]["id"]
    assert (merged["additions"], merged["deletions"], merged["changed_files"]) == (10, 2, 1)
    assert merged["head_sha"] == world["merged"]["head"]["sha"]
    assert merged["is_fork"] is False
    assert prs[2]["draft"] is True and prs[2]["state"] == "OPEN"
    assert prs[2]["requested_reviewers"] == [
        {"id": payloads.BOB["id"], "login": "bob", "kind": "user"},
        {"id": payloads.BACKEND_TEAM["id"], "login": "backend", "kind": "team"}]
    assert prs[3]["state"] == "CLOSED"
    assert prs[3]["author_login"] == "dependabot[bot]"  # GraphQL says "dependabot": REST login kept
    assert prs[4]["is_fork"] is True
    bot = await pool.fetchrow("SELECT login, type, is_bot FROM users WHERE id = $1",
                              payloads.DEPENDABOT_ID)
    assert tuple(bot) == ("dependabot[bot]", "Bot", True)

    reviews = await pool.fetch("SELECT state, reviewer_login FROM pull_request_reviews "
                               "ORDER BY submitted_at")
    assert [tuple(r) for r in reviews] == [("CHANGES_REQUESTED", "carol"),
                                           ("COMMENTED", "coderabbitai[bot]"), ("APPROVED", "bob")]
    events = await pool.fetch("SELECT kind FROM pull_request_events WHERE pull_request_id = $1 "
                              "ORDER BY occurred_at", world["merged"]["id"])
    assert [e["kind"] for e in events] == ["opened", "merged"]

    issues = await pool.fetch("SELECT number, state, milestone_id FROM issues ORDER BY number")
    assert [(r["number"], r["state"]) for r in issues] == [(30, "OPEN"), (31, "CLOSED")]
    assert await count(pool, "milestones") == 2

    commits = {r["message"]: r for r in await pool.fetch("SELECT * FROM commits")}
    assert set(commits) == {"Add login", "Merge pull request #1", "Hotfix"}
    assert commits["Add login"]["author_id"] == payloads.ALICE["id"]
    assert commits["Add login"]["branches"] == ["main"]
    assert commits["Merge pull request #1"]["is_merge"] is True
    assert commits["Hotfix"]["author_id"] is None

    runs = await pool.fetch("SELECT run_number, conclusion FROM workflow_runs ORDER BY run_number")
    assert [tuple(r) for r in runs] == [(1, "success"), (2, "failure")]

    deployments = {r["id"]: r for r in await pool.fetch("SELECT * FROM deployments")}
    assert set(deployments) == {world["prod"]["id"], world["staging"]["id"]}
    assert deployments[world["prod"]["id"]]["latest_state"] == "success"
    assert deployments[world["staging"]["id"]]["latest_state"] == "failure"
    assert await count(pool, "deployment_statuses") == 3
    # No statuses were asked for the deployment outside the window.
    assert not state.requests_to("GET", f"/repos/{FULL_NAME}/deployments/{world['ancient']['id']}")

    assert heard[-1].kind == "deployments" and heard[-1].done
    async with pool.acquire() as conn:
        report = await progress_for(conn, merged["repository_id"])
    assert report["state"] == "done"
    assert {k: (v["items"], v["done"]) for k, v in report["kinds"].items()} == {
        "milestones": (2, True), "pull_requests": (4, True), "issues": (2, True),
        "commits": (3, True), "workflow_runs": (2, True), "deployments": (2, True)}
    assert report["items"] == 15


async def test_a_shorter_window_imports_less(pool, github) -> None:
    state, gh = github
    seed_world(state)
    summary = await import_repository(pool, gh, installation_id=INSTALLATION, repository=FULL_NAME,
                                      days=5)
    assert summary.items["pull_requests"] == 2  # updated 3 and 1 days ago; #2 at 5 is outside
    assert sorted(r["number"] for r in await pool.fetch("SELECT number FROM pull_requests")) == [3, 4]
    assert summary.items["commits"] == 0
    assert summary.items["deployments"] == 0


# ----------------------------------------------------------------------------- resuming


async def test_import_killed_half_way_resumes_without_refetching(pool, github) -> None:
    state, gh = github
    seed_pulls(state, 250, reviews_each=1)

    def die_after_first_pr_page(event: KindProgress) -> None:
        if event.kind == "pull_requests":
            raise Crash

    with pytest.raises(Crash):
        await import_repository(pool, gh, installation_id=INSTALLATION, repository=FULL_NAME,
                                progress=die_after_first_pr_page)
    assert await count(pool, "pull_requests") == 100  # the committed page survived the crash
    first_run = graphql_afters(state)
    assert first_run == [None]

    summary = await import_repository(pool, gh, installation_id=INSTALLATION, repository=FULL_NAME)
    afters = graphql_afters(state)
    assert afters[0] is None and None not in afters[1:]  # resumed at the stored cursor
    assert len(afters) == 3 and len(set(afters)) == 3  # no page fetched twice
    assert summary.items["pull_requests"] == 150
    assert await count(pool, "pull_requests") == 250
    assert await count(pool, "pull_request_reviews") == 250
    # Milestones had finished before the crash: not fetched again.
    assert len(state.requests_to("GET", f"/repos/{FULL_NAME}/milestones")) == 1


async def test_failed_page_is_recorded_and_only_it_is_fetched_again(pool, github) -> None:
    state, gh = github
    seed_pulls(state, 250, reviews_each=1)

    def fail_next_graphql(event: KindProgress) -> None:
        if event.kind == "pull_requests" and not event.done and not state.failures:
            state.failures.append(InjectedFailure("/graphql", 502, times=1))

    with pytest.raises(ImportIncomplete, match="pull_requests: GitHubBroken"):
        await import_repository(pool, gh, installation_id=INSTALLATION, repository=FULL_NAME,
                                progress=fail_next_graphql)
    repository_id = REPO["id"]
    async with pool.acquire() as conn:
        report = await progress_for(conn, repository_id)
    assert report["state"] == "failed"
    assert report["kinds"]["pull_requests"]["items"] == 100
    assert "Bad Gateway" in report["kinds"]["pull_requests"]["error"]

    await import_repository(pool, gh, installation_id=INSTALLATION, repository=FULL_NAME)
    afters = graphql_afters(state)
    assert len(afters) == 4  # pages 1, 2 (failed), 2 again, 3
    assert afters[1] == afters[2] and len(set(afters)) == 3
    assert await count(pool, "pull_requests") == 250
    async with pool.acquire() as conn:
        report = await progress_for(conn, repository_id)
    assert report["state"] == "done" and report["kinds"]["pull_requests"]["error"] is None


async def test_workflow_runs_are_filtered_by_a_date_time(pool, github) -> None:
    """GitHub's schema types `created` as a date-time: `>=2026-01-01` is not that form."""
    state, gh = github
    seed_world(state)
    summary = await import_repository(pool, gh, installation_id=INSTALLATION, repository=FULL_NAME,
                                      days=90)
    assert summary.items["workflow_runs"] == 2
    [request] = state.requests_to("GET", f"/repos/{FULL_NAME}/actions/runs")
    assert re.fullmatch(r">=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", request.query["created"])


async def test_a_failing_kind_does_not_stop_the_others(pool, github) -> None:
    state, gh = github
    seed_world(state)
    state.failures.append(InjectedFailure(f"/repos/{FULL_NAME}/issues", 500, times=1,
                                          body={"message": "Server Error"}))
    with pytest.raises(ImportIncomplete) as raised:
        await import_repository(pool, gh, installation_id=INSTALLATION, repository=FULL_NAME, days=90)
    assert list(raised.value.errors) == ["issues"]
    async with pool.acquire() as conn:
        report = await progress_for(conn, REPO["id"])
    assert report["state"] == "failed"
    assert "500" in report["kinds"]["issues"]["error"] and not report["kinds"]["issues"]["done"]
    # Every kind after the failing one was imported all the same.
    assert {k for k, v in report["kinds"].items() if v["done"]} == {
        "milestones", "pull_requests", "commits", "workflow_runs", "deployments"}
    assert await count(pool, "workflow_runs") == 2 and await count(pool, "deployments") == 2

    summary = await import_repository(pool, gh, installation_id=INSTALLATION, repository=FULL_NAME, days=90)
    assert summary.items == {"issues": 2}  # the retry redoes only the failed kind
    async with pool.acquire() as conn:
        assert (await progress_for(conn, REPO["id"]))["state"] == "done"


async def test_a_finished_import_starts_over_when_asked_again(pool, github) -> None:
    state, gh = github
    seed_pulls(state, 3, reviews_each=0)
    await import_repository(pool, gh, installation_id=INSTALLATION, repository=FULL_NAME)
    again = await import_repository(pool, gh, installation_id=INSTALLATION, repository=FULL_NAME)
    assert again.items["pull_requests"] == 3
    assert graphql_afters(state) == [None, None]


# ----------------------------------------------------------------------------- races


async def test_import_of_an_older_snapshot_keeps_newer_webhook_data(pool, github) -> None:
    state, gh = github
    world = seed_world(state)
    stale = world["merged"]
    newer = copy.deepcopy(stale)
    newer.update(title="Renamed after the import read it", updated_at=ago(0.5))
    assert await deliver(pool, "pull_request", payloads.pull_request_event("edited", newer)) \
        == "processed"
    dismissed = payloads.review(newer, seq=1, user=payloads.BOB, state="dismissed",
                                submitted_at=ago(9))
    assert await deliver(pool, "pull_request_review", payloads.pull_request_review_event(
        "dismissed", newer, dismissed)) == "processed"

    await import_repository(pool, gh, installation_id=INSTALLATION, repository=FULL_NAME)

    row = await pool.fetchrow("SELECT title, github_updated_at FROM pull_requests WHERE id = $1",
                              stale["id"])
    assert row["title"] == "Renamed after the import read it"
    review = await pool.fetchrow("SELECT state FROM pull_request_reviews WHERE id = $1",
                                 dismissed["id"])
    assert review["state"] == "DISMISSED"
    # ...while what the webhooks never mentioned came from the import.
    assert await count(pool, "pull_request_reviews") == 3


# ----------------------------------------------------------------------------- cost


async def test_a_thousand_pull_requests_with_reviews_cost_few_requests(pool, github) -> None:
    state, gh = github
    seed_pulls(state, 1000, reviews_each=3)
    summary = await import_repository(pool, gh, installation_id=INSTALLATION, repository=FULL_NAME)

    assert summary.items["pull_requests"] == 1000
    assert await count(pool, "pull_request_reviews") == 3000
    graphql = state.requests_to("POST", "/graphql")
    repository = state.requests_to("GET", f"/repos/{FULL_NAME}")
    repo_get = [r for r in repository if r.path == f"/repos/{FULL_NAME}"]
    assert len(graphql) == 10
    assert len(graphql) + len(repo_get) <= REQUEST_BUDGET_PER_1000_PRS
    assert summary.graphql_cost <= 10 * 5  # about 4 points a page


async def test_reviews_beyond_the_first_hundred_are_fetched_for_that_pr_only(pool, github) -> None:
    state, gh = github
    seed_pulls(state, 2, reviews_each=1)
    busy = state.pulls[FULL_NAME][0]
    state.reviews[(FULL_NAME, busy["number"])] = [
        payloads.review(busy, seq=seq, submitted_at=ago(1 + seq / 1440)) for seq in range(1, 106)]
    await import_repository(pool, gh, installation_id=INSTALLATION, repository=FULL_NAME)
    operations = [r.body["query"].split("(", 1)[0].split()[-1]
                  for r in state.requests_to("POST", "/graphql")]
    assert operations == ["ImportPullRequests", "ImportPullRequestReviews"]
    assert await pool.fetchval("SELECT count(*) FROM pull_request_reviews WHERE pull_request_id = $1",
                               busy["id"]) == 105
