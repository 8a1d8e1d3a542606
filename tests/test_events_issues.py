"""issues and milestone handlers, against the real database."""

from __future__ import annotations

from typing import Any

import asyncpg
import payloads as p
import pytest
from conftest import deliver
from payloads import sample

from devmetrics_app.events import issues

ISSUE_20 = p.issue_id(p.REPO_WEB_ID, 20)
V1_ID = p.stable_id("milestone", p.REPO_WEB_ID, 1)
BUG = p.label("bug", repo=p.REPO_WEB, color="d73a4a", default=True)
BASE = {"repo": p.REPO_WEB, "user": p.CAROL, "created_at": p.at(0)}
BOOKKEEPING = ("created_at", "updated_at")




async def send(pool: asyncpg.Pool, event: str, payload: dict[str, Any], **kw: Any) -> str | None:
    return await deliver(pool, event, payload, router=issues.router, **kw)


async def issue_row(pool: asyncpg.Pool, issue_id: int = ISSUE_20) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT * FROM issues WHERE id = $1", issue_id)
    return dict(row) if row else None


async def milestone_row(pool: asyncpg.Pool, milestone_id: int = V1_ID) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT * FROM milestones WHERE id = $1", milestone_id)
    return dict(row) if row else None


def content(row: dict[str, Any] | None) -> dict[str, Any]:
    """A row without its bookkeeping timestamps, for 'nothing changed' comparisons."""
    assert row is not None
    return {k: v for k, v in row.items() if k not in BOOKKEEPING}


# --------------------------------------------------------------------------- issues


async def test_opened_stores_issue_repository_and_author(pool: asyncpg.Pool) -> None:
    assert await send(pool, "issues", sample("issues", "opened")) == "processed"
    row = await issue_row(pool)
    assert row is not None
    assert row["installation_id"] == p.ORG_INSTALLATION_ID
    assert row["repository_id"] == p.REPO_WEB_ID
    assert (row["number"], row["state"], row["state_reason"]) == (20, "OPEN", None)
    assert row["title"] == "Dashboard shows wrong cycle time"
    assert row["body"] == "The median looks off by a day."
    assert (row["author_id"], row["author_login"]) == (p.CAROL["id"], "carol")
    assert row["labels"] == [] and row["assignee_ids"] == [] and row["milestone_id"] is None
    assert row["github_created_at"].isoformat() == "2024-05-01T10:00:00+00:00"
    assert row["closed_at"] is None and row["deleted_at"] is None and row["transferred_to"] is None
    repo = await pool.fetchrow("SELECT * FROM repositories WHERE id = $1", p.REPO_WEB_ID)
    assert repo["full_name"] == "acme/web" and repo["installation_id"] == p.ORG_INSTALLATION_ID
    carol = await pool.fetchrow("SELECT * FROM users WHERE id = $1", p.CAROL["id"])
    assert carol["login"] == "carol" and carol["is_bot"] is False


async def test_lifecycle_each_action_in_order(pool: asyncpg.Pool) -> None:
    """opened → edited → labeled → unlabeled → milestoned → demilestoned → assigned →
    unassigned → closed → reopened → pinned, each leaving the state its payload describes."""
    unassigned = p.issues_event(
        "unassigned", p.issue(20, updated_at=p.at(15), labels=[BUG], **BASE), assignee=p.BOB
    )
    pinned = p.issues_event(
        "pinned", p.issue(20, updated_at=p.at(630), labels=[BUG], assignees=[p.BOB], **BASE)
    )
    steps: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("opened", sample("issues", "opened"), {"state": "OPEN", "labels": []}),
        ("edited", sample("issues", "edited"), {"github_updated_at": p.at(5)}),
        ("labeled", sample("issues", "labeled"), {"labels": ["bug"]}),
        # The unlabeled sample's issue carries no labels any more.
        ("unlabeled", sample("issues", "unlabeled"), {"labels": []}),
        ("milestoned", sample("issues", "milestoned"), {"milestone_id": V1_ID, "labels": ["bug"]}),
        ("demilestoned", sample("issues", "demilestoned"), {"milestone_id": None}),
        ("assigned", sample("issues", "assigned"), {"assignee_ids": [p.BOB["id"]]}),
        ("unassigned", unassigned, {"assignee_ids": []}),
        ("closed", sample("issues", "closed"),
         {"state": "CLOSED", "state_reason": "completed", "closed_at": p.at(600),
          "assignee_ids": [p.BOB["id"]]}),
        ("reopened", sample("issues", "reopened"),
         {"state": "OPEN", "state_reason": "reopened", "closed_at": None}),
        ("pinned", pinned, {"state": "OPEN", "github_updated_at": p.at(630)}),
    ]
    for action, payload, expected in steps:
        assert payload["action"] == action
        assert await send(pool, "issues", payload) == "processed", action
        row = await issue_row(pool)
        assert row is not None
        for column, value in expected.items():
            got = row[column]
            if hasattr(got, "strftime"):
                got = got.strftime("%Y-%m-%dT%H:%M:%SZ")
            assert got == value, (action, column)
    assert await pool.fetchval("SELECT count(*) FROM issues") == 1
    # milestoned also stored the milestone it named.
    milestone = await milestone_row(pool)
    assert milestone is not None and milestone["title"] == "v1.0"


