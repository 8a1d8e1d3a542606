"""Workflow runs, check suites and check runs (build success rate, PR check status)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import asyncpg

from devmetrics_app.store.upsert import upsert
from devmetrics_app.store.users import upsert_user
from devmetrics_app.timeutil import parse_ts


def pull_request_numbers(entries: Iterable[Mapping[str, Any]] | None, repository_id: int) -> list[int]:
    """PR numbers of this repository only.

    GitHub also lists PRs of *other* repositories whose head matches (a fork's run shows the
    upstream PR, and the other way round), and leaves the list empty for fork PRs altogether;
    numbers from another repository would point at the wrong PR here.
    """
    numbers: set[int] = set()
    for entry in entries or []:
        if not entry or entry.get("number") is None:
            continue
        base_repo_id = (((entry.get("base") or {}).get("repo")) or {}).get("id")
        if base_repo_id is None or int(base_repo_id) == repository_id:
            numbers.add(int(entry["number"]))
    return sorted(numbers)


async def _completed_at(conn: asyncpg.Connection, run: Mapping[str, Any]) -> datetime | None:
    """When this attempt completed: the updated_at of its first 'completed' delivery.

    A re-run (a new run_attempt) starts over, so only a stored value of the same attempt is
    kept. The row is locked so two deliveries of one run cannot interleave this read and the
    upsert that follows.
    """
    if run.get("status") != "completed":
        return None
    incoming = parse_ts(run.get("updated_at"))
    stored = await conn.fetchrow(
        "SELECT run_attempt, completed_at FROM workflow_runs WHERE id = $1 FOR UPDATE", run["id"]
    )
    if (stored is None or stored["completed_at"] is None or incoming is None
            or stored["run_attempt"] != run.get("run_attempt")):
        return incoming
    return min(stored["completed_at"], incoming)


async def upsert_workflow_run(
    conn: asyncpg.Connection, installation_id: int, repository_id: int, run: Mapping[str, Any]
) -> str:
    """Store a workflow run; newest `updated_at` wins, which also makes the newest attempt of a
    re-run win (a later attempt always has a later updated_at)."""
    actor_id = await upsert_user(conn, run.get("actor"))
    return await upsert(
        conn,
        "workflow_runs",
        {
            "id": run["id"],
            "installation_id": installation_id,
            "repository_id": repository_id,
            "workflow_id": run.get("workflow_id"),
            "name": run.get("name"),
            "event": run.get("event"),
            "head_branch": run.get("head_branch"),
            "head_sha": run.get("head_sha"),
            "status": run.get("status"),
            "conclusion": run.get("conclusion"),
            "run_number": run.get("run_number"),
            "run_attempt": run.get("run_attempt"),
            "actor_id": actor_id,
            "pull_request_numbers": pull_request_numbers(run.get("pull_requests"), repository_id),
            "html_url": run.get("html_url"),
            "github_created_at": parse_ts(run.get("created_at")),
            "run_started_at": parse_ts(run.get("run_started_at")),
            "github_updated_at": parse_ts(run.get("updated_at") or run.get("created_at")),
            "completed_at": await _completed_at(conn, run),
        },
        version="github_updated_at",
    )


async def upsert_check_suite(
    conn: asyncpg.Connection, installation_id: int, repository_id: int, suite: Mapping[str, Any]
) -> str:
    """Store a check suite (full, or the summary nested in a check run); newest wins."""
    suite_app = suite.get("app") or {}
    return await upsert(
        conn,
        "check_suites",
        {
            "id": suite["id"],
            "installation_id": installation_id,
            "repository_id": repository_id,
            "app_id": suite_app.get("id"),
            "app_slug": suite_app.get("slug"),
            "head_branch": suite.get("head_branch"),
            "head_sha": suite.get("head_sha"),
            "status": suite.get("status"),
            "conclusion": suite.get("conclusion"),
            "pull_request_numbers": pull_request_numbers(suite.get("pull_requests"), repository_id),
            "github_created_at": parse_ts(suite.get("created_at")),
            "github_updated_at": parse_ts(suite.get("updated_at") or suite.get("created_at")),
        },
        version="github_updated_at",
        touch=False,  # the table has no bookkeeping updated_at
    )


def check_run_version(run: Mapping[str, Any]) -> datetime | None:
    """Check runs carry no updated_at: the newest of completed_at/started_at orders them."""
    stamps = [parse_ts(run.get(key)) for key in ("completed_at", "started_at")]
    present = [stamp for stamp in stamps if stamp is not None]
    return max(present) if present else None


async def upsert_check_run(
    conn: asyncpg.Connection,
    installation_id: int,
    repository_id: int,
    run: Mapping[str, Any],
    *,
    version_at: datetime,
) -> str:
    """Store a check run; the caller picks `version_at` (see check_run_version)."""
    run_app = run.get("app") or {}
    return await upsert(
        conn,
        "check_runs",
        {
            "id": run["id"],
            "installation_id": installation_id,
            "repository_id": repository_id,
            "check_suite_id": (run.get("check_suite") or {}).get("id"),
            "app_id": run_app.get("id"),
            "app_slug": run_app.get("slug"),
            "name": run.get("name") or "",
            "head_sha": run["head_sha"],
            "status": run.get("status"),
            "conclusion": run.get("conclusion"),
            "external_id": run.get("external_id") or None,
            "pull_request_numbers": pull_request_numbers(run.get("pull_requests"), repository_id),
            "started_at": parse_ts(run.get("started_at")),
            "completed_at": parse_ts(run.get("completed_at")),
            "version_at": version_at,
        },
        version="version_at",
        touch=False,
    )
