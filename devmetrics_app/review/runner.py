"""One pull request's review, end to end: read, decide, analyse (or re-use), store, publish.

Order matters for cost and honesty: skip rules before reading files, the ledger before the model
(a known diff is never paid twice), the budget before the model, and the ledger's conditional
completion before publishing (an analysis superseded by a newer head while it ran publishes
nothing; its check run was already closed as `cancelled` by the newer one).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import dramatiq
from gidgethub.abc import GitHubAPI

from devmetrics_app.ai.analysis import AnalysisSettings, PullRequestInput, analyse_pull_request
from devmetrics_app.ai.claude import ClaudeReviewer, make_client
from devmetrics_app.ai.files import PrFile
from devmetrics_app.ai.prompt import PROMPT_VERSION
from devmetrics_app.crypto import SecretBox
from devmetrics_app.github.provider import CredentialsProvider
from devmetrics_app.jobs.resources import WorkerResources
from devmetrics_app.review import checks, comment, fetch, ledger
from devmetrics_app.review.config import (
    ReviewConfig,
    load_config,
    monthly_budget_usd,
    read_file,
)
from devmetrics_app.review.result import BUDGET_SOURCE, ReviewResult, from_analysis, from_row

log = logging.getLogger(__name__)

FORCE_REASONS = frozenset({"api", "button", "rerun"})  # a person asked: re-run even a known diff
SKIP_DISABLED = "disabled for this repository"
EXCLUDED_BY_CONFIG = "excluded by .github/devmetrics.yml"

PR_SQL = """
SELECT pr.id, pr.number, pr.installation_id, pr.repository_id, repo.full_name, repo.default_branch,
       repo.html_url, COALESCE(o.settings, '{}'::jsonb) AS org_settings
