"""One pull request's review, end to end: read, decide, analyse (or re-use), store, publish.

Order matters for cost and honesty: skip rules before reading files, the ledger before the model
(a known diff is never paid twice), the budget before the model, and the ledger's conditional
completion before publishing (an analysis superseded by a newer head while it ran publishes
nothing; its check run was already closed as `cancelled` by the newer one). Every write to the
check run happens under the review's row lock after checking it is still current
(`ledger.current`), so a late analysis never reopens a run the newer one cancelled. Publishing is
its own idempotent step (`review.publish`), retried by a job until GitHub shows the result.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import dramatiq
from gidgethub import GitHubException
from gidgethub.abc import GitHubAPI

from devmetrics_app.ai.analysis import Analysis, AnalysisSettings, PullRequestInput, analyse_pull_request
from devmetrics_app.ai.claude import ClaudeReviewer, make_client
from devmetrics_app.ai.files import PrFile
from devmetrics_app.ai.prompt import PROMPT_VERSION
from devmetrics_app.crypto import SecretBox
from devmetrics_app.github.errors import RateLimited
from devmetrics_app.github.provider import CredentialsProvider
from devmetrics_app.jobs.resources import WorkerResources
from devmetrics_app.review import checks, fetch, ledger, pauses, publish
from devmetrics_app.review.config import (
    ReviewConfig,
    load_config,
    monthly_budget_usd,
    read_file,
)
from devmetrics_app.review.result import BUDGET_SOURCE, ReviewResult, from_analysis, from_row

log = logging.getLogger(__name__)

# GitHub failing to take a publication (after the client's own retries): worth a later try.
PUBLISH_ERRORS = (GitHubException, aiohttp.ClientError, TimeoutError, RateLimited)
PUBLISH_RETRY_DELAY_MS = 5_000
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


async def _target(res: WorkerResources, pool: asyncpg.Pool, pull_request_id: int) -> Target | None:
    """The pull request as GitHub has it now, its repository's review config and our bot."""
    row = await pool.fetchrow(PR_SQL, pull_request_id)
    if row is None:
        return None
    clients = await res.github()
    gh = await clients.client_for(row["installation_id"])
    pr = await fetch.pull_request(gh, row["full_name"], row["number"])
    default_branch = row["default_branch"] or (pr["base"].get("repo") or {}).get("default_branch") or "main"
    base = ReviewConfig(
        budget_tokens=res.settings.ai_budget_tokens,
                        partial_share=res.settings.ai_partial_share)
    config = await load_config(gh, row["full_name"], default_branch, row["org_settings"], base)
    box = SecretBox(res.settings.secret_key.get())
    _, bot_login = await fetch.app_identity(clients, CredentialsProvider(res.settings, pool, box))
    return Target(row, gh, pr, config, bot_login)


def destination(target: Target) -> publish.Destination:
    return publish.Destination(
        gh=target.gh, repository=target.repository, number=int(target.pr["number"]),
        threshold=target.config.risk_threshold, blocking=target.config.blocking,
        bot_login=target.bot_login, installation_id=target.row["installation_id"],
        pull_request_id=target.row["id"])


async def run_analysis(res: WorkerResources, pull_request_id: int, *, reason: str = "event") -> str:
    """Returns what happened (for logs and tests): skipped, reused, done, busy, superseded, ..."""
    pool = await res.pool()
    target = await _target(res, pool, pull_request_id)
    if target is None:
        return "unknown pull request"
    if target.pr.get("state") != "open":
        return "closed"
    row, gh, config = target.row, target.gh, target.config

    for old in await ledger.supersede(pool, pull_request_id=pull_request_id, head_sha=target.head):
        if old["check_run_id"]:
            await checks.cancel(gh, old["full_name"], old["check_run_id"], newer_head=target.head)
            await ledger.mark_published(pool, old["id"], old["check_run_id"])

    force = reason in FORCE_REASONS
    if (why := skip_reason(target.pr, config, force=force)) is not None:
        return await _skip(pool, target, why)
    files = await fetch.files(gh, target.repository, row["number"])
    kept = [f for f in files if force or not config.path_excluded(f.filename)]
    if files and not kept:
        return await _skip(pool, target, "every changed file is excluded by .github/devmetrics.yml")
    claim = await ledger.claim(pool, installation_id=row["installation_id"],
                               repository_id=row["repository_id"], pull_request_id=pull_request_id,
                               head_sha=target.head, diff=ledger.diff_hash(kept),
                               prompt_version=PROMPT_VERSION, force=force)
    if claim.kind == "done" and claim.row is not None and claim.row["status"] == "completed" \
            and claim.row["published_at"] is None:
        return await _publish(pool, target, claim.id)  # stored earlier, never shown: show it now
    if claim.kind != "new":
        return claim.kind
    try:
        if not force and (donor := await ledger.reusable(
                pool, pull_request_id=pull_request_id, head_sha=target.head,
                diff=ledger.diff_hash(kept), prompt_version=PROMPT_VERSION)) is not None:
            if await _open_run(pool, target, claim) is None \
                    or not await ledger.set_status(pool, claim.id, "in_progress"):
                return "superseded"
            result = from_row(donor)
            result.reused = True
            return await _finish(pool, target, claim.id, result)
        return await _analyse(res, pool, target, claim, kept, len(files) - len(kept))
    except Exception:
        await ledger.set_status(pool, claim.id, "failed")
        raise


