"""GET /api/openapi.json (the OpenAPI 3.1 document) and GET /api/docs (the same as a page).

The document is expanded from the one-line operations in openapi_ops.py: path parameters come
from the path template, and the error answers from what every route of that kind can say (a
signed-in route can say 401; one with a path id 400 and 404; one needing more than VIEWER 403).
Both routes are public: they describe the API, they hold no tenant data.

The docs page is rendered on the server from the document — no CDN assets and no script, so it
works offline and under a strict Content-Security-Policy.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from devmetrics_app import __version__
from devmetrics_app.web import responses, throttle
from devmetrics_app.web.api.openapi_ops import OPERATIONS, Op
from devmetrics_app.web.api.openapi_params import ID, PARAMETERS, SCHEMAS, SECURITY_SCHEMES
from devmetrics_app.web.keys import SETTINGS

OPENAPI_VERSION = "3.1.0"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
STRING_PATH_PARAMS = frozenset({"token_id", "filename", "figure"})
INSTALLATION_PARAMS = frozenset({"installation", "installation_filter"})
HTML = {"text/html": {"schema": {"type": "string"}}}
# Static files: their type is the file's, and aiohttp's own 404 for them has an empty body.
ANY = {"*/*": {"schema": {"$ref": "#/components/schemas/Binary"}}}
ANSWERS = {
    200: "OK", 201: "Created", 202: "Accepted: queued for a worker", 204: "Done; no content",
    302: "Redirect (browser flows)",
    400: "A parameter or the body is invalid; `error.field` names it",
    401: "Not signed in, or the token is invalid, expired or revoked",
    403: "Signed in, but the role is too weak (or a cookie write lacks its CSRF token)",
    404: "No such resource, or not in an installation you can see",
    409: "Already configured", 413: "Body too large", 415: "Unsupported content type",
    422: "The organisation's metric settings are invalid (`error.field` is `settings`)",
    429: "Too many requests from this token or session; `Retry-After` says when to try again",
    502: "GitHub did not answer as expected", 503: "Not configured yet, or a dependency is down",
}
TAG_DESCRIPTIONS = {
    "metrics": "Figures over a period; `?explain=true` adds the items behind each one.",
    "pull-requests": "Pull requests, their timeline and AI analysis.",
    "analytics": "Team, individual, repository and trend views.",
    "repositories": "Repositories and whether they count in metrics.",
    "installations": "Installations and member roles.",
    "notifications": "Rules and in-app notifications.",
    "auth": "Sign-in with GitHub, sessions and API tokens.",
    "webhooks": "GitHub's deliveries.", "health": "Liveness and readiness.",
    "pages": "Server-rendered HTML (`x-html: true`) and its static files.",
    "dashboard": "The dashboard's server-rendered pages and forms (HTML; session and CSRF token).",
    "live": "Live updates for open pages over a WebSocket.",
    "docs": "This document.",
}

routes = web.RouteTableDef()


def operation_id(op: Op) -> str:
    words = re.sub(r"[{}]", "", op.path).replace("-", "_").replace(".", "_").strip("/").split("/")
    return "_".join([op.method.lower(), *[w for w in words if w]]) or op.method.lower()


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _path_parameter(name: str) -> dict[str, Any]:
    schema = {"type": "string"} if name in STRING_PATH_PARAMS else ID
    return {"name": name, "in": "path", "required": True, "schema": schema,
            "description": f"The {name.replace('_', ' ')}."}


def _responses(op: Op, path_params: list[str]) -> dict[str, Any]:
    success: dict[str, Any] = {"description": ANSWERS[op.success]}
    if op.html:
        success["content"] = HTML
    elif op.result == "Binary":
        success["content"] = ANY
    elif op.success != 204:
        success["content"] = _json(op.result)
    answers: dict[str, Any] = {str(op.success): success}
    codes = set(op.errors)
    if op.redirects:
        codes.add(302)
    if op.role is not None:
        codes.add(401)
        if path_params:
            codes |= {400, 404}
        if INSTALLATION_PARAMS & set(op.params):
            codes.add(404)  # an installation the caller cannot see
    if op.role not in (None, "", "VIEWER") or (op.role == "" and op.method != "GET"):
        codes.add(403)
    if op.body is not None:
        codes.add(400)
    if op.path.startswith(throttle.LIMITED_PREFIX) and op.path not in throttle.EXEMPT:
        codes.add(429)  # any signed-in caller past API_RATE_LIMIT_PER_MINUTE
    for code in sorted(codes):
        answer: dict[str, Any] = {"description": ANSWERS[code]}
        if code >= 400:
            # A page's errors are pages too, except those said before it runs (identity's 401).
            answer["content"] = ({**_json("Error"), **HTML} if op.html
                                 else ANY if op.result == "Binary" else _json("Error"))
        elif code == 302:
            answer["headers"] = {"Location": {"schema": {"type": "string"}}}
        answers[str(code)] = answer
    return answers


def _operation(op: Op) -> dict[str, Any]:
    path_params = re.findall(r"\{(\w+)\}", op.path)
    operation: dict[str, Any] = {
        "operationId": operation_id(op),
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": [_path_parameter(p) for p in path_params]
                      + [{"$ref": f"#/components/parameters/{name}"} for name in op.params],
        "responses": _responses(op, path_params),
    }
    if op.description:
        operation["description"] = op.description
    if op.role is None:
        operation["security"] = [{"webhookSignature": []}] if op.tag == "webhooks" else []
    else:
        operation["x-minimum-role"] = op.role or "signed-in"
    if op.html:
        operation["x-html"] = True
    if op.body is not None:
        media = ("application/x-www-form-urlencoded" if op.tag in {"pages", "dashboard"}
                 else "application/json")
        schema = {"$ref": f"#/components/schemas/{op.body}"}
        operation["requestBody"] = {"required": op.body_required,
                                    "content": {media: {"schema": schema}}}
    return operation


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (without `servers`, which depends on the deployment)."""
    paths: dict[str, dict[str, Any]] = defaultdict(dict)
    for op in OPERATIONS:
        paths[op.path][op.method.lower()] = _operation(op)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "DevMetrics API", "version": __version__, "description":
                 "Engineering metrics from GitHub. Every call is scoped to the installations the "
                 "caller may see; other installations' ids answer 404. Errors are "
                 '`{"error": {"code", "message", "field"?}}`.'},
        "tags": [{"name": name, "description": text} for name, text in TAG_DESCRIPTIONS.items()],
        "security": [{"bearer": []}, {"session": []}],
        "paths": dict(sorted(paths.items())),
        "components": {"parameters": PARAMETERS, "schemas": SCHEMAS,
                       "securitySchemes": SECURITY_SCHEMES},
    }


@routes.get("/api/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return responses.json({**document(), "servers": [{"url": request.app[SETTINGS].public_url}]})


def _parameter_view(param: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in param:
        param = PARAMETERS[param["$ref"].rsplit("/", 1)[1]]
    return {"name": param["name"], "in": param["in"], "required": param.get("required", False),
            "description": param.get("description", "")}


@routes.get("/api/docs")
async def docs(request: web.Request) -> web.Response:
    doc = document()
    by_tag: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            if method not in HTTP_METHODS:
                continue
            by_tag[op["tags"][0]].append({
                "method": method.upper(), "path": path, "summary": op["summary"],
                "description": op.get("description", ""), "id": op["operationId"],
                "role": op.get("x-minimum-role", "public"), "html": op.get("x-html", False),
                "parameters": [_parameter_view(p) for p in op["parameters"]],
                "responses": [(code, answer["description"]) for code, answer in op["responses"].items()],
            })
    tags = [{"name": t["name"], "description": t["description"], "operations": by_tag[t["name"]]}
            for t in doc["tags"] if by_tag.get(t["name"])]
    return aiohttp_jinja2.render_template("api_docs.html", request, {"info": doc["info"], "tags": tags})