FROM pull_requests pr
JOIN repositories repo ON repo.id = pr.repository_id
LEFT JOIN installations i ON i.id = pr.installation_id
LEFT JOIN organizations o ON o.id = COALESCE(i.account_id, repo.owner_id)
WHERE pr.id = $1
"""


@dataclass(frozen=True)
class Target:
    row: asyncpg.Record
    gh: GitHubAPI
    pr: Mapping[str, Any]
    config: ReviewConfig
    bot_login: str | None

    @property
    def repository(self) -> str:
        return self.row["full_name"]

    @property
    def head(self) -> str:
        return str(self.pr["head"]["sha"])


def skip_reason(pr: Mapping[str, Any], config: ReviewConfig, *, force: bool) -> str | None:
    if not config.enabled:
        return SKIP_DISABLED
    if force:
        return None
    if pr.get("draft"):
        return "draft pull request"
    if fetch.is_bot(pr.get("user")):
        return f"opened by a bot ({(pr.get('user') or {}).get('login')})"
    if config.branch_excluded(str((pr.get("head") or {}).get("ref") or "")):
        return "branch excluded by .github/devmetrics.yml"
    label = config.excluded_label([str(lbl.get("name")) for lbl in pr.get("labels") or []])
    if label:
        return f"label {label!r} excludes it"
    return None


async def run_analysis(res: WorkerResources, pull_request_id: int, *, reason: str = "event") -> str:
    """Returns what happened (for logs and tests): skipped, reused, done, busy, superseded, ..."""
    pool = await res.pool()
    row = await pool.fetchrow(PR_SQL, pull_request_id)
    if row is None:
        return "unknown pull request"
    clients = await res.github()
    gh = await clients.client_for(row["installation_id"])
    pr = await fetch.pull_request(gh, row["full_name"], row["number"])
    if pr.get("state") != "open":
        return "closed"
    default_branch = row["default_branch"] or (pr["base"].get("repo") or {}).get("default_branch") or "main"
    base = ReviewConfig(
        budget_tokens=res.settings.ai_budget_tokens,
                        partial_share=res.settings.ai_partial_share)
    config = await load_config(gh, row["full_name"], default_branch, row["org_settings"], base)
    box = SecretBox(res.settings.secret_key.get())
    _, bot_login = await fetch.app_identity(clients, CredentialsProvider(res.settings, pool, box))
    target = Target(row, gh, pr, config, bot_login)

    for old in await ledger.supersede(pool, pull_request_id=pull_request_id, head_sha=target.head):
        if old["check_run_id"]:
            await checks.cancel(gh, old["full_name"], old["check_run_id"], newer_head=target.head)

    force = reason in FORCE_REASONS
    if (why := skip_reason(pr, config, force=force)) is not None:
        return await _skip(pool, target, why)
    files = await fetch.files(gh, target.repository, row["number"])
    kept = [f for f in files if force or not config.path_excluded(f.filename)]
    if files and not kept:
        return await _skip(pool, target, "every changed file is excluded by .github/devmetrics.yml")
    claim = await ledger.claim(pool, installation_id=row["installation_id"],
                               repository_id=row["repository_id"], pull_request_id=pull_request_id,
                               head_sha=target.head, diff=ledger.diff_hash(kept),
                               prompt_version=PROMPT_VERSION, force=force)
    if claim.kind != "new":
        return claim.kind
    try:
        if not force and (donor := await ledger.reusable(
                pool, pull_request_id=pull_request_id, head_sha=target.head,
                diff=ledger.diff_hash(kept), prompt_version=PROMPT_VERSION)) is not None:
            await ledger.set_status(pool, claim.id, "in_progress")
            return await _finish(pool, target, claim.id, from_row(donor), run_id=None, reused=True)
        return await _analyse(res, pool, target, claim.id, kept, len(files) - len(kept))
    except Exception:
        await ledger.set_status(pool, claim.id, "failed")
        raise


async def _skip(pool: asyncpg.Pool, target: Target, why: str) -> str:
    row = target.row
    claim = await ledger.claim(pool, installation_id=row["installation_id"],
                               repository_id=row["repository_id"], pull_request_id=row["id"],
                               head_sha=target.head, diff=ledger.SKIPPED_DIFF,
                               prompt_version=PROMPT_VERSION, force=False)
    if claim.kind != "new":
        return "skipped" if claim.kind == "done" else "busy"
    if not await ledger.set_status(pool, claim.id, "skipped", skip_reason=why):
        return "busy"
    run_id = await checks.skip(target.gh, target.repository, head_sha=target.head, external_id=claim.id,
                               reason=why, notes=target.config.notes)
    await ledger.set_check_run(pool, claim.id, run_id)
    return "skipped"


async def _analyse(res: WorkerResources, pool: asyncpg.Pool, target: Target, review_id: int,
                   files: list[PrFile], excluded: int) -> str:
    settings, config, row = res.settings, target.config, target.row
    run_id = await checks.create(target.gh, target.repository, head_sha=target.head, external_id=review_id)
    await ledger.set_check_run(pool, review_id, run_id)
    gitattributes = await read_file(target.gh, target.repository, ".gitattributes",
                                    row["default_branch"] or "main")
    notes = list(config.notes)
    if excluded:
        notes.append(f"{excluded} file(s) {EXCLUDED_BY_CONFIG} were left out")
    budget = monthly_budget_usd(row["org_settings"])
    spent = await ledger.monthly_spend(pool, row["installation_id"])
    over_budget = bool(settings.anthropic_api_key) and spent >= budget
    if over_budget:
        notes.append(f"Monthly AI budget reached: ${spent:.2f} of ${budget:.2f} spent this month, so "
                     "only the deterministic risk floor ran. Raise ai_monthly_budget_usd in the "
                     "organisation settings, or wait for the 1st.")
    await checks.start(target.gh, target.repository, run_id)
    if not await ledger.set_status(pool, review_id, "in_progress"):
        return "superseded"
    pr = target.pr
    request = PullRequestInput(repository=target.repository, number=int(pr["number"]),
                               title=str(pr.get("title") or ""), body=pr.get("body"),
                               repo_url=str(row["html_url"] or pr["base"]["repo"]["html_url"]),
                               head_sha=target.head)
    analysis_settings = AnalysisSettings(budget_tokens=config.budget_tokens,
                                         min_review_share=config.partial_share,
                                         model=settings.anthropic_model)
    client = None
    if settings.anthropic_api_key and not over_budget:
        client = make_client(api_key=settings.anthropic_api_key.get(),
                             base_url=settings.anthropic_base_url or None)
    try:
        model = ClaudeReviewer(client, model=settings.anthropic_model) if client else None
        analysis = await analyse_pull_request(request, files, gitattributes, analysis_settings, model)
    finally:
        if client is not None:
            await client.close()
    await ledger.add_usage(pool, review_id, analysis.model, analysis.usage, analysis.cost)
    result = from_analysis(analysis, notes=notes, source=BUDGET_SOURCE if over_budget else None)
    if over_budget:
        reasons = "; ".join(r["detail"] for r in result.floor_reasons) or "no risk signals"
        result.summary = f"No AI review this time (monthly budget spent). The score is the deterministic " \
                         f"risk floor: {reasons}."
    return await _finish(pool, target, review_id, result, run_id=run_id)


async def _finish(pool: asyncpg.Pool, target: Target, review_id: int, result: ReviewResult, *,
                  run_id: int | None, reused: bool = False) -> str:
    """The comment goes first, so a completed check run means everything is published."""
    if not await ledger.complete(pool, review_id, result):
        return "superseded"
    comment_id = await comment.publish(target.gh, target.repository, int(target.pr["number"]), result,
                                       head_sha=target.head, threshold=target.config.risk_threshold,
                                       bot_login=target.bot_login)
    if comment_id is not None:
        await ledger.set_comment(pool, review_id, comment_id)
    run_id = await checks.complete(target.gh, target.repository, run_id, result, head_sha=target.head,
                                   external_id=review_id, blocking=target.config.blocking, reused=reused)
    await ledger.set_check_run(pool, review_id, run_id)
    # pr_high_risk notification rules look at every completed analysis; open pages refresh.
    broker = dramatiq.get_broker()
    installation_id = target.row["installation_id"]
    broker.get_actor("notify_event").send(installation_id, "ai_review.completed", review_id)
    broker.get_actor("publish_live").send(
        [f"org:{installation_id}", f"pr:{target.row['id']}"],
        {"type": "analysis.completed", "pull_request": target.row["id"], "analysis": review_id})
    return "reused" if reused else "done"
