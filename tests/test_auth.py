"""Sign-in with GitHub (through the fake GitHub's OAuth), sessions, bearer and API tokens,
and who may see which installation."""

from __future__ import annotations

import copy
from urllib.parse import parse_qs, urlsplit

import aiohttp
import payloads
import pytest
from conftest import deliver

ALICE = payloads.ALICE


def seed_user(state, login: str = "alice", installations: tuple[int, ...] = (4242,)) -> None:
    user = {"alice": payloads.ALICE, "bob": payloads.BOB, "carol": payloads.CAROL,
            "solo": payloads.user("solo", payloads.SOLO_ID)}[login]
    state.users[login] = copy.deepcopy(user)
    state.user_installations[login] = list(installations)
    for inst_id in installations:
        state.installations[inst_id] = {"id": inst_id}


async def install(pool, label: str = "created-org") -> None:
    for event, case, payload in payloads.ALL_SAMPLES:
        if event == "installation" and case == label:
            assert await deliver(pool, event, payload) == "processed"
            return
    raise KeyError(label)


async def browser_sign_in(client, state, login: str = "alice") -> str:
    """Follow the whole browser flow; return the CSRF token of the new session."""
    start = await client.post("/api/auth/github", data={"next": "/dashboard"},
                              allow_redirects=False)
    assert start.status == 302, await start.text()
    authorize = start.headers["Location"]
    async with aiohttp.ClientSession() as github:  # the user's browser at GitHub
        consent = await github.get(authorize + f"&login={login}", allow_redirects=False)
    assert consent.status == 302
    back = urlsplit(consent.headers["Location"])
    assert back.path == "/api/auth/callback"
    done = await client.get(f"{back.path}?{back.query}", allow_redirects=False)
    assert done.status == 302, await done.text()
    assert done.headers["Location"] == "/dashboard"
    set_cookie = done.headers.getall("Set-Cookie")
    session_cookie = next(c for c in set_cookie if c.startswith("devmetrics_session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "Secure" not in session_cookie  # PUBLIC_URL is http in tests
    me = await client.get("/api/auth/me")
    assert me.status == 200
    return (await me.json())["csrf_token"]


async def api_sign_in(client, state, login: str = "alice") -> str:
    start = await client.post("/api/auth/github", json={})
    authorize = (await start.json())["authorize_url"]
    async with aiohttp.ClientSession() as github:
        consent = await github.get(authorize + f"&login={login}", allow_redirects=False)
    back = urlsplit(consent.headers["Location"])
    client.session.cookie_jar.clear()
    answer = await client.get(f"{back.path}?{back.query}")
    assert answer.status == 200, await answer.text()
    body = await answer.json()
    assert body["token_type"] == "Bearer"
    return body["token"]


async def test_browser_sign_in_sets_a_safe_session_cookie(github_client, pool) -> None:
    client, state = github_client
    seed_user(state)
    await install(pool)
    await browser_sign_in(client, state)
    me = await (await client.get("/api/auth/me")).json()
    assert me["user"]["login"] == "alice" and me["via"] == "session"
    assert [i["id"] for i in me["installations"]] == [4242]
    # The OAuth tokens are stored, encrypted.
    stored = await pool.fetchrow("SELECT * FROM user_tokens WHERE user_id = $1", ALICE["id"])
    assert stored is not None and b"ghu_" not in bytes(stored["access_token_enc"])


async def test_state_is_checked(github_client, pool) -> None:
    client, state = github_client
    seed_user(state)
    assert (await client.get("/api/auth/callback?code=x&state=forged")).status == 400
    # A state started in another browser (no state cookie here) is refused: no login CSRF.
    start = await client.post("/api/auth/github", allow_redirects=False)
    authorize = start.headers["Location"]
    async with aiohttp.ClientSession() as github:
        consent = await github.get(authorize, allow_redirects=False)
    back = urlsplit(consent.headers["Location"])
    client.session.cookie_jar.clear()
    assert (await client.get(f"{back.path}?{back.query}")).status == 400
    # A code GitHub refuses is a clean 400.
    start = await client.post("/api/auth/github", json={})
    state_value = parse_qs(urlsplit((await start.json())["authorize_url"]).query)["state"][0]
    response = await client.get(f"/api/auth/callback?code=nonsense&state={state_value}")
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "oauth_failed"


async def test_open_redirects_are_refused(github_client, pool) -> None:
    client, state = github_client
    seed_user(state)
    for target in ("https://evil.example", "//evil.example", "/\\evil.example"):
        start = await client.post("/api/auth/github", data={"next": target}, allow_redirects=False)
        async with aiohttp.ClientSession() as github:
            consent = await github.get(start.headers["Location"], allow_redirects=False)
        back = urlsplit(consent.headers["Location"])
        done = await client.get(f"{back.path}?{back.query}", allow_redirects=False)
        assert done.headers["Location"] == "/"


async def test_bearer_token_dies_with_logout(github_client, pool) -> None:
    client, state = github_client
    seed_user(state)
    await install(pool)
    token = await api_sign_in(client, state)
    headers = {"Authorization": f"Bearer {token}"}
    me = await client.get("/api/auth/me", headers=headers)
    assert me.status == 200 and (await me.json())["via"] == "bearer"
    assert (await client.post("/api/auth/logout", headers=headers)).status == 204
    assert (await client.get("/api/auth/me", headers=headers)).status == 401
    assert (await client.get("/api/auth/me",
                             headers={"Authorization": "Bearer not.a.jwt"})).status == 401


async def test_cookie_writes_need_the_csrf_token(github_client, pool) -> None:
    client, state = github_client
    seed_user(state)
    await install(pool)
    csrf = await browser_sign_in(client, state)
    refused = await client.post("/api/auth/tokens", json={"name": "ci"})
    assert refused.status == 403
    created = await client.post("/api/auth/tokens", json={"name": "ci"},
                                headers={"X-CSRF-Token": csrf})
    assert created.status == 201
    assert (await client.post("/api/auth/logout")).status == 403
    assert (await client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})).status == 204
    assert (await client.get("/api/auth/me")).status == 401


