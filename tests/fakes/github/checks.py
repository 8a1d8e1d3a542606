"""Check runs and issue comments on the fake GitHub, with GitHub's limits enforced.

GitHub answers 422 when a check run's output breaks its limits (summary or text over 65,535
characters, more than 50 annotations in one request, more than three actions, an action's
identifier or label over 20 characters or its description over 40), so the fake does too: a
publisher that works here respects them. Annotations accumulate across PATCHes, as on GitHub.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from aiohttp import web

from fakes.github import json_response, not_found, paginate, state_of, token_identity, unauthorized
from fakes.github.state import FakeGitHubState, Json

TEXT_LIMIT = 65_535
ANNOTATIONS_PER_REQUEST = 50
MAX_ACTIONS = 3
IDENTIFIER_LIMIT = 20
LABEL_LIMIT = 20
DESCRIPTION_LIMIT = 40
STATUSES = {"queued", "in_progress", "completed", "waiting", "requested", "pending"}
CONCLUSIONS = {"action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale",
               "timed_out"}


def add_routes(app: web.Application) -> None:
    base = "/repos/{owner}/{repo}"
    app.router.add_post(base + "/check-runs", create_check_run)
    app.router.add_patch(base + "/check-runs/{id:\\d+}", update_check_run)
    app.router.add_get(base + "/check-runs/{id:\\d+}", get_check_run)
    app.router.add_get(base + "/commits/{ref}/check-runs", list_check_runs_for_ref)
    app.router.add_get(base + "/issues/{number:\\d+}/comments", list_comments)
    app.router.add_post(base + "/issues/{number:\\d+}/comments", create_comment)
    app.router.add_patch(base + "/issues/comments/{id:\\d+}", update_comment)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def invalid(message: str) -> web.Response:
    return web.json_response({"message": "Invalid request.", "errors": [message],
                              "documentation_url": "https://docs.github.com/rest/checks/runs"}, status=422)


def _installation_repo(request: web.Request) -> tuple[FakeGitHubState, str | None, Json | None]:
    """Check runs and comments are written by installations (a user token cannot create runs)."""
    state = state_of(request)
    identity = token_identity(request)
    wanted = f"{request.match_info['owner']}/{request.match_info['repo']}".lower()
    full_name = next((n for n in state.repositories if n.lower() == wanted), None)
    if identity is None or full_name is None:
        return state, full_name, identity
    if identity.get("installation_id") != state.repository_installation.get(full_name):
        return state, None, identity
    return state, full_name, identity


def validate_output(body: Json) -> str | None:
    output = body.get("output")
    if output is not None:
        if not isinstance(output, dict) or ("summary" not in output and "annotations" not in output
                                            and "title" not in output):
            return "output must be an object with title and summary"
        for key in ("summary", "text", "title"):
            if len(str(output.get(key) or "")) > (TEXT_LIMIT if key != "title" else 1024):
                return f"output.{key} is too long (maximum is {TEXT_LIMIT} characters)"
        annotations = output.get("annotations") or []
        if len(annotations) > ANNOTATIONS_PER_REQUEST:
            return f"at most {ANNOTATIONS_PER_REQUEST} annotations per request"
        for a in annotations:
            missing = {"path", "start_line", "end_line", "annotation_level", "message"} - set(a)
            if missing:
                return f"annotation lacks {', '.join(sorted(missing))}"
            if a["annotation_level"] not in {"notice", "warning", "failure"}:
                return "annotation_level must be notice, warning or failure"
    actions = body.get("actions")
    if actions is not None:
        if len(actions) > MAX_ACTIONS:
            return f"at most {MAX_ACTIONS} actions"
        for a in actions:
            if len(a.get("identifier", "")) > IDENTIFIER_LIMIT or len(a.get("label", "")) > LABEL_LIMIT \
                    or len(a.get("description", "")) > DESCRIPTION_LIMIT:
                return "action identifier/label (20) or description (40) too long"
    if body.get("status") is not None and body["status"] not in STATUSES:
        return "invalid status"
    if body.get("conclusion") is not None and body["conclusion"] not in CONCLUSIONS:
        return "invalid conclusion"
    if body.get("status") == "completed" and not body.get("conclusion"):
        return "conclusion is required when status is completed"
    return None


def _apply(run: Json, body: Json) -> None:
    for key in ("name", "details_url", "external_id", "status", "conclusion", "started_at",
                "completed_at", "actions"):
        if key in body:
            run[key] = copy.deepcopy(body[key])
    if body.get("conclusion") and "status" not in body:
        run["status"] = "completed"
    output = body.get("output")
    if output:
        annotations = output.get("annotations") or []
        run["output"].update({k: output[k] for k in ("title", "summary", "text") if k in output})
        run["annotations"].extend(copy.deepcopy(annotations))
        run["output"]["annotations_count"] = len(run["annotations"])


def _find_run(state: FakeGitHubState, full_name: str, run_id: int) -> Json | None:
    return next((r for r in state.check_runs.get(full_name, []) if r["id"] == run_id), None)


async def create_check_run(request: web.Request) -> web.Response:
    state, full_name, identity = _installation_repo(request)
    if identity is None:
        return unauthorized()
    if full_name is None:
        return not_found()
    body = await request.json()
    if not body.get("name") or not body.get("head_sha"):
        return invalid("name and head_sha are required")
    if (problem := validate_output(body)) is not None:
        return invalid(problem)
    run_id = state.next_id()
    origin = request.url.origin()
    run: Json = {
        "id": run_id, "node_id": f"CR_{run_id}", "head_sha": body["head_sha"], "external_id": "",
        "url": f"{origin}/repos/{full_name}/check-runs/{run_id}",
        "html_url": f"https://github.com/{full_name}/runs/{run_id}", "details_url": None,
        "status": "queued", "conclusion": None, "started_at": _now(), "completed_at": None,
        "output": {"title": None, "summary": None, "text": None, "annotations_count": 0,
                   "annotations_url": f"{origin}/repos/{full_name}/check-runs/{run_id}/annotations"},
        "name": body["name"], "check_suite": {"id": state.next_id()}, "app": copy.deepcopy(state.app),
        "pull_requests": [], "actions": [], "annotations": [],
    }
    _apply(run, body)
    state.check_runs.setdefault(full_name, []).append(run)
    return json_response(request, _public(run), status=201)


def _public(run: Json) -> Json:
    return {k: copy.deepcopy(v) for k, v in run.items() if k != "annotations"}


async def update_check_run(request: web.Request) -> web.Response:
    state, full_name, identity = _installation_repo(request)
    if identity is None:
        return unauthorized()
    run = _find_run(state, full_name, int(request.match_info["id"])) if full_name else None
    if run is None:
        return not_found()
    body = await request.json()
    if (problem := validate_output(body)) is not None:
        return invalid(problem)
    _apply(run, body)
    return json_response(request, _public(run))


async def get_check_run(request: web.Request) -> web.Response:
    state, full_name, identity = _installation_repo(request)
    if identity is None:
        return unauthorized()
    run = _find_run(state, full_name, int(request.match_info["id"])) if full_name else None
    return json_response(request, _public(run)) if run else not_found()


async def list_check_runs_for_ref(request: web.Request) -> web.Response:
    state, full_name, identity = _installation_repo(request)
    if identity is None:
        return unauthorized()
    if full_name is None:
        return not_found()
    ref = request.match_info["ref"]
    runs = [_public(r) for r in state.check_runs.get(full_name, []) if r["head_sha"] == ref]
    if "check_name" in request.query:
        runs = [r for r in runs if r["name"] == request.query["check_name"]]
    runs.sort(key=lambda r: -r["id"])
    return json_response(request, {"total_count": len(runs), "check_runs": runs})


def _bot_user(state: FakeGitHubState) -> Json:
    slug = state.app.get("slug", "app")
    return {"login": f"{slug}[bot]", "id": 41_000_000 + int(state.app.get("id", 0)), "type": "Bot",
            "node_id": f"BOT_{slug}", "html_url": f"https://github.com/apps/{slug}", "site_admin": False}


async def list_comments(request: web.Request) -> web.Response:
    state, full_name, identity = _installation_repo(request)
    if identity is None:
        return unauthorized()
    if full_name is None:
        return not_found()
    number = int(request.match_info["number"])
    return paginate(request, state.comments.get((full_name, number), []))


async def create_comment(request: web.Request) -> web.Response:
    state, full_name, identity = _installation_repo(request)
    if identity is None:
        return unauthorized()
    if full_name is None:
        return not_found()
    number = int(request.match_info["number"])
    body = await request.json()
    if not isinstance(body, dict) or not body.get("body"):
        return invalid("body is required")
    if len(body["body"]) > TEXT_LIMIT:
        return invalid("body is too long (maximum is 65536 characters)")
    comment_id = state.next_id()
    now = _now()
    origin = request.url.origin()
    comment = {
        "id": comment_id, "node_id": f"IC_{comment_id}",
        "url": f"{origin}/repos/{full_name}/issues/comments/{comment_id}",
        "html_url": f"https://github.com/{full_name}/pull/{number}#issuecomment-{comment_id}",
        "issue_url": f"{origin}/repos/{full_name}/issues/{number}",
        "body": body["body"], "user": _bot_user(state), "created_at": now, "updated_at": now,
        "author_association": "NONE",
    }
    state.comments.setdefault((full_name, number), []).append(comment)
    return json_response(request, comment, status=201)


async def update_comment(request: web.Request) -> web.Response:
    state, full_name, identity = _installation_repo(request)
    if identity is None:
        return unauthorized()
    comment_id = int(request.match_info["id"])
    found: Any = None
    for (repo, _), comments in state.comments.items():
        if repo == full_name:
            found = next((c for c in comments if c["id"] == comment_id), found)
    if found is None:
        return not_found()
    if found["user"].get("login") != _bot_user(state)["login"]:
        return web.json_response({"message": "Resource not accessible by integration"}, status=403)
    body = await request.json()
    if not body.get("body") or len(body["body"]) > TEXT_LIMIT:
        return invalid("body is required and at most 65536 characters")
    found["body"] = body["body"]
    found["updated_at"] = _now()
    return json_response(request, found)

