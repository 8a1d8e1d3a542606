"""The OpenAPI components: named parameters, schemas and security schemes.

The parameter rules here are the ones web/api/query.py enforces; say a rule once in each place,
and change both together.
"""

from __future__ import annotations

from typing import Any

from devmetrics_app.metrics.read.trends import TEAM_TREND_METRICS, TREND_INTERVALS, TREND_METRICS
from devmetrics_app.store.pull_request_list import RISK_BANDS, STATES
from devmetrics_app.web.api.query import DEFAULT_DAYS, DEFAULT_LIMIT, MAX_LIMIT, MAX_RANGE_DAYS
from devmetrics_app.web.tenancy import ROLES

ID = {"type": "integer", "format": "int64", "minimum": 1}
OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
TIMESTAMP = {"type": "string", "format": "date-time"}


def _query(name: str, description: str, schema: dict[str, Any], *, required: bool = False,
           explode: bool | None = None) -> dict[str, Any]:
    param = {"name": name, "in": "query", "required": required, "description": description,
             "schema": schema}
    if explode is not None:
        param["explode"] = explode
    return param


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": True, "description": description,
            "schema": {"type": "string"}}


PARAMETERS: dict[str, dict[str, Any]] = {
    "installation": _query("installation", "Installation id. Required when you can see several; "
                           "otherwise your only one. One you cannot see is 404.", ID),
    "installation_filter": _query("installation", "Only this installation (one you cannot see is "
                                  "404). Default: every installation you can see.", ID),
    "from": _query("from", f"Start: ISO date (YYYY-MM-DD) or datetime with offset. Default: "
                   f"{DEFAULT_DAYS} days before `to`.", {"type": "string"}),
    "to": _query("to", "End: ISO date (inclusive) or datetime with offset (exclusive); not before "
                 f"`from`; at most {MAX_RANGE_DAYS} days after it. Default: today.", {"type": "string"}),
    "repository": _query("repository", "Repository ids of the installation (repeat or comma-"
                         "separate); a foreign id is 404.", {"type": "array", "items": ID}),
    "team": _query("team", "A team id of the installation; its members' work only.", ID),
    "explain": _query("explain", "Include the items behind each figure and the excluded ones "
                      "with their reasons.", {"type": "boolean", "default": False}),
    "limit": _query("limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                             "default": DEFAULT_LIMIT}),
    "cursor": _query("cursor", "Opaque: the `next_cursor` of the previous page (signed; bound to "
                     "this list). On metrics: pages the explained items (with explain=true).",
                     {"type": "string"}),
    "unread": _query("unread", "Only unread ones.", {"type": "boolean", "default": False}),
    "milestone": _query("milestone", "The milestone (sprint) id.", ID, required=True),
    "state": _query("state", "Comma-separated states.",
                    {"type": "string", "pattern": f"^({'|'.join(STATES)})(,({'|'.join(STATES)}))*$"}),
    "author": _query("author", "The author's GitHub login.", {"type": "string", "maxLength": 45}),
    "risk": _query("risk", "Risk band of the latest completed AI review: "
                   + ", ".join(f"{k} {lo}-{hi}" for k, (lo, hi) in RISK_BANDS.items()) + ".",
                   {"type": "string", "enum": list(RISK_BANDS)}),
    "label": _query("label", "Labels the PR must all carry (repeat the parameter).",
                    {"type": "array", "items": {"type": "string"}}),
    "metric": _query("metric", "The series to draw; with `team`, only "
                     + ", ".join(TEAM_TREND_METRICS) + ".",
                     {"type": "string", "enum": list(TREND_METRICS)}, required=True),
    "interval": _query("interval", "Bucket size.", {"type": "string", "enum": list(TREND_INTERVALS),
                                                     "default": "week"}),
    "connected": _query("connected", "Only connected (true) or disconnected (false) ones.",
                        {"type": "boolean"}),
    "removed": _query("removed", "Include repositories removed from the installation.",
                      {"type": "boolean", "default": False}),
    "days": _query("days", "How far back to import.", {"type": "integer", "minimum": 1,
                                                        "maximum": 730, "default": 90}),
    "organization": _query("organization", "Register the app on this organisation.",
                           {"type": "string"}),
    "state_token": _query("state", "The state this app issued.", {"type": "string"}),
    "code": _query("code", "GitHub's one-time code.", {"type": "string"}),
    "error": _query("error", "GitHub's error when the user declined.", {"type": "string"}),
    "installation_id": _query("installation_id", "The new installation's id.", ID, required=True),
    "setup_action": _query("setup_action", "install or update.", {"type": "string"}),
    "X-GitHub-Event": _header("X-GitHub-Event", "The event name."),
    "X-GitHub-Delivery": _header("X-GitHub-Delivery", "The delivery id (kept on redelivery)."),
    "X-Hub-Signature-256": _header("X-Hub-Signature-256", "sha256=HMAC of the raw body."),
}

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                   "field": {"type": "string", "description": "The parameter or body field at fault."}}}}}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": ERROR,
    "Object": OBJECT,
    "Binary": {"type": "string", "contentMediaType": "application/octet-stream"},
    "Health": {"type": "object", "properties": {"status": {"type": "string"},
                                                "checks": OBJECT, "version": {"type": "string"}}},
    "Page": {"type": "object", "required": ["items", "next_cursor", "limit"], "properties": {
        "items": {"type": "array", "items": OBJECT},
        "next_cursor": {"type": ["string", "null"], "description": "null on the last page"},
        "limit": {"type": "integer"}}},
    "NotificationPage": {"type": "object", "required": ["notifications", "next_cursor", "limit",
                                                        "unread_count"], "properties": {
        "notifications": {"type": "array", "items": OBJECT},
        "next_cursor": {"type": ["string", "null"], "description": "null on the last page"},
        "limit": {"type": "integer"},
        "unread_count": {"type": "integer", "description": "Your unread ones in the installations "
                                                           "listed, not only this page's."}}},
    "RulePage": {"type": "object", "required": ["rules", "next_cursor", "limit"], "properties": {
        "rules": {"type": "array", "items": OBJECT},
        "next_cursor": {"type": ["string", "null"], "description": "null on the last page"},
        "limit": {"type": "integer"}}},
    "Metric": {"type": "object", "required": ["metric", "query", "result"], "properties": {
        "metric": {"type": "string"},
        "query": {"type": "object", "properties": {
            "installation": ID, "from": TIMESTAMP, "to": TIMESTAMP,
            "repository": {"type": ["array", "null"], "items": ID},
            "team": {"type": ["integer", "null"]}, "explain": {"type": "boolean"}}},
        "as_of": {**TIMESTAMP, "description": "The figures include everything received up to this moment "
                  "(also on `result` and on each figure in it)."},
        "pending": {"type": "boolean", "description": "Deliveries of the installation or rollup jobs for "
                    "the scope are still outstanding: the figures may still change."},
        "result": OBJECT}},
    "AiInsight": {"type": "object", "required": ["status"], "properties": {
        "status": {"type": "string", "enum": ["none", "queued", "in_progress", "completed",
                                              "skipped", "cancelled", "failed"]},
        "risk_score": {"type": ["integer", "null"]}, "floor_score": {"type": ["integer", "null"]},
        "findings": {"type": "array", "items": OBJECT}, "coverage": OBJECT,
        "cost_usd": {"type": "number"}}},
    "Delivery": {"type": "object", "properties": {"delivery": {"type": "string"},
                                                  "duplicate": {"type": "boolean"}}},
    "WebhookPayload": OBJECT,
    "AuthorizeUrl": {"type": "object", "properties": {"authorize_url": {"type": "string"},
                                                      "state": {"type": "string"}}},
    "BearerToken": {"type": "object", "properties": {
        "token": {"type": "string"}, "token_type": {"const": "Bearer"}, "expires_at": TIMESTAMP,
        "user": OBJECT}},
    "SignInStart": {"type": "object", "description": "Nothing is read from a JSON body; a form "
                    "post's `next` field is the same-site page to return to."},
    "TokenCreate": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "installation": {**ID, "type": ["integer", "null"],
                         "description": "Limit the token to one installation; null: all."},
        "role": {"type": "string", "enum": list(ROLES)},
        "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 366}}},
    "Role": {"type": "object", "required": ["role"],
             "properties": {"role": {"type": "string", "enum": list(ROLES)}}},
    "ReadFlag": {"type": "object", "properties": {"read": {"type": "boolean", "default": True}}},
    "ExistingApp": {"type": "object", "required": ["app_id", "private_key"], "properties": {
        "app_id": {"type": "string"}, "private_key": {"type": "string"},
        "csrf_token": {"type": "string"}}},
}

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description":
               "A sign-in bearer token (POST /api/auth/github with JSON) or a named API token (dm_...)."},
    "session": {"type": "apiKey", "in": "cookie", "name": "devmetrics_session", "description":
                "The browser session; writes also need the X-CSRF-Token header."},
    "webhookSignature": {"type": "apiKey", "in": "header", "name": "X-Hub-Signature-256"},
}