async def test_named_api_tokens(github_client, pool) -> None:
    client, state = github_client
    seed_user(state)
    await install(pool)
    bearer = {"Authorization": f"Bearer {await api_sign_in(client, state)}"}
    bad = await client.post("/api/auth/tokens", json={"name": ""}, headers=bearer)
    assert bad.status == 400 and (await bad.json())["error"]["field"] == "name"
    hidden = await client.post("/api/auth/tokens", json={"name": "x", "installation": 999},
                               headers=bearer)
    assert hidden.status == 404
    created = await client.post("/api/auth/tokens",
                                json={"name": "nightly", "installation": 4242, "role": "ADMIN",
                                      "expires_in_days": 7}, headers=bearer)
    body = await created.json()
    assert created.status == 201 and body["token"].startswith("dm_")
    # alice is a developer there (carol installed the app): a token never exceeds its user.
    assert body["role"] == "DEVELOPER"
    script = {"Authorization": f"Bearer {body['token']}"}
    me = await (await client.get("/api/auth/me", headers=script)).json()
    assert me["via"] == "api_token" and [i["id"] for i in me["installations"]] == [4242]
    listed = await (await client.get("/api/auth/tokens", headers=bearer)).json()
    assert [t["name"] for t in listed["tokens"]] == ["nightly"]
    assert "token" not in listed["tokens"][0]  # the secret is shown once
    stored = await pool.fetchval("SELECT token_hash FROM api_tokens")
    assert body["token"] not in stored
    assert (await client.delete(f"/api/auth/tokens/{body['id']}", headers=bearer)).status == 204
    assert (await client.get("/api/auth/me", headers=script)).status == 401


async def test_user_token_is_refreshed_when_expiring(github_client, pool) -> None:
    client, state = github_client
    seed_user(state)
    await install(pool)
    state.user_token_seconds = 30  # inside the refresh margin at once
    bearer = {"Authorization": f"Bearer {await api_sign_in(client, state)}"}
    me = await (await client.get("/api/auth/me", headers=bearer)).json()
    assert [i["id"] for i in me["installations"]] == [4242]
    exchanges = state.requests_to("POST", "/login/oauth/access_token")
    assert len(exchanges) == 2  # the code exchange, then one refresh
    assert "grant_type=refresh_token" in str(exchanges[1].body)


