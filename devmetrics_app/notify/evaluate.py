"""Event-driven rules: given an installation and a subject, which rules fire, with which message.

The webhook pipeline enqueues `notify_event(installation_id, event, subject_id)` once the rows are
committed; the AI analysis calls `on_analysis_completed`. Only subjects younger than STALE_AFTER
fire, so replaying old deliveries or importing history never floods a channel with old news.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import asyncpg

from devmetrics_app.notify import dedupe, messages, subjects
from devmetrics_app.notify.dedupe import WINDOW_ONCE, Firing, SendKey
from devmetrics_app.notify.rules import Rule, Subject, active_rules, matches_scope
from devmetrics_app.timeutil import utcnow

STALE_AFTER = timedelta(hours=24)
EVENT_RULE_TYPES: dict[str, tuple[str, ...]] = {
    "pull_request.opened": ("pr_opened",),
    "pull_request.ready_for_review": ("pr_opened",),
    "pull_request.closed": ("pr_merged_without_review",),
    "workflow_run.completed": ("build_failed",),
    "deployment_status.created": ("deployment_failed",),
    "ai_review.completed": ("pr_high_risk",),
}
FAILED_CONCLUSIONS = frozenset({"failure", "timed_out", "startup_failure"})
FAILED_DEPLOYMENT_STATES = frozenset({"failure", "error"})
# Runs for pull requests build the PR's branch, not the default branch, whatever head_branch says.
PR_RUN_EVENTS = frozenset({"pull_request", "pull_request_target", "pull_request_review"})
SUMMARY_CHARS = 600


Conn = asyncpg.Connection | asyncpg.Pool


@asynccontextmanager
async def connection(conn_or_pool: Conn) -> AsyncIterator[asyncpg.Connection]:
    if isinstance(conn_or_pool, asyncpg.Pool):
        async with conn_or_pool.acquire() as conn:
            yield conn
    else:
        yield conn_or_pool


async def handle_event(conn_or_pool: Conn, installation_id: int, event: str, subject_id: int, *,
                       now: datetime | None = None) -> list[SendKey]:
    """Evaluate and claim; return the sends that are now due (the caller enqueues them)."""
    async with connection(conn_or_pool) as conn:
        firings = await evaluate_event(conn, installation_id, event, subject_id, now=now)
        return await dedupe.claim_all(conn, firings) if firings else []


async def on_analysis_completed(conn_or_pool: Conn, analysis_id: int, *,
                                now: datetime | None = None) -> list[SendKey]:
    """The AI review's hook: pr_high_risk rules for a finished analysis; enqueues the sends."""
    from devmetrics_app.notify.delivery import enqueue_sends

    async with connection(conn_or_pool) as conn:
        found = await subjects.analysis(conn, analysis_id)
        if found is None:
            return []
        keys = await handle_event(conn, found["installation_id"], "ai_review.completed",
                                  analysis_id, now=now)
    await enqueue_sends(keys)
    return keys


async def evaluate_event(conn: asyncpg.Connection, installation_id: int, event: str, subject_id: int,
                         *, now: datetime | None = None) -> list[Firing]:
    types = EVENT_RULE_TYPES.get(event)
    if not types:
        return []
    rules = await active_rules(conn, installation_id, types)
    if not rules:
        return []
    now = now or utcnow()
    if event in ("pull_request.opened", "pull_request.ready_for_review"):
        return await _pr_opened(conn, installation_id, subject_id, rules, now)
    if event == "pull_request.closed":
        return await _merged_without_review(conn, installation_id, subject_id, rules, now)
    if event == "workflow_run.completed":
        return await _build_failed(conn, installation_id, subject_id, rules, now)
    if event == "deployment_status.created":
        return await _deployment_failed(conn, installation_id, subject_id, rules, now)
    return await _high_risk(conn, installation_id, subject_id, rules, now)


