"""Every API route, asked by a user of installation A about installation B's things, answers
404: not 403 (which would confirm B's ids exist), and never B's data.

The walk reads the routes the app registers, so a new route is covered the day it is added;
a route with a path parameter this file does not know fails the test until it is taught.
"""

from __future__ import annotations

import re

import payloads
from conftest import deliver
from payloads import sample
from test_auth import api_sign_in, seed_user

B_INSTALLATION = payloads.SOLO_INSTALLATION_ID
B_REPOSITORY = payloads.REPO_TOOL_ID
# Strings that only installation B's data contains.
B_MARKERS = ("solo/tool", "Add CLI flag")
NOT_TENANT_ROUTES = re.compile(r"^/(api/webhooks/|api/auth/(github|callback|logout)$|setup|static|"
                               r"healthz|readyz|$)")




async def seed_two_tenants(pool) -> dict[str, int | str]:
    await deliver(pool, "installation", sample("installation", "created-org"))
    await deliver(pool, "installation", sample("installation", "created-user-account"))
    b_pr = sample("pull_request", "opened-user-account-repo")
    await deliver(pool, "pull_request", b_pr)
    b_token = await pool.fetchval(
        """INSERT INTO api_tokens (id, user_id, installation_id, name, token_hash)
           VALUES ('b-token', $1, $2, 'solo script', 'hash-b') RETURNING id""",
        payloads.SOLO_ID, B_INSTALLATION)
    return {
        "installation_id": B_INSTALLATION,
        "repository_id": B_REPOSITORY,
        "user_id": payloads.SOLO_ID,
        "token_id": b_token,
        "pull_request_id": b_pr["pull_request"]["id"],
        "milestone_id": 1,
        "rule_id": 1,
        "notification_id": 1,
        "team_id": 1,
        "figure": "cycle-time",
        "deployment_id": 1,
        "run_id": 1,
    }


async def test_every_route_hides_other_installations(github_client, pool) -> None:
    client, state = github_client
    seed_user(state, "alice", installations=(4242,))
    b_ids = await seed_two_tenants(pool)
    headers = {"Authorization": f"Bearer {await api_sign_in(client, state, 'alice')}"}
    walked = []
    for route in client.server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        pattern = info.get("formatter") or info.get("path")
        if not pattern or NOT_TENANT_ROUTES.match(pattern) or route.method == "HEAD":
            continue
        params = re.findall(r"\{(\w+)\}", pattern)
        unknown = [p for p in params if p not in b_ids]
        assert not unknown, f"teach this test the parameter(s) {unknown} of {pattern}"
        path = pattern.format(**{p: b_ids[p] for p in params})
        query = {"installation": str(B_INSTALLATION), "repository": str(B_REPOSITORY)}
        response = await client.request(route.method, path, params=query, json={},
                                         headers=headers)
        text = await response.text()
        if params:
            assert response.status == 404, (route.method, pattern, response.status, text[:200])
        else:
            assert response.status in {200, 201, 204, 400, 403, 404}, (route.method, pattern, text)
        assert not any(marker in text for marker in B_MARKERS), (route.method, pattern, text)
        walked.append(f"{route.method} {pattern}")
    assert len(walked) >= 8, walked
