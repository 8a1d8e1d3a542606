"""`ai_reviews`: one row per (pull request, head SHA, diff hash, prompt version), with its cost.

The key is the whole idea of "cheap": the same diff under the same prompt is never paid for
twice. A duplicate event finds its row already done; a rebase (new head, same diff) copies the
stored result of the old head at zero cost; an explicit re-run re-uses the row and *adds* its
tokens and cost, so the ledger still sums to what was spent. Monthly spend per installation is
the sum of `cost_usd` over rows created this calendar month (UTC).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from devmetrics_app.ai.claude import CostEstimate, TokenUsage
from devmetrics_app.ai.files import PrFile
from devmetrics_app.review.result import ReviewResult

SKIPPED_DIFF = "-"  # the diff hash of a pull request skipped before its files were read
STALE_MINUTES = 15  # an analysis "running" longer than this is presumed dead (its worker died)
ACTIVE = ("queued", "in_progress")
FINISHED = ("completed", "skipped", "cancelled")  # their check runs are closed: a re-run opens a new one
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
    # A retried analysis takes over the check run its failed attempt recorded, so one commit
    # never shows two runs; `fresh` says no earlier attempt can have created one.
    check_run_id: int | None = None
    fresh: bool = False


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
        return Claim("new", new_id, fresh=True)
    # A finished run (completed, skipped, cancelled) stays as it is and a re-run gets a new one;
    # the run of a failed or dead attempt may still be open, so it is taken over.
    row = await conn.fetchrow(
        """WITH prior AS (
               SELECT id, status AS prior_status FROM ai_reviews
               WHERE pull_request_id = $1 AND head_sha = $2 AND diff_hash = $3 AND prompt_version = $4
               FOR UPDATE)
           UPDATE ai_reviews r SET status = 'queued', error = NULL, completed_at = NULL,
                  published_at = NULL, created_at = now(),
                  check_run_id = CASE WHEN prior_status = ANY($8::text[]) THEN NULL ELSE r.check_run_id END
           FROM prior
           WHERE r.id = prior.id
             AND (($5 AND NOT (r.status = ANY($6::text[])
                               AND r.created_at > now() - make_interval(mins => $7)))
                  OR r.status IN ('cancelled', 'failed')
                  OR (r.status = ANY($6::text[]) AND r.created_at <= now() - make_interval(mins => $7)))
           RETURNING r.id, r.check_run_id, prior.prior_status""",
        pull_request_id, head_sha, diff, prompt_version, force, list(ACTIVE), STALE_MINUTES, list(FINISHED))
    if row is not None:
        return Claim("new", row["id"], check_run_id=row["check_run_id"],
                     fresh=row["prior_status"] in FINISHED)
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
    """Cancel analyses of older heads still running; returns them, with any cancelled earlier
    whose run GitHub was never told about (that PATCH failed), so the caller closes their check
    runs and then marks them shown (`mark_published`)."""
    return await conn.fetch(
        """WITH cancelled AS (
               UPDATE ai_reviews r SET status = 'cancelled', completed_at = now(),
                      error = 'superseded by a newer head'
               WHERE r.pull_request_id = $1 AND r.head_sha <> $2 AND r.status = ANY($3::text[])
               RETURNING r.id, r.check_run_id, r.head_sha, r.repository_id)
           SELECT c.id, c.check_run_id, c.head_sha, repo.full_name
           FROM cancelled c JOIN repositories repo ON repo.id = c.repository_id
           UNION ALL
           SELECT r.id, r.check_run_id, r.head_sha, repo.full_name
           FROM ai_reviews r JOIN repositories repo ON repo.id = r.repository_id
           WHERE r.pull_request_id = $1 AND r.status = 'cancelled' AND r.published_at IS NULL
             AND r.check_run_id IS NOT NULL""",
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


@asynccontextmanager
async def current(pool: asyncpg.Pool, review_id: int, *,
                  statuses: tuple[str, ...] = ACTIVE) -> AsyncIterator[asyncpg.Connection | None]:
    """Hold the review's row lock around a write to GitHub: yields a connection in that
    transaction while the review is still current (in one of `statuses`), else None.

    `supersede` updates the same row, so it waits for the write to finish and then sees the
    check run it recorded (to cancel it); once superseded, a late analysis finds None here and
    never writes again, so it cannot PATCH a cancelled run back to in_progress."""
    async with pool.acquire() as conn, conn.transaction():
        status = await conn.fetchval("SELECT status FROM ai_reviews WHERE id = $1 FOR UPDATE", review_id)
        yield conn if status in statuses else None


async def set_check_run(conn: Conn, review_id: int, check_run_id: int) -> None:
    await conn.execute("UPDATE ai_reviews SET check_run_id = $2 WHERE id = $1", review_id, check_run_id)


async def set_comment(conn: Conn, review_id: int, comment_id: int) -> None:
    await conn.execute("UPDATE ai_reviews SET comment_id = $2 WHERE id = $1", review_id, comment_id)


async def mark_published(conn: Conn, review_id: int, check_run_id: int) -> None:
    await conn.execute("UPDATE ai_reviews SET check_run_id = $2, published_at = now() WHERE id = $1",
                       review_id, check_run_id)


async def newest_for_pull_request(conn: Conn, review_id: int) -> bool:
    """No analysis of another head started after this one: only then may it speak in the
    pull request's one sticky comment (an old head's late result must not overwrite a newer)."""
    return await conn.fetchval(
        """SELECT NOT EXISTS (SELECT 1 FROM ai_reviews o WHERE o.pull_request_id = r.pull_request_id
                                AND o.head_sha <> r.head_sha AND o.created_at > r.created_at)
           FROM ai_reviews r WHERE r.id = $1""", review_id) is True


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
