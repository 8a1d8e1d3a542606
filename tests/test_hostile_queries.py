"""Every GET route the app registers, asked with hostile query values by a signed-in user of
its own installation, answers below 500: malformed, out-of-range, unicode digits, repeated,
oversized. A 500 here is an unhandled input somewhere.

Like test_tenant_isolation, the walk reads the app's routes, so a new route is covered the day
it is added; a path parameter this file does not know fails the test until it is taught."""

from __future__ import annotations

import re

import payloads
from api_support import ORG, seed_world
from test_auth import api_sign_in, seed_user

from devmetrics_app.web.api.openapi import document

OWN_IDS = {
    "installation_id": ORG,
    "repository_id": payloads.REPO_API_ID,
    "user_id": payloads.ALICE["id"],
    "pull_request_id": payloads.pr_id(payloads.REPO_API_ID, 7),
    "milestone_id": 1,
    "rule_id": 1,
    "notification_id": 1,
    "team_id": 1,
    "token_id": "t",
    "figure": "cycle_time",
    "deployment_id": 1,
    "run_id": 1,
}
# The pages read these; an API route's own are the query parameters its OpenAPI entry lists.
PAGE_PARAMETERS = ("period", "from", "to", "repository", "team", "state", "author", "risk",
                   "milestone", "cursor", "done", "person", "sort", "order", "offset", "format", "org")
HOSTILE = ("", " ", "-1", "0", "\u00b2", "\u0663", "1e9", "99999999999999999999999", "9" * 400,
           "2024-02-30", "0001-01-01", "9999-12-31T23:59:59+14:00", "null", "[]", "{}", "\x00",
           "%", "../../etc/passwd", "<script>", "true,false", "custom")
def documented_parameters() -> dict[str, tuple[str, ...]]:
    """Query parameter names per GET path, from the OpenAPI document the app serves."""
    doc = document()
    out = {}
    for path, methods in doc["paths"].items():
        names = []
        for ref in methods.get("get", {}).get("parameters", []):
            param = doc["components"]["parameters"][ref["$ref"].rsplit("/", 1)[1]] if "$ref" in ref else ref
            if param["in"] == "query":
                names.append(param["name"])
        out[path] = tuple(names)
    return out


SKIP = re.compile(r"^/(api/webhooks/|api/auth/|api/live|setup|static|healthz|readyz)")


def own_routes(app, wanted) -> list[tuple[str, str, str]]:
    """(method, pattern, path) of every route whose method is `wanted`, its path parameters
    filled with the signed-in user's own ids; an unknown parameter fails the test."""
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        pattern = info.get("formatter") or info.get("path")
        if not wanted(route.method) or not pattern or SKIP.match(pattern):
            continue
        params = re.findall(r"\{(\w+)\}", pattern)
        unknown = [p for p in params if p not in OWN_IDS]
        assert not unknown, f"teach this test the parameter(s) {unknown} of {pattern}"
        out.append((route.method, pattern, pattern.format(**{p: OWN_IDS[p] for p in params})))
    return out


async def test_no_get_route_answers_500(github_client, pool) -> None:
    client, state = github_client
    await seed_world(pool, rollups=True)
    seed_user(state, "alice", installations=(ORG,))
    headers = {"Authorization": f"Bearer {await api_sign_in(client, state, 'alice')}"}
    walked, failures = 0, []
    api_parameters = documented_parameters()
    for _, pattern, path in own_routes(client.server.app, lambda method: method == "GET"):
        names = api_parameters.get(pattern, ()) if pattern.startswith("/api/") else PAGE_PARAMETERS
        for name in names:
            for value in HOSTILE:
                response = await client.get(path, params={name: value}, headers=headers,
                                            allow_redirects=False)
                if response.status >= 500:
                    failures.append((pattern, name, value, response.status, (await response.text())[:200]))
            # Repeated: the same parameter twice.
            response = await client.get(path, params=[(name, "1"), (name, "2")], headers=headers,
                                        allow_redirects=False)
            if response.status >= 500:
                failures.append((pattern, name, "repeated", response.status, (await response.text())[:200]))
        walked += 1
    assert not failures, failures[:10]
    assert walked >= 20


async def test_a_huge_path_id_is_refused_not_a_500(github_client, pool) -> None:
    """int() raises past 4,300 digits: every id in a path is bounded before it is parsed."""
    client, state = github_client
    seed_user(state, "alice", installations=(ORG,))
    headers = {"Authorization": f"Bearer {await api_sign_in(client, state, 'alice')}"}
    failures = []
    for _, pattern, _path in own_routes(client.server.app, lambda method: method == "GET"):
        params = re.findall(r"\{(\w+)\}", pattern)
        if not params:
            continue
        path = pattern.format(**{p: "9" * 5000 for p in params})
        response = await client.get(path, headers=headers, allow_redirects=False)
        if response.status >= 500:
            failures.append((pattern, response.status))
    assert not failures, failures


BODIES = (b"", b"null", b"[]", b'"text"', b"{", b'{"name": 1e999}', b'{"a": ' * 200 + b"1" + b"}" * 200,
          b'{"name": "x", "type": "pr_opened", "channels": ["in_app"], "conditions": {"hours": "\xb2"}}',
          b'{"role": "ADMIN\\u0000"}', b"\xff\xfe", b'{"enabled": "yes", "days": -1}')


async def test_no_write_route_answers_500(github_client, pool) -> None:
    client, state = github_client
    await seed_world(pool, rollups=True)
    seed_user(state, "alice", installations=(ORG,))
    await pool.execute("UPDATE memberships SET role = 'ADMIN' WHERE installation_id = $1", ORG)
    headers = {"Authorization": f"Bearer {await api_sign_in(client, state, 'alice')}"}
    failures, walked = [], 0
    for method, pattern, path in own_routes(client.server.app, lambda m: m not in {"GET", "HEAD", "*"}):
        for body in BODIES:
            for content_type in ("application/json", "application/x-www-form-urlencoded"):
                response = await client.request(method, path, data=body, allow_redirects=False,
                                                headers={**headers, "Content-Type": content_type})
                if response.status >= 500:
                    failures.append((method, pattern, body[:60], content_type, response.status))
        walked += 1
    # The unauthenticated forms: sign-in and first-run setup.
    for path in ("/api/auth/github", "/setup/existing"):
        for body in (b"\xff\xfe", b"next=%00", b"csrf_token=\x00"):
            response = await client.post(path, data=body, allow_redirects=False,
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            if response.status >= 500:
                failures.append(("POST", path, body, response.status))
    assert not failures, failures[:10]
    assert walked >= 10
