"""Reading a pull request's AI analyses (review/ledger.py writes them)."""

from __future__ import annotations

import asyncpg

INSIGHT_COLUMNS = """id, head_sha, status, skip_reason, source, risk_score, floor_score, complexity,
    review_minutes, summary, findings, floor_reasons, coverage, injection_flagged, model,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, check_run_id,
    created_at, completed_at"""


async def latest_for(db: asyncpg.Connection | asyncpg.Pool, pull_request_id: int,
                     installation_id: int) -> asyncpg.Record | None:
    """The newest analysis of any head (the caller compares head_sha with the PR's)."""
    return await db.fetchrow(
        f"SELECT {INSIGHT_COLUMNS} FROM ai_reviews "  # noqa: S608 - constant column list
        "WHERE pull_request_id = $1 AND installation_id = $2 "
        "ORDER BY created_at DESC, id DESC LIMIT 1",
        pull_request_id, installation_id)
