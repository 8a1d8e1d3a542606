"""pull_request, pull_request_review and pull_request_review_comment handlers on real rows."""

from __future__ import annotations

import payloads
from conftest import deliver
from payloads import sample

from devmetrics_app.timeutil import parse_ts

PR7_ID = payloads.pr_id(payloads.REPO_API_ID, 7)




async def pr_row(pool, pr_id: int = PR7_ID):
    return await pool.fetchrow("SELECT * FROM pull_requests WHERE id = $1", pr_id)


async def test_opened_draft_with_null_body(pool) -> None:
    payload = sample("pull_request", "opened-draft-null-body")
    assert await deliver(pool, "pull_request", payload) == "processed"
    row = await pr_row(pool)
    assert row["state"] == "OPEN"
    assert row["draft"] is True
    assert row["body"] is None
    assert row["ready_for_review_at"] is None  # a draft is not ready for review
    assert row["author_login"] == "alice"
    repo = await pool.fetchrow("SELECT * FROM repositories WHERE id = $1", payloads.REPO_API_ID)
    assert repo["full_name"] == "acme/api" and repo["installation_id"] == 4242


async def test_nul_characters_do_not_stop_a_delivery(pool) -> None:
    # PostgreSQL stores no NUL in text: the title keeps a visible replacement, the raw body the NUL.
    payload = sample("pull_request", "opened-draft-null-body")
    payload["pull_request"]["title"] = "Fix\x00parser"
    assert await deliver(pool, "pull_request", payload) == "processed"
    assert (await pr_row(pool))["title"] == "Fix\ufffdparser"


async def test_lifecycle_in_order_builds_timeline_and_final_state(pool) -> None:
    for label in ("opened-draft-null-body", "edited-title", "synchronize", "ready_for_review",
                  "review_requested-user", "review_requested-team", "labeled",
                  "converted_to_draft", "ready_for_review-again", "closed-merged"):
        assert await deliver(pool, "pull_request", sample("pull_request", label)) == "processed"
    row = await pr_row(pool)
    merged = sample("pull_request", "closed-merged")["pull_request"]
    assert row["state"] == "MERGED"
    assert row["merged_at"] == parse_ts(merged["merged_at"])
    assert row["merge_commit_sha"] == merged["merge_commit_sha"]
    # Ready for review the first time it left draft, not the second.
    first_ready = sample("pull_request", "ready_for_review")["pull_request"]["updated_at"]
    assert row["ready_for_review_at"] == parse_ts(first_ready)
    kinds = [r["kind"] for r in await pool.fetch(
        "SELECT kind FROM pull_request_events WHERE pull_request_id = $1 ORDER BY occurred_at",
        PR7_ID)]
    assert kinds == ["opened", "synchronize", "ready_for_review", "review_requested",
                     "review_requested", "converted_to_draft", "ready_for_review", "merged"]


async def test_older_delivery_never_overwrites_newer_state(pool) -> None:
    await deliver(pool, "pull_request", sample("pull_request", "closed-merged"))
    # A late 'labeled' from before the merge arrives afterwards.
    assert await deliver(pool, "pull_request", sample("pull_request", "labeled")) == "processed"
    row = await pr_row(pool)
    assert row["state"] == "MERGED"
    # ...but its moment still lands on the timeline (nothing is lost).
    assert await pool.fetchval(
        "SELECT count(*) FROM pull_request_events WHERE pull_request_id = $1", PR7_ID) == 1
    # The late ready_for_review still sets the earliest ready time.
    await deliver(pool, "pull_request", sample("pull_request", "ready_for_review-again"))
    await deliver(pool, "pull_request", sample("pull_request", "ready_for_review"))
    first_ready = sample("pull_request", "ready_for_review")["pull_request"]["updated_at"]
    assert (await pr_row(pool))["ready_for_review_at"] == parse_ts(first_ready)


async def test_replay_is_harmless(pool) -> None:
    payload = sample("pull_request", "review_requested-user")
    assert await deliver(pool, "pull_request", payload, delivery_id="d-1") == "processed"
    before = dict(await pr_row(pool))
    assert await deliver(pool, "pull_request", payload, delivery_id="d-1") is None
    assert await deliver(pool, "pull_request", payload, delivery_id="d-2") == "processed"
    after = dict(await pr_row(pool))
    before.pop("updated_at"), after.pop("updated_at")
    assert before == after
    assert await pool.fetchval("SELECT count(*) FROM pull_request_events") == 1


async def test_fork_and_deleted_fork(pool) -> None:
    fork = sample("pull_request", "opened-from-fork")
    await deliver(pool, "pull_request", fork)
    row = await pr_row(pool, fork["pull_request"]["id"])
    assert row["is_fork"] is True
    assert row["head_repository_id"] == payloads.REPO_FORK_ID
    gone = sample("pull_request", "closed-fork-deleted-head-repo-null")
    await deliver(pool, "pull_request", gone)
    row = await pr_row(pool, gone["pull_request"]["id"])
    assert row["is_fork"] is True and row["head_repository_id"] is None


