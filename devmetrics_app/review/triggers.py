"""Which webhook events start an analysis, and which job each one becomes.

Pushes and state changes go through the debounce (`request_analysis`): a burst of pushes is one
analysis of the newest head. A person asking explicitly (GitHub's "Re-run", our "Re-analyse"
button, the REST API) is answered at once and re-runs even an unchanged diff. Check runs and
suites name a commit, not a pull request (their `pull_requests` is empty for forks), so they go
to `analyse_head`, which finds the pull request by head SHA in our own table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PR_ACTIONS = frozenset({"opened", "reopened", "synchronize", "ready_for_review"})
CHECK_NAME = "DevMetrics risk"
REANALYSE_IDENTIFIER = "reanalyse"  # the button's identifier: GitHub allows at most 20 characters
REANALYSE_LABEL = "Re-analyse"
REANALYSE_DESCRIPTION = "Run the AI risk review again"

DEBOUNCE_ACTOR = "request_analysis"
HEAD_ACTOR = "analyse_head"

Followup = tuple[str, dict[str, Any]]


def _installation(data: Mapping[str, Any]) -> int | None:
    inst = data.get("installation")
    return int(inst["id"]) if isinstance(inst, Mapping) and inst.get("id") is not None else None


def for_pull_request(data: Mapping[str, Any]) -> Followup | None:
    if data.get("action") not in PR_ACTIONS:
        return None
    pr = data.get("pull_request") or {}
    if pr.get("id") is None or pr.get("state", "open") != "open":
        return None
    head = (pr.get("head") or {}).get("sha") or data.get("after")
    return DEBOUNCE_ACTOR, {"pull_request_id": int(pr["id"]), "head_sha": head,
                            "reason": str(data["action"])}


def _numbers(items: Any) -> list[int]:
    return [int(p["number"]) for p in items or [] if isinstance(p, Mapping) and p.get("number")]


def for_check_run(data: Mapping[str, Any]) -> Followup | None:
    """`rerequested` (GitHub's Re-run) and `requested_action` (our button) on OUR check run. The
    name is a cheap filter here; the job compares `app.id` with ours, which needs settings."""
    action = data.get("action")
    run = data.get("check_run") or {}
    repo = data.get("repository") or {}
    if action not in {"rerequested", "requested_action"} or run.get("name") != CHECK_NAME:
        return None
    if action == "requested_action" and (data.get("requested_action") or {}).get(
            "identifier") != REANALYSE_IDENTIFIER:
        return None
    if repo.get("id") is None or not run.get("head_sha"):
        return None
    return HEAD_ACTOR, {
        "installation_id": _installation(data), "repository_id": int(repo["id"]),
        "head_sha": str(run["head_sha"]), "reason": "button" if action == "requested_action" else "rerun",
        "app_id": (run.get("app") or {}).get("id"), "check_run_id": run.get("id"),
        "pull_request_numbers": _numbers(run.get("pull_requests")),
    }


def for_check_suite(data: Mapping[str, Any]) -> Followup | None:
    suite = data.get("check_suite") or {}
    repo = data.get("repository") or {}
    if data.get("action") != "rerequested" or repo.get("id") is None or not suite.get("head_sha"):
        return None
    return HEAD_ACTOR, {
        "installation_id": _installation(data), "repository_id": int(repo["id"]),
        "head_sha": str(suite["head_sha"]), "reason": "rerun",
        "app_id": (suite.get("app") or {}).get("id"), "check_run_id": None,
        "pull_request_numbers": _numbers(suite.get("pull_requests")),
    }