async def test_replay_same_delivery_id_is_skipped(pool: asyncpg.Pool) -> None:
    payload = sample("issues", "closed")
    assert await send(pool, "issues", payload, delivery_id="issue-dup") == "processed"
    assert await send(pool, "issues", payload, delivery_id="issue-dup") is None
    assert await pool.fetchval("SELECT count(*) FROM issues") == 1


async def test_same_payload_new_delivery_id_changes_nothing(pool: asyncpg.Pool) -> None:
    payload = sample("issues", "closed")
    assert await send(pool, "issues", payload) == "processed"
    before = content(await issue_row(pool))
    assert await send(pool, "issues", payload) == "processed"
    assert content(await issue_row(pool)) == before
    assert await pool.fetchval("SELECT count(*) FROM issues") == 1


async def test_late_older_edit_does_not_undo_close(pool: asyncpg.Pool) -> None:
    assert await send(pool, "issues", sample("issues", "closed")) == "processed"
    late = p.issues_event(
        "edited", p.issue(20, title="Stale title", updated_at=p.at(5), repo=p.REPO_WEB,
                          user=p.CAROL, created_at=p.at(0))
    )
    assert await send(pool, "issues", late) == "processed"
    row = await issue_row(pool)
    assert row is not None
    assert row["state"] == "CLOSED"
    assert row["title"] == "Dashboard shows wrong cycle time"
    assert row["labels"] == ["bug"]


async def test_ghost_author_and_null_body(pool: asyncpg.Pool) -> None:
    assert await send(pool, "issues", sample("issues", "opened-ghost-author-null-body")) == "processed"
    row = await issue_row(pool, p.issue_id(p.REPO_WEB_ID, 21))
    assert row is not None
    assert row["body"] is None
    assert (row["author_id"], row["author_login"]) == (p.GHOST_ID, "ghost")
    assert await pool.fetchval("SELECT login FROM users WHERE id = $1", p.GHOST_ID) == "ghost"


async def test_null_user_and_null_milestone(pool: asyncpg.Pool) -> None:
    iss = p.issue(25, repo=p.REPO_WEB, milestone=None, body=None)
    iss["user"] = None
    assert await send(pool, "issues", p.issues_event("opened", iss)) == "processed"
    row = await issue_row(pool, p.issue_id(p.REPO_WEB_ID, 25))
    assert row is not None
    assert row["author_id"] is None and row["author_login"] is None
    assert row["milestone_id"] is None and row["body"] is None


async def test_bot_author(pool: asyncpg.Pool) -> None:
    assert await send(pool, "issues", sample("issues", "opened-by-bot")) == "processed"
    row = await issue_row(pool, p.issue_id(p.REPO_WEB_ID, 24))
    assert row is not None and row["author_login"] == "dependabot[bot]"
    assert await pool.fetchval("SELECT is_bot FROM users WHERE id = $1", p.DEPENDABOT_ID) is True


async def test_transferred_marks_old_row(pool: asyncpg.Pool) -> None:
    assert await send(pool, "issues", sample("issues", "transferred")) == "processed"
    row = await issue_row(pool, p.issue_id(p.REPO_WEB_ID, 22))
    assert row is not None
    assert row["transferred_to"] == "acme/api"
    assert row["repository_id"] == p.REPO_WEB_ID
    # The new issue is not invented from the old repository's delivery.
    assert await pool.fetchval("SELECT count(*) FROM issues") == 1
    # An older, late delivery for the old issue does not clear the transfer.
    late = p.issues_event("edited", p.issue(22, repo=p.REPO_WEB, updated_at=p.at(1)))
    assert await send(pool, "issues", late) == "processed"
    row = await issue_row(pool, p.issue_id(p.REPO_WEB_ID, 22))
    assert row is not None and row["transferred_to"] == "acme/api"


async def test_deleted_sets_deleted_at_and_sticks(pool: asyncpg.Pool) -> None:
    deleted = sample("issues", "deleted")
    assert await send(pool, "issues", deleted) == "processed"
    row = await issue_row(pool, p.issue_id(p.REPO_WEB_ID, 23))
    assert row is not None and row["deleted_at"] is not None
    first = row["deleted_at"]
    assert await send(pool, "issues", deleted) == "processed"  # replay under a new id
    late = p.issues_event("edited", p.issue(23, repo=p.REPO_WEB, title="Spam"))
    assert await send(pool, "issues", late) == "processed"
    row = await issue_row(pool, p.issue_id(p.REPO_WEB_ID, 23))
    assert row is not None and row["deleted_at"] == first