def _fresh(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and now - moment <= STALE_AFTER


def pr_rule_applies(rule: Rule, pr: subjects.PullRequest) -> bool:
    if pr.is_bot and not rule.conditions.get("include_bots", False):
        return False
    return matches_scope(rule, pr.subject)


async def _pr_opened(conn: asyncpg.Connection, inst: int, pr_id: int, rules: list[Rule],
                     now: datetime) -> list[Firing]:
    pr = await subjects.pull_request(conn, inst, pr_id)
    if pr is None or pr.row["state"] != "OPEN":
        return []
    out = []
    for rule in rules:
        if pr.row["draft"] and not rule.conditions.get("include_drafts", False):
            continue
        moment = pr.row["github_created_at"] if pr.row["draft"] else (
            pr.row["ready_for_review_at"] or pr.row["github_created_at"])
        if not _fresh(moment, now) or not pr_rule_applies(rule, pr):
            continue
        message = messages.render("pr_opened", pr.context(), url=pr.row["html_url"],
                                  button="Review PR", fields=pr.fields())
        out.append(Firing(rule, pr.subject.key, WINDOW_ONCE, message))
    return out


async def _merged_without_review(conn: asyncpg.Connection, inst: int, pr_id: int,
                                 rules: list[Rule], now: datetime) -> list[Firing]:
    pr = await subjects.pull_request(conn, inst, pr_id)
    if pr is None or pr.row["state"] != "MERGED" or not _fresh(pr.row["merged_at"], now):
        return []
    if await subjects.approved_before(conn, pr, pr.row["merged_at"]):
        return []
    fields = [*pr.fields(), ("Merged by", pr.row["merged_by"] or "unknown")]
    message = messages.render("pr_merged_without_review", pr.context(), url=pr.row["html_url"],
                              button="Open PR", fields=fields, tone="warning")
    return [Firing(rule, pr.subject.key, WINDOW_ONCE, message)
            for rule in rules if pr_rule_applies(rule, pr)]


async def _build_failed(conn: asyncpg.Connection, inst: int, run_id: int, rules: list[Rule],
                        now: datetime) -> list[Firing]:
    run = await subjects.workflow_run(conn, inst, run_id)
    if run is None or run["status"] != "completed" or run["conclusion"] not in FAILED_CONCLUSIONS:
        return []
    if run["event"] in PR_RUN_EVENTS or not _fresh(run["at"], now):
        return []
    subject = Subject(key=f"run:{run['id']}", repository_id=run["repository_id"], author=run["actor"])
    sha = (run["head_sha"] or "")[:7]
    context = {"repository": run["full_name"], "branch": run["head_branch"] or "",
               "workflow": run["name"] or "workflow", "run_number": run["run_number"] or 0,
               "attempt": run["run_attempt"] or 1, "conclusion": run["conclusion"], "sha": sha,
               "actor": run["actor"]}
    fields = [("Repository", run["full_name"]), ("Workflow", context["workflow"]),
              ("Branch", context["branch"]), ("Commit", sha)]
    message = messages.render("build_failed", context, url=run["html_url"], button="View run",
                              fields=fields, tone="danger")
    out = []
    for rule in rules:
        branches = rule.conditions.get("branches") or [run["default_branch"] or "main"]
        workflows = rule.conditions.get("workflows")
        if run["head_branch"] not in branches or (workflows and run["name"] not in workflows):
            continue
        if matches_scope(rule, subject):
            out.append(Firing(rule, subject.key, dedupe.build_window(context["attempt"]), message))
    return out


async def _deployment_failed(conn: asyncpg.Connection, inst: int, status_id: int,
                             rules: list[Rule], now: datetime) -> list[Firing]:
    status = await subjects.deployment_status(conn, inst, status_id)
    if status is None or status["state"] not in FAILED_DEPLOYMENT_STATES or not _fresh(status["at"], now):
        return []
    subject = Subject(key=f"deployment:{status['deployment_id']}",
                      repository_id=status["repository_id"], author=status["creator"])
    sha = (status["sha"] or "")[:7]
    context = {"repository": status["full_name"], "environment": status["environment"],
               "state": status["state"], "sha": sha, "ref": status["ref"] or sha,
               "creator": status["creator"], "description": status["description"] or ""}
    url = status["log_url"] if (status["log_url"] or "").startswith("https://") else \
        f"{status['html_url']}/deployments" if status["html_url"] else None
    fields = [("Repository", status["full_name"]), ("Environment", status["environment"]),
              ("Commit", sha), ("State", status["state"])]
    message = messages.render("deployment_failed", context, url=url, button="View deployment",
                              fields=fields, tone="danger")
    out = []
    for rule in rules:
        environments = {e.lower() for e in rule.conditions.get("environments") or []}
        if environments and (status["environment"] or "").lower() not in environments:
            continue
        if matches_scope(rule, subject):
            out.append(Firing(rule, subject.key, WINDOW_ONCE, message))
    return out


async def _high_risk(conn: asyncpg.Connection, inst: int, analysis_id: int, rules: list[Rule],
                     now: datetime) -> list[Firing]:
    found = await subjects.analysis(conn, analysis_id)
    if found is None or found["installation_id"] != inst or found["status"] != "completed":
        return []
    risk = found["risk_score"]
    pr = await subjects.pull_request(conn, inst, found["pull_request_id"])
    if risk is None or pr is None or pr.row["state"] != "OPEN" or not _fresh(found["at"], now):
        return []
    out = []
    for rule in rules:
        threshold = int(rule.conditions.get("min_risk", 101))
        if risk < threshold or not pr_rule_applies(rule, pr):
            continue
        summary = (found["summary"] or "")[:SUMMARY_CHARS]
        context = {**pr.context(), "risk": risk, "min_risk": threshold, "summary": summary}
        message = messages.render("pr_high_risk", context, url=pr.row["html_url"],
                                  button="Review PR", fields=[*pr.fields(), ("Risk", f"{risk}/100")],
                                  tone="danger")
        out.append(Firing(rule, pr.subject.key, WINDOW_ONCE, message))
    return out
