"""`ai_reviews`: one row per (pull request, head SHA, diff hash, prompt version), with its cost.

The key is the whole idea of "cheap": the same diff under the same prompt is never paid for
twice. A duplicate event finds its row already done; a rebase (new head, same diff) copies the
stored result of the old head at zero cost; an explicit re-run re-uses the row and *adds* its
tokens and cost, so the ledger still sums to what was spent. Monthly spend per installation is
the sum of `cost_usd` over rows created this calendar month (UTC).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from devmetrics_app.ai.claude import CostEstimate, TokenUsage
from devmetrics_app.ai.files import PrFile
from devmetrics_app.review.result import ReviewResult

SKIPPED_DIFF = "-"  # the diff hash of a pull request skipped before its files were read
STALE_MINUTES = 15  # an analysis "running" longer than this is presumed dead (its worker died)
ACTIVE = ("queued", "in_progress")
REUSABLE_SOURCES = ("model", "floor")  # a floor forced by the budget or an error is worth retrying

Conn = asyncpg.Connection | asyncpg.Pool


def diff_hash(files: list[PrFile]) -> str:
    """What was changed, independent of the commit it sits on: name, status and patch per file."""
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.filename):
        patch = f.patch if f.patch is not None else f"<no patch: +{f.additions} -{f.deletions}>"
        for part in (f.filename, f.status, f.previous_filename or "", patch):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Claim:
    kind: Literal["new", "busy", "done"]
    id: int
    row: asyncpg.Record | None = None


async def claim(conn: Conn, *, installation_id: int, repository_id: int, pull_request_id: int,
                head_sha: str, diff: str, prompt_version: str, force: bool) -> Claim:
    """Create the row, or take over an existing one: `busy` when another worker is on it, `done`
    when it is finished and nobody asked for a re-run."""
    new_id = await conn.fetchval(
        """INSERT INTO ai_reviews (installation_id, repository_id, pull_request_id, head_sha,
                                   diff_hash, prompt_version)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (pull_request_id, head_sha, diff_hash, prompt_version) DO NOTHING
           RETURNING id""",
        installation_id, repository_id, pull_request_id, head_sha, diff, prompt_version)
    if new_id is not None:
        return Claim("new", new_id)
    row = await conn.fetchrow(
        """UPDATE ai_reviews SET status = 'queued', error = NULL, completed_at = NULL,
                  check_run_id = NULL, created_at = now()
           WHERE pull_request_id = $1 AND head_sha = $2 AND diff_hash = $3 AND prompt_version = $4
             AND (($5 AND NOT (status = ANY($6::text[]) AND created_at > now() - make_interval(mins => $7)))
                  OR status IN ('cancelled', 'failed')
                  OR (status = ANY($6::text[]) AND created_at <= now() - make_interval(mins => $7)))
           RETURNING id""",
        pull_request_id, head_sha, diff, prompt_version, force, list(ACTIVE), STALE_MINUTES)
    if row is not None:
        return Claim("new", row["id"])
    existing = await conn.fetchrow(
        """SELECT * FROM ai_reviews WHERE pull_request_id = $1 AND head_sha = $2 AND diff_hash = $3
             AND prompt_version = $4""", pull_request_id, head_sha, diff, prompt_version)
    kind: Literal["busy", "done"] = "busy" if existing["status"] in ACTIVE else "done"
    return Claim(kind, existing["id"], existing)


async def reusable(conn: Conn, *, pull_request_id: int, head_sha: str, diff: str,
                   prompt_version: str) -> asyncpg.Record | None:
    """The newest finished review of the same diff on another head (a rebase, a re-push)."""
    return await conn.fetchrow(
        """SELECT * FROM ai_reviews
           WHERE pull_request_id = $1 AND diff_hash = $2 AND prompt_version = $3 AND head_sha <> $4
             AND status = 'completed' AND source = ANY($5::text[])
           ORDER BY completed_at DESC NULLS LAST, id DESC LIMIT 1""",
        pull_request_id, diff, prompt_version, head_sha, list(REUSABLE_SOURCES))


async def supersede(conn: Conn, *, pull_request_id: int, head_sha: str) -> list[asyncpg.Record]:
    """Cancel analyses of older heads still running; returns them (their check runs to close)."""
    return await conn.fetch(
        """UPDATE ai_reviews r SET status = 'cancelled', completed_at = now(),
                  error = 'superseded by a newer head'
           FROM repositories repo
           WHERE r.pull_request_id = $1 AND r.head_sha <> $2 AND r.status = ANY($3::text[])
             AND repo.id = r.repository_id
           RETURNING r.id, r.check_run_id, r.head_sha, repo.full_name""",
        pull_request_id, head_sha, list(ACTIVE))


async def set_status(conn: Conn, review_id: int, status: str, *, skip_reason: str | None = None) -> bool:
    """Move an active row on; False when it was cancelled (superseded) in the meantime."""
    done = status in ("skipped", "failed")
    value = await conn.fetchval(
        """UPDATE ai_reviews SET status = $2, skip_reason = COALESCE($3, skip_reason),
                  completed_at = CASE WHEN $4 THEN now() ELSE completed_at END
           WHERE id = $1 AND status = ANY($5::text[]) RETURNING id""",
        review_id, status, skip_reason, done, list(ACTIVE))
    return value is not None


async def set_check_run(conn: Conn, review_id: int, check_run_id: int) -> None:
    await conn.execute("UPDATE ai_reviews SET check_run_id = $2 WHERE id = $1", review_id, check_run_id)


async def set_comment(conn: Conn, review_id: int, comment_id: int) -> None:
    await conn.execute("UPDATE ai_reviews SET comment_id = $2 WHERE id = $1", review_id, comment_id)


async def add_usage(conn: Conn, review_id: int, model: str | None, usage: TokenUsage | None,
                    cost: CostEstimate | None) -> None:
    """Spent is spent: recorded even when the analysis is then cancelled or fails."""
    if usage is None or usage.calls == 0:
        return
    await conn.execute(
        """UPDATE ai_reviews SET model = COALESCE($2, model), input_tokens = input_tokens + $3,
                  output_tokens = output_tokens + $4, cache_read_tokens = cache_read_tokens + $5,
                  cache_write_tokens = cache_write_tokens + $6, cost_usd = cost_usd + $7
           WHERE id = $1""",
        review_id, model, usage.input_tokens, usage.output_tokens, usage.cache_read_input_tokens,
        usage.cache_creation_input_tokens, cost.usd if cost else 0)


async def complete(conn: Conn, review_id: int, result: ReviewResult) -> bool:
    """Store the result; False (and nothing stored) when the row was superseded meanwhile."""
    value = await conn.fetchval(
        """UPDATE ai_reviews SET status = 'completed', completed_at = now(), source = $2,
                  risk_score = $3, floor_score = $4, complexity = $5, review_minutes = $6,
                  summary = $7, findings = $8, floor_reasons = $9, coverage = $10,
                  injection_flagged = $11, model = COALESCE($12, model), error = $13
           WHERE id = $1 AND status = ANY($14::text[]) RETURNING id""",
        review_id, result.source, result.score, result.floor_score, result.complexity,
        result.review_minutes, result.summary, result.findings, result.floor_reasons,
        result.coverage_doc(), result.injection_flagged, result.model, result.error, list(ACTIVE))
    return value is not None


async def monthly_spend(conn: Conn, installation_id: int) -> float:
    value = await conn.fetchval(
        """SELECT COALESCE(sum(cost_usd), 0) FROM ai_reviews
           WHERE installation_id = $1 AND created_at >= date_trunc('month', now() AT TIME ZONE 'UTC')
                                                       AT TIME ZONE 'UTC'""", installation_id)
    return float(value)


async def load(conn: Conn, review_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM ai_reviews WHERE id = $1", review_id)
    return dict(row) if row else None
