"""The "DevMetrics risk" check run: queued → in_progress → completed, with annotations.

GitHub's limits shape this module: output summary and text at most 65,535 characters (we fit
the summary, cut at a line), at most 50 annotations per request (the first 50 ride on the
completing PATCH, the rest follow in further PATCHes of 50, which GitHub appends), at most three
action buttons with a 20-character identifier. High risk is `neutral` unless the repository opts
into blocking, because a red cross on a guess would teach people to ignore the check.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from gidgethub.abc import GitHubAPI

from devmetrics_app.digits import is_decimal
from devmetrics_app.review import render
from devmetrics_app.review.result import ReviewResult
from devmetrics_app.review.triggers import (
    CHECK_NAME,
    REANALYSE_DESCRIPTION,
    REANALYSE_IDENTIFIER,
    REANALYSE_LABEL,
)

MAX_ANNOTATIONS_PER_REQUEST = 50
ANNOTATION_MESSAGE_LIMIT = 4_000
ANNOTATION_TITLE_LIMIT = 255
ACTIONS = [{"label": REANALYSE_LABEL, "description": REANALYSE_DESCRIPTION,
            "identifier": REANALYSE_IDENTIFIER}]
LEVELS = {"low": "notice", "medium": "warning", "high": "failure", "critical": "failure"}
SKIP_HOW_TO = ("Configure this in `.github/devmetrics.yml` on the default branch. "
               "Press **Re-analyse** to review it anyway.")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def conclusion_for(result: ReviewResult, *, blocking: bool) -> str:
    if result.level == "low":
        return "success"
    if result.level == "high" and blocking:
        return "failure"
    return "neutral"


def title_for(result: ReviewResult) -> str:
    title = f"Risk {result.score}/100 · {result.level} · ~{result.review_minutes} min review"
    return title + (" · PARTIAL" if result.partial else "")


def annotations_for(result: ReviewResult) -> list[dict[str, Any]]:
    """Findings with a file and a line, then each place our scanner found hidden characters."""
    out: list[dict[str, Any]] = []
    for f in result.findings:
        if not f.get("file") or not f.get("start_line"):
            continue
        message = f["explanation"] + (f"\n\nSuggestion: {f['suggestion']}" if f.get("suggestion") else "")
        out.append({"path": f["file"], "start_line": f["start_line"],
                    "end_line": max(f["start_line"], f.get("end_line") or f["start_line"]),
                    "annotation_level": LEVELS.get(f["severity"], "warning"),
                    "title": f"{f['severity']} {f['category']}: {f['title']}"[:ANNOTATION_TITLE_LIMIT],
                    "message": render.fit(message, ANNOTATION_MESSAGE_LIMIT) or f["title"]})
    for location in result.unicode_locations:
        path, _, line = location.rpartition(":")
        if path and is_decimal(line) and int(line) > 0:
            out.append({"path": path, "start_line": int(line), "end_line": int(line),
                        "annotation_level": "failure", "title": "Invisible or bidirectional character",
                        "message": "This line contains characters that render differently from how the "
                                   "code runs (Trojan Source, CVE-2021-42574)."})
    return out


async def create(gh: GitHubAPI, repository: str, *, head_sha: str, external_id: int) -> int:
    data = await gh.post(f"/repos/{repository}/check-runs", data={
        "name": CHECK_NAME, "head_sha": head_sha, "status": "queued", "external_id": str(external_id),
        "output": {"title": "Queued", "summary": "The AI risk review is queued."}})
    return int(data["id"])


async def find(gh: GitHubAPI, repository: str, *, head_sha: str, external_id: int) -> int | None:
    """Our run for this analysis on the commit, if an earlier attempt created it."""
    data = await gh.getitem(f"/repos/{repository}/commits/{head_sha}/check-runs"
                            f"?check_name={quote(CHECK_NAME)}&filter=all&per_page=100")
    for run in data.get("check_runs") or []:
        if run.get("external_id") == str(external_id) and run.get("name") == CHECK_NAME:
            return int(run["id"])
    return None


async def start(gh: GitHubAPI, repository: str, run_id: int) -> None:
    await gh.patch(f"/repos/{repository}/check-runs/{run_id}", data={
        "status": "in_progress", "started_at": _now(),
        "output": {"title": "Analysing", "summary": "The AI risk review is running."}})


async def complete(gh: GitHubAPI, repository: str, run_id: int | None, result: ReviewResult, *,
                   head_sha: str, external_id: int, blocking: bool, reused: bool = False) -> int:
    """Finish the run (or create it finished, for a re-published result); returns its id."""
    title = title_for(result)
    summary = render.render(render.CHECK_TEMPLATE, r=result, head_sha=head_sha, reused=reused)
    annotations = annotations_for(result)
    first, rest = annotations[:MAX_ANNOTATIONS_PER_REQUEST], annotations[MAX_ANNOTATIONS_PER_REQUEST:]
    body: dict[str, Any] = {
        "status": "completed", "conclusion": conclusion_for(result, blocking=blocking),
        "completed_at": _now(), "actions": ACTIONS,
        "output": {"title": title, "summary": summary, "annotations": first},
    }
    if run_id is None:
        data = await gh.post(f"/repos/{repository}/check-runs", data={
            "name": CHECK_NAME, "head_sha": head_sha, "external_id": str(external_id), **body})
        run_id = int(data["id"])
    else:
        await gh.patch(f"/repos/{repository}/check-runs/{run_id}", data=body)
    for i in range(0, len(rest), MAX_ANNOTATIONS_PER_REQUEST):
        await gh.patch(f"/repos/{repository}/check-runs/{run_id}", data={"output": {
            "title": title, "summary": summary,
            "annotations": rest[i:i + MAX_ANNOTATIONS_PER_REQUEST]}})
    return run_id


async def skip(gh: GitHubAPI, repository: str, *, head_sha: str, external_id: int, reason: str,
               notes: tuple[str, ...] | list[str] = ()) -> int:
    summary = render.render(render.SKIPPED_TEMPLATE, head_sha=head_sha, reason=reason, notes=notes,
                            how_to=SKIP_HOW_TO)
    data = await gh.post(f"/repos/{repository}/check-runs", data={
        "name": CHECK_NAME, "head_sha": head_sha, "external_id": str(external_id),
        "status": "completed", "conclusion": "skipped", "completed_at": _now(), "actions": ACTIONS,
        "output": {"title": f"Skipped: {reason}"[:ANNOTATION_TITLE_LIMIT], "summary": summary}})
    return int(data["id"])


async def cancel(gh: GitHubAPI, repository: str, run_id: int, *, newer_head: str) -> None:
    await gh.patch(f"/repos/{repository}/check-runs/{run_id}", data={
        "status": "completed", "conclusion": "cancelled", "completed_at": _now(),
        "output": {"title": "Superseded by a newer push",
                   "summary": f"A newer commit (`{newer_head[:7]}`) is being reviewed instead."}})