@pytest.mark.parametrize("cut", ["revoked", "member_removed", "uninstalled", "suspended"])
async def test_access_is_cut_the_moment_github_says_so(github_client, pool, cut: str) -> None:
    client, state = github_client
    seed_user(state)
    await install(pool)
    bearer = {"Authorization": f"Bearer {await api_sign_in(client, state)}"}
    created = await client.post("/api/auth/tokens", json={"name": "s", "installation": 4242},
                                headers=bearer)
    script = {"Authorization": f"Bearer {(await created.json())['token']}"}
    assert (await client.get("/api/installations/4242", headers=bearer)).status == 200
    samples = {(e, c): p for e, c, p in payloads.ALL_SAMPLES}
    if cut == "revoked":
        payload = copy.deepcopy(samples[("github_app_authorization", "revoked")])
        payload["sender"] = copy.deepcopy(ALICE)
        await deliver(pool, "github_app_authorization", payload)
    elif cut == "member_removed":
        await deliver(pool, "organization", {
            "action": "member_removed", "membership": {"user": copy.deepcopy(ALICE),
                                                        "role": "member", "state": "active"},
            "organization": {"id": payloads.ORG_ID, "login": "acme"},
            "installation": {"id": 4242}, "sender": copy.deepcopy(payloads.CAROL)})
    elif cut == "uninstalled":
        payload = copy.deepcopy(samples[("installation", "created-org")])
        payload["action"] = "deleted"
        await deliver(pool, "installation", payload)
    else:
        await deliver(pool, "installation", samples[("installation", "suspend")])
    # GitHub's list is still cached, but our records cut access immediately.
    assert (await client.get("/api/installations/4242", headers=bearer)).status == 404
    me = await client.get("/api/auth/me", headers=script)
    if cut == "revoked":
        assert me.status == 401
    else:
        assert (await me.json())["installations"] == []


async def test_roles_gate_writes(github_client, pool) -> None:
    client, state = github_client
    seed_user(state, "carol")
    seed_user(state, "bob")
    await install(pool)
    carol = {"Authorization": f"Bearer {await api_sign_in(client, state, 'carol')}"}
    bob = {"Authorization": f"Bearer {await api_sign_in(client, state, 'bob')}"}
    installations = await (await client.get("/api/installations", headers=bob)).json()
    assert installations["installations"][0]["role"] == "DEVELOPER"
    # bob (a developer) cannot change roles; carol (the installer, ADMIN) can.
    denied = await client.put(f"/api/installations/4242/members/{payloads.BOB['id']}",
                              json={"role": "MANAGER"}, headers=bob)
    assert denied.status == 403
    bad = await client.put(f"/api/installations/4242/members/{payloads.BOB['id']}",
                           json={"role": "OWNER"}, headers=carol)
    assert bad.status == 400 and (await bad.json())["error"]["field"] == "role"
    granted = await client.put(f"/api/installations/4242/members/{payloads.BOB['id']}",
                               json={"role": "MANAGER"}, headers=carol)
    assert granted.status == 200
    again = await (await client.get("/api/installations", headers=bob)).json()
    assert again["installations"][0]["role"] == "MANAGER"


async def test_setup_pages_refuse_once_configured(github_client) -> None:
    client, _ = github_client
    # The test app is configured from the environment: no takeover through /setup.
    assert (await client.get("/setup", allow_redirects=False)).status == 302
    assert (await client.get("/setup/callback?code=abc&state=x")).status == 409
    assert (await client.post("/setup/existing", data={"app_id": "1"})).status == 409


async def test_organisation_owners_are_admins(github_client, pool) -> None:
    client, state = github_client
    seed_user(state, "bob")
    await install(pool)  # installed by carol
    state.org_roles[("acme", "bob")] = "admin"
    bob = {"Authorization": f"Bearer {await api_sign_in(client, state, 'bob')}"}
    listed = await (await client.get("/api/installations", headers=bob)).json()
    assert listed["installations"][0]["role"] == "ADMIN"
    row = await pool.fetchrow("SELECT role, github_role, source FROM memberships WHERE user_id = $1",
                              payloads.BOB["id"])
    assert dict(row) == {"role": "ADMIN", "github_role": "admin", "source": "github"}
    # Remembered: GitHub is asked once.
    await client.get("/api/installations", headers=bob)
    assert len(state.requests_to("GET", "/orgs/acme/memberships/bob")) == 1


async def test_api_sign_in_start_refuses_a_json_body_that_is_not_an_object(github_client) -> None:
    client, _ = github_client
    for body in (b"[]", b'"next"', b"{"):
        response = await client.post("/api/auth/github", data=body,
                                     headers={"Content-Type": "application/json"})
        assert response.status == 400, body
    assert (await client.post("/api/auth/github", json={})).status == 200