async def test_bot_and_ghost_authors(pool) -> None:
    bot_pr = sample("pull_request", "opened-by-bot")
    await deliver(pool, "pull_request", bot_pr)
    assert await pool.fetchval("SELECT is_bot FROM users WHERE id = $1",
                               payloads.DEPENDABOT_ID) is True
    ghost = sample("pull_request", "edited-ghost-author")
    await deliver(pool, "pull_request", ghost)
    row = await pr_row(pool, ghost["pull_request"]["id"])
    assert row["author_login"] == "ghost"
    assert await pool.fetchval("SELECT is_bot FROM users WHERE id = $1", payloads.GHOST_ID) is False


async def test_reviews_out_of_order_dismissal_wins(pool) -> None:
    changes = sample("pull_request_review", "submitted-changes_requested")
    dismissed = sample("pull_request_review", "dismissed")
    await deliver(pool, "pull_request_review", dismissed)
    await deliver(pool, "pull_request_review", changes)  # late, older
    row = await pool.fetchrow("SELECT * FROM pull_request_reviews WHERE id = $1",
                              changes["review"]["id"])
    assert row["state"] == "DISMISSED"
    assert row["reviewer_login"] == "bob"
    assert row["submitted_at"] == parse_ts(changes["review"]["submitted_at"])


async def test_review_by_deleted_user_and_bot(pool) -> None:
    for label in ("submitted-deleted-user-null", "submitted-commented-by-bot",
                  "submitted-null-body", "submitted-approved", "edited"):
        assert await deliver(pool, "pull_request_review",
                             sample("pull_request_review", label)) == "processed"
    rows = {r["id"]: r for r in await pool.fetch("SELECT * FROM pull_request_reviews")}
    anonymous = sample("pull_request_review", "submitted-deleted-user-null")["review"]
    assert rows[anonymous["id"]]["reviewer_id"] is None
    approved = sample("pull_request_review", "edited")["review"]
    assert rows[approved["id"]]["state"] == "APPROVED"
    assert rows[approved["id"]]["body"] == "Looks good to me!"


async def test_review_comment_deletion_is_final(pool) -> None:
    created = sample("pull_request_review_comment", "created")
    deleted = sample("pull_request_review_comment", "deleted")
    edited = sample("pull_request_review_comment", "edited")
    await deliver(pool, "pull_request_review_comment", deleted)
    await deliver(pool, "pull_request_review_comment", created)  # late
    await deliver(pool, "pull_request_review_comment", edited)  # late, and newer than the deletion
    row = await pool.fetchrow("SELECT * FROM pull_request_review_comments WHERE id = $1",
                              created["comment"]["id"])
    assert row["deleted_at"] is not None
    assert row["github_updated_at"] == parse_ts(edited["comment"]["updated_at"])


async def test_review_comment_count_comes_from_the_newest_pr_payload(pool) -> None:
    ready = sample("pull_request", "ready_for_review")
    await deliver(pool, "pull_request", ready)
    await deliver(pool, "pull_request_review_comment", sample("pull_request_review_comment", "created"))
    count = (await pr_row(pool))["review_comments_count"]
    assert count == ready["pull_request"]["review_comments"]


async def test_push_commits_and_skips(pool) -> None:
    for label in ("main-merge-with-unlinked-author", "new-branch", "force-push", "branch-deleted",
                  "by-bot", "user-account-repo", "tag-created"):
        assert await deliver(pool, "push", sample("push", label)) == "processed"
    rows = await pool.fetch("SELECT * FROM commits")
    deleted = sample("push", "branch-deleted")
    assert deleted["deleted"] is True and deleted["commits"] == []
    tag = sample("push", "tag-created")
    tag_shas = {c["id"] for c in tag.get("commits") or []}
    stored = {r["sha"] for r in rows}
    assert not (tag_shas - {c["id"] for _, _, p in payloads.samples_for("push")
                            if p is not tag and not p["ref"].startswith("refs/tags/")
                            for c in p["commits"]}) & stored
    main = sample("push", "main-merge-with-unlinked-author")
    for commit in main["commits"]:
        row = next(r for r in rows if r["sha"] == commit["id"])
        assert main["ref"].removeprefix("refs/heads/") in row["branches"]
        assert row["committed_at"] == parse_ts(commit["timestamp"])
    # Replaying every push adds nothing.
    before = len(rows)
    for label in ("main-merge-with-unlinked-author", "new-branch"):
        await deliver(pool, "push", sample("push", label))
    assert await pool.fetchval("SELECT count(*) FROM commits") == before
