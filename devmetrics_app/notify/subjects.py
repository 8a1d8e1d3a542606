"""What a notification is about, read from the stored rows (never from the webhook payload).

Reading the rows means the evaluation sees the newest state however deliveries were ordered, and
works the same from a follow-up job, the scheduler, or the AI analysis finishing. Every query is
scoped by installation id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from devmetrics_app.notify.messages import one_line
from devmetrics_app.notify.rules import Subject

PR_SQL = """
SELECT p.id, p.installation_id, p.repository_id, p.number, p.title, p.html_url, p.author_id,
       coalesce(p.author_login, u.login, 'ghost') AS author, p.labels, p.state, p.draft,
       p.base_ref, p.github_created_at, p.ready_for_review_at, p.merged_at, r.full_name,
       coalesce(u.is_bot, p.author_login LIKE '%[bot]', false) AS author_is_bot,
       mb.login AS merged_by
FROM pull_requests p
JOIN repositories r ON r.id = p.repository_id
LEFT JOIN users u ON u.id = p.author_id
LEFT JOIN users mb ON mb.id = p.merged_by_id
WHERE p.installation_id = $1 AND p.id = ANY($2::bigint[])
"""

RUN_SQL = """
SELECT w.id, w.repository_id, w.name, w.event, w.head_branch, w.head_sha, w.status, w.conclusion,
       w.run_number, w.run_attempt, w.html_url, coalesce(w.completed_at, w.github_updated_at) AS at,
       r.full_name, r.default_branch, u.login AS actor
FROM workflow_runs w
JOIN repositories r ON r.id = w.repository_id
LEFT JOIN users u ON u.id = w.actor_id
WHERE w.installation_id = $1 AND w.id = $2
"""

DEPLOYMENT_STATUS_SQL = """
SELECT s.id, s.state, s.description, s.log_url, s.github_created_at AS at, s.repository_id,
       d.id AS deployment_id, d.sha, d.ref, coalesce(s.environment, d.environment) AS environment,
       r.full_name, r.html_url, coalesce(du.login, su.login) AS creator
FROM deployment_statuses s
JOIN deployments d ON d.id = s.deployment_id
JOIN repositories r ON r.id = s.repository_id
LEFT JOIN users su ON su.id = s.creator_id
LEFT JOIN users du ON du.id = d.creator_id
WHERE s.installation_id = $1 AND s.id = $2
"""


@dataclass(frozen=True)
class PullRequest:
    row: dict[str, Any]

    @property
    def id(self) -> int:
        return self.row["id"]

    @property
    def subject(self) -> Subject:
        return Subject(key=f"pr:{self.id}", repository_id=self.row["repository_id"],
                       labels=list(self.row["labels"] or []), author=self.row["author"])

    @property
    def is_bot(self) -> bool:
        return bool(self.row["author_is_bot"])

    def context(self) -> dict[str, Any]:
        r = self.row
        return {"repository": r["full_name"], "number": r["number"], "title": one_line(r["title"]),
                "author": r["author"], "labels": list(r["labels"] or []), "draft": r["draft"],
                "base": r["base_ref"] or "", "merged_by": r["merged_by"]}

    def fields(self) -> list[tuple[str, str]]:
        r = self.row
        out = [("Repository", r["full_name"]), ("Author", r["author"])]
        if r["labels"]:
            out.append(("Labels", ", ".join(r["labels"])))
        return out


async def pull_requests(conn: asyncpg.Connection | asyncpg.Pool, installation_id: int,
                        ids: list[int]) -> dict[int, PullRequest]:
    rows = await conn.fetch(PR_SQL, installation_id, ids)
    return {r["id"]: PullRequest(dict(r)) for r in rows}


async def pull_request(conn: asyncpg.Connection | asyncpg.Pool, installation_id: int,
                       pr_id: int) -> PullRequest | None:
    return (await pull_requests(conn, installation_id, [pr_id])).get(pr_id)


async def approved_before(conn: asyncpg.Connection | asyncpg.Pool, pr: PullRequest,
                          moment: datetime) -> bool:
    """An approval by someone other than the author, still standing (not dismissed)."""
    return bool(await conn.fetchval(
        """SELECT true FROM pull_request_reviews
           WHERE pull_request_id = $1 AND state = 'APPROVED' AND submitted_at <= $2
             AND reviewer_id IS DISTINCT FROM $3 LIMIT 1""",
        pr.id, moment, pr.row["author_id"]))


async def workflow_run(conn: asyncpg.Connection | asyncpg.Pool, installation_id: int,
                       run_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(RUN_SQL, installation_id, run_id)
    return dict(row) if row else None


async def deployment_status(conn: asyncpg.Connection | asyncpg.Pool, installation_id: int,
                            status_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(DEPLOYMENT_STATUS_SQL, installation_id, status_id)
    return dict(row) if row else None


async def analysis(conn: asyncpg.Connection | asyncpg.Pool,
                   analysis_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        """SELECT id, installation_id, pull_request_id, head_sha, status, risk_score, summary,
                  coalesce(completed_at, created_at) AS at
           FROM ai_reviews WHERE id = $1""", analysis_id)
    return dict(row) if row else None
