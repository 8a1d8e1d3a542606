"""Every operation the app serves, one line each; web/api/openapi.py expands them into OpenAPI 3.1.

A table rather than a hand-written YAML file: the repeated parts (path parameters, the error
responses, security) are derived, so a new route costs one line, and tests/test_openapi.py fails
until that line exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from devmetrics_app.metrics.calc.dora import BENCHMARK_SOURCE, DORA_THRESHOLDS

# Parameter groups reused across operations (names refer to openapi_params.PARAMETERS).
SCOPE = ("installation", "from", "to", "repository", "team")
METRIC = (*SCOPE, "explain")
PAGE = ("limit", "cursor")


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    summary: str
    tag: str
    params: tuple[str, ...] = ()
    # None: public (no credentials); otherwise the weakest role allowed ("" = any signed-in user).
    role: str | None = "VIEWER"
    success: int = 200
    result: str = "Object"  # a schema name in openapi_params.SCHEMAS
    body: str | None = None  # a request schema name
    body_required: bool = True
    errors: tuple[int, ...] = ()
    html: bool = False
    redirects: bool = False
    description: str = ""


OPERATIONS: tuple[Op, ...] = (
    # -- operations and documentation
    Op("GET", "/healthz", "The process answers", "health", role=None, result="Health"),
    Op("GET", "/readyz", "The database and Redis answer", "health", role=None, result="Health",
       errors=(503,)),
    Op("GET", "/metrics", "Prometheus metrics (Bearer $METRICS_TOKEN, or loopback when unset)",
       "health", role=None, result="Binary", errors=(401, 403)),
    Op("GET", "/api/openapi.json", "This document", "docs", role=None),
    Op("GET", "/api/docs", "This document as a page", "docs", role=None, html=True),
    Op("GET", "/static/{filename}", "Stylesheets and images of the pages", "pages", role=None,
       result="Binary", errors=(404,)),
    Op("GET", "/favicon.ico", "The pages' icon (SVG)", "pages", role=None, result="Binary"),
    # -- server-rendered pages
    Op("GET", "/", "Landing page (redirects to /setup until the app is registered)", "pages",
       role=None, html=True, redirects=True),
    Op("GET", "/setup", "Register the GitHub App (manifest flow)", "pages", role=None, html=True,
       redirects=True, params=("organization",), errors=(400,)),
    Op("GET", "/setup/callback", "GitHub returns from the manifest flow", "pages", role=None,
       redirects=True, params=("state_token", "code"), errors=(400, 409, 502)),
    Op("POST", "/setup/existing", "Store the credentials of an app registered by hand", "pages",
       role=None, redirects=True, body="ExistingApp", errors=(400, 403, 409)),
    Op("GET", "/setup/installed", "GitHub's setup URL after an installation", "pages", role=None,
       html=True, params=("installation_id", "setup_action"), errors=(400,)),
    # -- webhook
    Op("POST", "/api/webhooks/github", "Receive a GitHub webhook delivery", "webhooks",
       role=None, success=202, result="Delivery", body="WebhookPayload",
       params=("X-GitHub-Event", "X-GitHub-Delivery", "X-Hub-Signature-256"),
       errors=(400, 401, 413, 415, 503),
       description="Verified (HMAC-SHA256 over the raw body), stored durably, then answered; "
                   "processing happens in the workers."),
    # -- sign-in and tokens
    Op("POST", "/api/auth/github", "Start sign-in with GitHub", "auth", role=None,
       result="AuthorizeUrl", body="SignInStart", body_required=False, redirects=True, errors=(503,),
       description="A form post is redirected to GitHub; a JSON post gets the authorize URL."),
    Op("GET", "/api/auth/callback", "GitHub returns the user here", "auth", role=None,
       params=("state_token", "code", "error"), result="BearerToken", redirects=True, errors=(400, 503)),
    Op("POST", "/api/auth/logout", "End the session", "auth", role=None, success=204,
       errors=(403,)),
    Op("GET", "/api/auth/me", "Who am I, and which installations may I see", "auth", role=""),
    Op("POST", "/api/auth/tokens", "Mint a named API token", "auth", role="", success=201,
       body="TokenCreate", errors=(400, 403, 404)),
    Op("GET", "/api/auth/tokens", "My named API tokens", "auth", role=""),
    Op("DELETE", "/api/auth/tokens/{token_id}", "Revoke a named API token", "auth", role="",
       success=204),
    # -- installations
    Op("GET", "/api/installations", "Installations I can see", "installations"),
    Op("GET", "/api/installations/{installation_id}", "One installation", "installations"),
    Op("GET", "/api/installations/{installation_id}/members", "Its members and roles",
       "installations"),
    Op("PUT", "/api/installations/{installation_id}/members/{user_id}", "Set a member's role",
       "installations", role="ADMIN", body="Role", errors=(400,)),
    # -- repositories
    Op("GET", "/api/repositories", "Repositories of an installation", "repositories",
       params=("installation", "connected", "removed", *PAGE), result="Page", errors=(400,)),
    Op("GET", "/api/repositories/{repository_id}", "One repository with import progress",
       "repositories"),
    Op("POST", "/api/repositories/{repository_id}/import", "(Re)start its history import",
       "repositories", role="MANAGER", success=202, params=("days",), errors=(400,)),
    Op("POST", "/api/repositories/{repository_id}/connect", "Include it in metrics",
       "repositories", role="MANAGER"),
    Op("POST", "/api/repositories/{repository_id}/disconnect", "Leave it out of metrics",
       "repositories", role="MANAGER"),
    Op("GET", "/api/repositories/{repository_id}/metrics", "Its headline figures",
       "repositories", params=("installation", "from", "to", "explain"), errors=(400, 422)),
    # -- metrics
    Op("GET", "/api/metrics/velocity", "Sprint velocity (story points per milestone)", "metrics",
       params=METRIC, result="Metric", errors=(400, 422)),
    Op("GET", "/api/metrics/cycle-time", "PR cycle time and its stages", "metrics",
       params=(*METRIC, "cursor"), result="Metric", errors=(400, 422)),
    Op("GET", "/api/metrics/burndown", "Remaining points per day of a milestone", "metrics",
       params=("milestone", *METRIC), result="Metric", errors=(400, 422)),
    Op("GET", "/api/metrics/deployment", "Deployments to production", "metrics",
       params=(*METRIC, "cursor"), result="Metric", errors=(400, 422)),
    Op("GET", "/api/metrics/build-success", "Workflow run success rate", "metrics",
       params=METRIC, result="Metric", errors=(400, 422)),
    Op("GET", "/api/metrics/dora", "The four DORA keys with their 2023 benchmark bucket", "metrics",
       params=METRIC, result="Metric", errors=(400, 422),
       description=f"Benchmark buckets ({BENCHMARK_SOURCE}), each key's `benchmark_thresholds` in the "
       "answer: " + "; ".join(f"{key}: {t.describe()}" for key, t in DORA_THRESHOLDS.items()) + "."),
    # -- pull requests
    Op("GET", "/api/pull-requests", "Pull requests, newest first", "pull-requests",
       params=("installation", "from", "to", "repository", "team", "state", "author", "risk",
               "label", *PAGE), result="Page", errors=(400,)),
    Op("GET", "/api/pull-requests/{pull_request_id}", "One PR with timeline, reviews, stages",
       "pull-requests", errors=(422,)),
    Op("GET", "/api/pull-requests/{pull_request_id}/ai-insights", "Its latest AI analysis",
       "pull-requests", result="AiInsight",
       description='`{"status": "none"}` (200) when the PR was never analysed.'),
    Op("POST", "/api/pull-requests/{pull_request_id}/reanalyze", "Queue a new AI analysis",
       "pull-requests", role="DEVELOPER", success=202),
    # -- analytics
    Op("GET", "/api/analytics/team", "Team analytics", "analytics", params=SCOPE,
       result="Metric", errors=(400, 422)),
    Op("GET", "/api/analytics/individual/{user_id}", "One person's analytics", "analytics",
       params=SCOPE, result="Metric", errors=(400, 422)),
    Op("GET", "/api/analytics/repository/{repository_id}", "One repository's analytics",
       "analytics", params=("installation", "from", "to", "team"), result="Metric",
       errors=(400, 422)),
    Op("GET", "/api/analytics/trends", "A metric per day, week or month", "analytics",
       params=("metric", "interval", *SCOPE), result="Metric", errors=(400, 422)),
    # -- notifications
    Op("POST", "/api/notifications/rules", "Create a notification rule", "notifications",
       role="MANAGER", success=201, params=("installation",), body="Object", errors=(400, 404)),
    Op("GET", "/api/notifications/rules", "Notification rules", "notifications",
       params=("installation_filter", *PAGE), result="RulePage", errors=(400, 404)),
    Op("GET", "/api/notifications/rules/{rule_id}", "One notification rule", "notifications"),
    Op("PATCH", "/api/notifications/rules/{rule_id}", "Change a notification rule",
       "notifications", role="MANAGER", body="Object", errors=(400,)),
    Op("DELETE", "/api/notifications/rules/{rule_id}", "Delete a notification rule",
       "notifications", role="MANAGER", success=204),
    Op("GET", "/api/notifications", "My in-app notifications, newest first", "notifications",
       params=("installation_filter", *PAGE, "unread"), result="NotificationPage",
       errors=(400, 404)),
    Op("PATCH", "/api/notifications/{notification_id}/read", "Mark a notification read",
       "notifications", role="", body="ReadFlag", body_required=False,
       description='Idempotent; `{"read": false}` marks it unread again.'),
    # -- dashboard pages (server-rendered HTML; forms post with the session's CSRF token)
    Op("GET", "/dashboard",
       "Choose an organisation (or open your only one)", "dashboard",
       role="", html=True, redirects=False),
    Op("GET", "/orgs/{installation_id}",
       "Organisation overview: DORA, cycle time, throughput, builds, review load", "dashboard",
       role="VIEWER", html=True, redirects=False),
    Op("GET", "/orgs/{installation_id}/explain/{figure}",
       "What a figure is made of", "dashboard",
       role="VIEWER", html=True, redirects=False),
    Op("GET", "/orgs/{installation_id}/repositories",
       "Repositories", "dashboard",
       role="VIEWER", html=True, redirects=False),
    Op("GET", "/orgs/{installation_id}/repositories/{repository_id}",
       "A repository's figures", "dashboard",
       role="VIEWER", html=True, redirects=False),
    Op("GET", "/orgs/{installation_id}/deployments/{deployment_id}",
       "A GitHub deployment and its statuses", "dashboard",
       role="VIEWER", html=True, redirects=False),
    Op("GET", "/orgs/{installation_id}/deploy-runs/{run_id}",
       "A deploy workflow run (the deployment of a repository without deployments)", "dashboard",
       role="VIEWER", html=True, redirects=False),
    Op("GET", "/orgs/{installation_id}/pulls",
       "Pull requests with risk badges", "dashboard",
       role="VIEWER", html=True, redirects=False),
    Op("GET", "/orgs/{installation_id}/pulls/{pull_request_id}",
       "A pull request: timeline, stages, AI insights", "dashboard",
       role="VIEWER", html=True, redirects=False),
    Op("GET", "/orgs/{installation_id}/people",
       "Everyone's flow for managers (others go to their own page)", "dashboard",
       role="VIEWER", html=True, redirects=True),
    Op("GET", "/orgs/{installation_id}/people/{user_id}",
       "A person's coaching view (the person and managers)", "dashboard",
       role="VIEWER", html=True, redirects=False),
    Op("GET", "/orgs/{installation_id}/sprints",
       "Velocity and burndown", "dashboard",
       role="VIEWER", html=True, redirects=False),
    Op("GET", "/orgs/{installation_id}/notifications/rules",
       "Notification rules", "dashboard",
       role="VIEWER", html=True, redirects=False),
    Op("GET", "/orgs/{installation_id}/notifications/rules/new",
       "New notification rule form", "dashboard",
       role="MANAGER", html=True, redirects=False),
    Op("POST", "/orgs/{installation_id}/notifications/rules/new",
       "Create a notification rule", "dashboard",
       role="MANAGER", html=True, redirects=True),
    Op("GET", "/orgs/{installation_id}/notifications/rules/{rule_id}/edit",
       "Edit a notification rule", "dashboard",
       role="MANAGER", html=True, redirects=False),
    Op("POST", "/orgs/{installation_id}/notifications/rules/{rule_id}/edit",
       "Save a notification rule", "dashboard",
       role="MANAGER", html=True, redirects=True),
    Op("POST", "/orgs/{installation_id}/notifications/rules/{rule_id}/enabled",
       "Enable or disable a rule", "dashboard",
       role="MANAGER", html=True, redirects=True),
    Op("POST", "/orgs/{installation_id}/notifications/rules/{rule_id}/delete",
       "Delete a rule", "dashboard",
       role="MANAGER", html=True, redirects=True),
    Op("GET", "/notifications",
       "In-app notifications", "dashboard",
       role="", html=True, redirects=False),
    Op("POST", "/notifications/{notification_id}/read",
       "Mark an in-app notification read", "dashboard",
       role="", html=True, redirects=True),
    Op("GET", "/orgs/{installation_id}/settings",
       "Settings (admins)", "dashboard",
       role="ADMIN", html=True, redirects=False),
    Op("POST", "/orgs/{installation_id}/settings",
       "Save settings", "dashboard",
       role="ADMIN", html=True, redirects=True),
    Op("POST", "/orgs/{installation_id}/settings/members/{user_id}",
       "Change a member's role", "dashboard",
       role="ADMIN", html=True, redirects=True),
    Op("GET", "/api/live", "Live updates over a WebSocket (session cookie, same origin)", "live",
       role="", errors=(403,),
       description="Rooms `org:ID`, `repo:ID`, `pr:ID` in ?rooms=; each must be visible to you."),
)