async def test_pull_request_issue_side_is_skipped(pool: asyncpg.Pool) -> None:
    iss = p.issue(7, repo=p.REPO_API)
    iss["pull_request"] = {
        "url": f"{p.API}/repos/acme/api/pulls/7",
        "html_url": f"{p.WEB}/acme/api/pull/7",
        "diff_url": f"{p.WEB}/acme/api/pull/7.diff",
        "patch_url": f"{p.WEB}/acme/api/pull/7.patch",
        "merged_at": None,
    }
    assert await send(pool, "issues", p.issues_event("labeled", iss, label=BUG)) == "processed"
    assert await pool.fetchval("SELECT count(*) FROM issues") == 0


async def test_user_account_repository(pool: asyncpg.Pool) -> None:
    assert await send(pool, "issues", sample("issues", "opened-user-account-repo")) == "processed"
    row = await issue_row(pool, p.issue_id(p.REPO_TOOL_ID, 4))
    assert row is not None and row["installation_id"] == p.SOLO_INSTALLATION_ID
    repo = await pool.fetchrow("SELECT * FROM repositories WHERE id = $1", p.REPO_TOOL_ID)
    assert (repo["owner_login"], repo["installation_id"]) == ("solo", p.SOLO_INSTALLATION_ID)


async def test_delivery_without_installation_fails_for_good(pool: asyncpg.Pool) -> None:
    payload = sample("issues", "opened")
    del payload["installation"]
    assert await send(pool, "issues", payload) == "failed"
    assert await pool.fetchval("SELECT count(*) FROM issues") == 0


@pytest.mark.parametrize("name", [name for _, name, _ in p.samples_for("issues")])
async def test_every_issue_sample_is_processed(pool: asyncpg.Pool, name: str) -> None:
    payload = sample("issues", name)
    assert await send(pool, "issues", payload) == "processed"
    assert await issue_row(pool, payload["issue"]["id"]) is not None


# --------------------------------------------------------------------------- milestones


async def test_milestone_each_action_in_order(pool: asyncpg.Pool) -> None:
    steps = [
        ("created", {"state": "OPEN", "open_issues": 0, "closed_issues": 0, "closed_at": None}),
        ("edited", {"state": "OPEN"}),
        ("closed", {"state": "CLOSED", "closed_issues": 1}),
        ("opened", {"state": "OPEN", "open_issues": 1, "closed_issues": 1}),
    ]
    for name, expected in steps:
        assert await send(pool, "milestone", sample("milestone", name)) == "processed", name
        row = await milestone_row(pool)
        assert row is not None
        for column, value in expected.items():
            assert row[column] == value, (name, column)
    row = await milestone_row(pool)
    assert row is not None
    assert (row["number"], row["title"], row["description"]) == (1, "v1.0", "First release")
    assert row["creator_id"] == p.CAROL["id"] and row["repository_id"] == p.REPO_WEB_ID
    assert row["due_on"] is not None and row["deleted_at"] is None


async def test_milestone_closed_then_late_edit_stays_closed(pool: asyncpg.Pool) -> None:
    assert await send(pool, "milestone", sample("milestone", "closed")) == "processed"
    assert await send(pool, "milestone", sample("milestone", "edited")) == "processed"
    row = await milestone_row(pool)
    assert row is not None and row["state"] == "CLOSED" and row["closed_at"] is not None


async def test_milestone_deleted_with_null_fields(pool: asyncpg.Pool) -> None:
    payload = sample("milestone", "deleted")
    assert await send(pool, "milestone", payload, delivery_id="ms-del") == "processed"
    assert await send(pool, "milestone", payload, delivery_id="ms-del") is None
    row = await milestone_row(pool, payload["milestone"]["id"])
    assert row is not None
    assert row["deleted_at"] is not None
    assert row["due_on"] is None and row["description"] is None
    before = content(row)
    assert await send(pool, "milestone", payload) == "processed"
    assert content(await milestone_row(pool, payload["milestone"]["id"])) == before


async def test_milestone_ghost_creator(pool: asyncpg.Pool) -> None:
    ms = p.milestone(3, "v3", repo=p.REPO_WEB)
    ms["creator"] = None
    assert await send(pool, "milestone", p.milestone_event("created", ms, sender=p.GHOST)) == "processed"
    row = await milestone_row(pool, ms["id"])
    assert row is not None and row["creator_id"] is None