async def publish_stored(res: WorkerResources, review_id: int) -> str:
    """The `publish_review` job: show a stored result on GitHub. GitHub errors propagate, so the
    job is retried until the check run shows it."""
    pool = await res.pool()
    review = await ledger.load(pool, review_id)
    if review is None or review["status"] != "completed" or review["published_at"] is not None:
        return publish.NOTHING_TO_PUBLISH
    target = await _target(res, pool, review["pull_request_id"])
    if target is None:
        return "unknown pull request"
    return await publish.publish(pool, destination(target), review_id)


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


async def _open_run(pool: asyncpg.Pool, target: Target, claim: ledger.Claim) -> int | None:
    """The check run of this analysis, created once: a retried attempt takes over the run its
    failed attempt recorded, or found by its external id (a create whose answer was lost).
    None when the analysis was superseded meanwhile."""
    async with ledger.current(pool, claim.id) as conn:
        if conn is None:
            return None
        run_id = claim.check_run_id
        if run_id is None and not claim.fresh:
            run_id = await checks.find(target.gh, target.repository, head_sha=target.head,
                                       external_id=claim.id)
        if run_id is None:
            run_id = await checks.create(target.gh, target.repository, head_sha=target.head,
                                         external_id=claim.id)
        await ledger.set_check_run(conn, claim.id, run_id)
        return run_id


async def _analyse(res: WorkerResources, pool: asyncpg.Pool, target: Target, claim: ledger.Claim,
                   files: list[PrFile], excluded: int) -> str:
    settings, config, row = res.settings, target.config, target.row
    review_id = claim.id
    run_id = await _open_run(pool, target, claim)
    if run_id is None:
        return "superseded"
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
    async with ledger.current(pool, review_id) as conn:
        if conn is None:  # superseded: its run was cancelled and must stay so
            return "superseded"
        await checks.start(target.gh, target.repository, run_id)
        await ledger.set_status(conn, review_id, "in_progress")
    pr = target.pr
    request = PullRequestInput(repository=target.repository, number=int(pr["number"]),
                               title=str(pr.get("title") or ""), body=pr.get("body"),
                               repo_url=str(row["html_url"] or pr["base"]["repo"]["html_url"]),
                               head_sha=target.head)
    analysis_settings = AnalysisSettings(budget_tokens=config.budget_tokens,
                                         min_review_share=config.partial_share,
                                         model=settings.anthropic_model)
    calls_claude = bool(settings.anthropic_api_key) and not over_budget
    pause = await pauses.check(pool, row["installation_id"]) if calls_claude else None
    client = None
    if calls_claude and pause is None:
        client = make_client(api_key=settings.anthropic_api_key.get(),
                             base_url=settings.anthropic_base_url or None)
    try:
        model = ClaudeReviewer(client, model=settings.anthropic_model) if client else None
        analysis = await analyse_pull_request(request, files, gitattributes, analysis_settings, model)
    finally:
        if client is not None:
            await client.close()
    await ledger.add_usage(pool, review_id, analysis.model, analysis.usage, analysis.cost)
    result = from_analysis(analysis, notes=notes, source=BUDGET_SOURCE if over_budget else
                           "floor_error" if pause else None)
    reasons = "; ".join(r["detail"] for r in result.floor_reasons) or "no risk signals"
    if over_budget:
        result.summary = f"No AI review this time (monthly budget spent). The score is the deterministic " \
                         f"risk floor: {reasons}."
    await _billing(pool, row["installation_id"], pause, analysis, result, reasons, called=client is not None)
    return await _finish(pool, target, review_id, result)


async def _billing(pool: asyncpg.Pool, installation_id: int, pause: pauses.Pause | None, analysis: Analysis,
                   result: ReviewResult, reasons: str, *, called: bool) -> None:
    """A credit or spend-limit refusal pauses Claude for the installation and is named in the
    check run; an answer lifts a pause (this call was its probe)."""
    refusal = analysis.error_kind if analysis.error_kind in pauses.BILLING_KINDS else None
    reason = pause.reason if pause else refusal
    if reason is None:
        if called and analysis.source == "model":
            await pauses.lift(pool, installation_id)
        return
    if refusal is not None:
        await pauses.refused(pool, installation_id, refusal, analysis.error or refusal)
    result.summary = pauses.summary(reason, reasons)
    result.error = result.error or pauses.BILLING_KINDS[reason]


async def _finish(pool: asyncpg.Pool, target: Target, review_id: int, result: ReviewResult) -> str:
    """Store, then publish: what was paid for is kept even if GitHub is not told at once."""
    if not await ledger.complete(pool, review_id, result):
        return "superseded"
    outcome = await _publish(pool, target, review_id)
    if outcome != publish.PUBLISHED:
        return outcome
    return "reused" if result.reused else "done"


async def _publish(pool: asyncpg.Pool, target: Target, review_id: int) -> str:
    """Publish now; if GitHub fails us, the `publish_review` job tries again (never the model)."""
    try:
        return await publish.publish(pool, destination(target), review_id)
    except PUBLISH_ERRORS as exc:
        log.warning("publishing review %s failed (%s); retrying in a job", review_id, exc)
        dramatiq.get_broker().get_actor("publish_review").send_with_options(
            args=(review_id,), delay=PUBLISH_RETRY_DELAY_MS)
        return "stored; publishing later"
