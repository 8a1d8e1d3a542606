"""A small, hand-checkable world for the metrics tests (direct inserts: clearer than payloads
for timelines spread over days). Installation A owns repository 10; installation B owns
repository 20 with activity in the same days, which A's figures must never count."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

INST_A, INST_B = 1, 2
ORG_A, ORG_B = 100, 200
REPO_A, REPO_B = 10, 20
ALICE, BOB, CAROL, DEPENDABOT, MALLORY = 1, 2, 3, 4, 5
TEAM = 900


def t(day: int, hour: int = 0, minute: int = 0) -> datetime:
    """March 2024, UTC."""
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


async def seed(conn: asyncpg.Connection) -> None:
    await conn.executemany(
        "INSERT INTO organizations (id, login) VALUES ($1, $2)", [(ORG_A, "acme"), (ORG_B, "other")]
    )
    await conn.executemany(
        """INSERT INTO installations (id, account_id, account_login, account_type)
           VALUES ($1, $2, $3, 'Organization')""",
        [(INST_A, ORG_A, "acme"), (INST_B, ORG_B, "other")],
    )
    await conn.executemany(
        "INSERT INTO users (id, login, type) VALUES ($1, $2, $3)",
        [
            (ALICE, "alice", "User"),
            (BOB, "bob", "User"),
            (CAROL, "carol", "User"),
            (DEPENDABOT, "dependabot[bot]", "Bot"),
            (MALLORY, "mallory", "User"),
        ],
    )
    await conn.executemany(
        """INSERT INTO repositories (id, installation_id, owner_login, name, full_name, default_branch)
           VALUES ($1, $2, $3, $4, $5, 'main')""",
        [(REPO_A, INST_A, "acme", "api", "acme/api"), (REPO_B, INST_B, "other", "api", "other/api")],
    )
    await conn.execute(
        "INSERT INTO teams (id, installation_id, organization_id, slug, name) "
        "VALUES ($1, $2, $3, 'backend', 'Backend')",
        TEAM,
        INST_A,
        ORG_A,
    )
    await conn.executemany(
        "INSERT INTO team_members (team_id, user_id, installation_id) VALUES ($1, $2, $3)",
        [(TEAM, ALICE, INST_A), (TEAM, CAROL, INST_A)],
    )
    prs = [
        # id, inst, repo, number, author, login, created, merged, merge sha, head_ref, state
        (101, INST_A, REPO_A, 1, ALICE, "alice", t(1, 10), t(2, 10), "m101", "f101", "MERGED"),
        (102, INST_A, REPO_A, 2, BOB, "bob", t(3, 9), t(4, 12), None, "f102", "MERGED"),
        (103, INST_A, REPO_A, 3, DEPENDABOT, "dependabot[bot]", t(5, 9), t(5, 10), "m103", "deps", "MERGED"),
        (104, INST_A, REPO_A, 4, CAROL, "carol", t(2, 10), t(6, 12), "m104", "f104", "MERGED"),
        (105, INST_A, REPO_A, 5, ALICE, "alice", t(7, 10), None, None, "f105", "OPEN"),
        (201, INST_B, REPO_B, 1, MALLORY, "mallory", t(1, 10), t(1, 11), "m201", "x", "MERGED"),
    ]
    for pr in prs:
        await conn.execute(
            """INSERT INTO pull_requests (id, installation_id, repository_id, number, title, author_id,
                   author_login, github_created_at, github_updated_at, merged_at, closed_at,
                   merge_commit_sha, head_ref, state, ready_for_review_at, additions, deletions,
                   requested_reviewers)
               VALUES ($1, $2, $3, $4, 'PR ' || $4::int, $5, $6, $7, $7, $8, $8, $9, $10, $11,
                       $7, 10, 2, $12)""",
            *pr,
            [{"id": BOB, "login": "bob", "kind": "user"}] if pr[0] == 105 else [],
        )
    # PR 102 was opened as a draft and became ready three hours later.
    await conn.execute("UPDATE pull_requests SET ready_for_review_at = $1 WHERE id = 102", t(3, 12))
    await conn.executemany(
        """INSERT INTO pull_request_events (pull_request_id, installation_id, kind, occurred_at, details)
           VALUES ($1, $2, $3, $4, $5)""",
        [(102, INST_A, "opened", t(3, 9), {"draft": True}), (102, INST_A, "ready_for_review", t(3, 12), {})],
    )
    reviews = [
        (1, INST_A, REPO_A, 101, BOB, "bob", "COMMENTED", t(1, 14)),
        (2, INST_A, REPO_A, 101, BOB, "bob", "APPROVED", t(1, 20)),
        (3, INST_A, REPO_A, 104, ALICE, "alice", "CHANGES_REQUESTED", t(3, 10)),
        (4, INST_A, REPO_A, 104, ALICE, "alice", "APPROVED", t(5, 10)),
        (5, INST_B, REPO_B, 201, MALLORY, "mallory", "APPROVED", t(1, 10, 30)),
    ]
    await conn.executemany(
        """INSERT INTO pull_request_reviews (id, installation_id, repository_id, pull_request_id, reviewer_id,
               reviewer_login, state, submitted_at, version_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)""",
        reviews,
    )
    commits = [
        (REPO_A, "c101", INST_A, "alice", t(1, 8), ["f101", "main"]),
        (REPO_A, "m101", INST_A, "alice", t(2, 10), ["main"]),
        (REPO_A, "m104", INST_A, "carol", t(6, 12), ["main"]),
        (REPO_A, "c104", INST_A, "carol", t(1, 9), ["f104"]),
        (REPO_B, "m201", INST_B, "mallory", t(1, 11), ["main"]),
    ]
    await conn.executemany(
        """INSERT INTO commits (repository_id, sha, installation_id, author_login, committed_at, authored_at,
               branches) VALUES ($1, $2, $3, $4, $5, $5, $6)""",
        commits,
    )
    deployments = [
        (501, INST_A, REPO_A, "m104", "production", t(6, 13)),
        (502, INST_A, REPO_A, "m101", "production", t(2, 11)),
        (503, INST_A, REPO_A, "m104", "staging", t(6, 13)),
        (601, INST_B, REPO_B, "m201", "production", t(1, 12)),
    ]
    await conn.executemany(
        """INSERT INTO deployments (id, installation_id, repository_id, sha, environment, github_created_at,
               github_updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)""",
        deployments,
    )
    statuses = [
        (1, INST_A, REPO_A, 501, "success", t(6, 14)),
        (2, INST_A, REPO_A, 502, "failure", t(2, 11, 30)),
        (3, INST_A, REPO_A, 503, "success", t(6, 14)),
        (4, INST_B, REPO_B, 601, "success", t(1, 13)),
    ]
    await conn.executemany(
        """INSERT INTO deployment_statuses (id, installation_id, repository_id, deployment_id, state,
               github_created_at, github_updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)""",
        statuses,
    )
    runs = [
        (1, INST_A, REPO_A, "ci", "completed", "success", t(2, 10), ALICE),
        (2, INST_A, REPO_A, "ci", "completed", "failure", t(3, 10), ALICE),
        (3, INST_A, REPO_A, "ci", "completed", "cancelled", t(3, 11), ALICE),
        (4, INST_A, REPO_A, "ci", "completed", "success", t(3, 12), DEPENDABOT),
        (5, INST_A, REPO_A, "ci", "in_progress", None, t(4, 12), ALICE),
        (6, INST_B, REPO_B, "ci", "completed", "failure", t(2, 10), MALLORY),
    ]
    await conn.executemany(
        """INSERT INTO workflow_runs (id, installation_id, repository_id, name, status, conclusion,
               github_created_at, github_updated_at, completed_at, actor_id, head_branch)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $7, CASE WHEN $5::text = 'completed' THEN $7::timestamptz END,
                   $8, 'main')""",
        runs,
    )
    await conn.execute(
        """INSERT INTO milestones (id, installation_id, repository_id, number, title, state, due_on,
               github_created_at, github_updated_at, closed_at) VALUES
           (71, $1, $2, 1, 'Sprint 1', 'CLOSED', $3, $4, $3, $3),
           (72, $1, $2, 2, 'Sprint 2', 'CLOSED', $5, $3, $5, $5),
           (73, $1, $2, 3, 'Sprint 3', 'OPEN', $6, $5, $5, NULL)""",
        INST_A,
        REPO_A,
        t(8),
        t(1),
        t(15),
        t(29),
    )
    issues = [
        # id, inst, repo, number, author, login, state, reason, labels, milestone, created, closed, assignees
        (801, INST_A, REPO_A, 11, ALICE, "alice", "CLOSED", "completed", ["points: 3"], 71, t(1), t(5), []),
        (802, INST_A, REPO_A, 12, BOB, "bob", "CLOSED", "completed", ["size: L"], 71, t(1), t(6), []),
        (803, INST_A, REPO_A, 13, BOB, "bob", "CLOSED", "not_planned", [], 71, t(1), t(6), []),
        (804, INST_A, REPO_A, 14, BOB, "bob", "CLOSED", "completed", [], 72, t(9), t(12), []),
        (
            805,
            INST_A,
            REPO_A,
            15,
            DEPENDABOT,
            "dependabot[bot]",
            "CLOSED",
            "completed",
            [],
            72,
            t(9),
            t(12),
            [],
        ),
        (806, INST_A, REPO_A, 16, ALICE, "alice", "OPEN", None, ["sp/5"], 73, t(16), None, [CAROL]),
        (
            807,
            INST_A,
            REPO_A,
            17,
            BOB,
            "bob",
            "CLOSED",
            "completed",
            ["incident"],
            None,
            t(6, 15),
            t(6, 18),
            [],
        ),
        (
            901,
            INST_B,
            REPO_B,
            1,
            MALLORY,
            "mallory",
            "CLOSED",
            "completed",
            ["incident"],
            None,
            t(2),
            t(3),
            [],
        ),
    ]
    await conn.executemany(
        """INSERT INTO issues (id, installation_id, repository_id, number, title, author_id,
               author_login, state,
               state_reason, labels, milestone_id, github_created_at, github_updated_at, closed_at,
                   assignee_ids)
           VALUES ($1, $2, $3, $4, 'Issue ' || $4::int, $5, $6, $7, $8, $9, $10, $11::timestamptz,
                   coalesce($12::timestamptz, $11::timestamptz), $12, $13)""",
        issues,
    )
