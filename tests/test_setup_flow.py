"""Registering the GitHub App through the manifest flow, end to end against the fake GitHub."""

from __future__ import annotations

import dataclasses
import html
import re
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from api_support import ORG, seed_world
from conftest import post_webhook
from test_auth import api_sign_in, seed_user

from devmetrics_app.config import Secret
from devmetrics_app.web.app import create_app


def unconfigured_settings(settings, base_url: str, **changes):
    """`settings` with no GitHub App credentials in the environment."""
    return dataclasses.replace(settings, github_app_id=None, github_private_key=Secret(""),
                               github_webhook_secret=Secret(""), github_client_id="",
                               github_client_secret=Secret(""), github_api_url=base_url,
                               github_url=base_url, **changes)


@pytest.fixture
async def unconfigured(aiohttp_client, settings, pool, broker, fake_github, private_key_pem):
    """An app with no GitHub App credentials in its environment."""
    state, base_url = fake_github
    bare = unconfigured_settings(settings, base_url)
    app = create_app(bare, database_url=bare.database_url.get(), redis_url=bare.redis_url.get())
    state.manifest_codes["code-123"] = {
        "id": 777, "slug": "devmetrics-acme", "node_id": "A_1", "name": "DevMetrics (acme)",
        "owner": {"login": "acme", "id": 9001, "type": "Organization"},
        "html_url": "https://github.com/apps/devmetrics-acme",
        "client_id": "Iv1.converted", "client_secret": "converted-client-secret",
        "webhook_secret": "converted-webhook-secret", "pem": private_key_pem,
        "permissions": {}, "events": [], "created_at": "2024-05-01T10:00:00Z",
        "updated_at": "2024-05-01T10:00:00Z",
    }
    # The browser is on PUBLIC_URL's host (as it is once redirected there, or behind a proxy).
    return await aiohttp_client(app, headers={"Host": urlsplit(bare.public_url).netloc}), state


def form_parts(page: str) -> tuple[str, dict]:
    action = html.unescape(re.search(r'<form method="post" action="([^"]+/settings/apps/new[^"]*)"',
                                     page).group(1))
    manifest = html.unescape(re.search(r'name="manifest" value="([^"]+)"', page).group(1))
    return action, orjson.loads(manifest)


async def test_manifest_flow_end_to_end(unconfigured, pool) -> None:
    client, state = unconfigured
    landing = await client.get("/", allow_redirects=False)
    assert landing.headers["Location"] == "/setup"
    page = await (await client.get("/setup?organization=acme")).text()
    action, manifest = form_parts(page)
    assert "/organizations/acme/settings/apps/new?state=" in action
    assert manifest["hook_attributes"]["url"] == "http://localhost:8000/api/webhooks/github"
    assert manifest["callback_urls"] == ["http://localhost:8000/api/auth/callback"]
    assert manifest["default_permissions"]["checks"] == "write"
    # Webhooks cannot be verified yet: answered 503, not accepted unsigned.
    assert (await post_webhook(client, "push", {"installation": {"id": 1}})).status == 503
    returned_state = parse_qs(urlsplit(action).query)["state"][0]
    done = await client.get(f"/setup/callback?code=code-123&state={returned_state}",
                            allow_redirects=False)
    assert done.status == 302, await done.text()
    assert done.headers["Location"] == "https://github.com/apps/devmetrics-acme/installations/new"
    assert state.requests_to("POST", "/app-manifests/code-123/conversions")
    row = await pool.fetchrow("SELECT * FROM app_credentials")
    assert row["app_id"] == 777 and row["client_id"] == "Iv1.converted"
    assert b"converted-webhook-secret" not in bytes(row["webhook_secret_enc"])
    # The stored webhook secret now verifies deliveries.
    body = orjson.dumps({"action": "created", "installation": {"id": 1}})
    from devmetrics_app.web.signature import sign
    signed = await client.post("/api/webhooks/github", data=body, headers={
        "Content-Type": "application/json", "X-GitHub-Event": "star",
        "X-GitHub-Delivery": "after-setup", "X-Hub-Signature-256": sign("converted-webhook-secret", body)})
    assert signed.status == 202
    # And the setup pages are closed for good.
    assert (await client.get("/setup", allow_redirects=False)).status == 302
    again = await client.get(f"/setup/callback?code=code-123&state={returned_state}")
    assert again.status == 409


async def test_state_mismatch_is_rejected(unconfigured, pool) -> None:
    client, state = unconfigured
    await client.get("/setup")
    response = await client.get("/setup/callback?code=code-123&state=forged")
    assert response.status == 400
    assert not state.requests_to("POST", "/app-manifests/")
    assert await pool.fetchval("SELECT count(*) FROM app_credentials") == 0


async def test_unknown_code_is_a_clear_error(unconfigured, pool) -> None:
    client, _ = unconfigured
    page = await (await client.get("/setup")).text()
    returned_state = parse_qs(urlsplit(form_parts(page)[0]).query)["state"][0]
    response = await client.get(f"/setup/callback?code=expired&state={returned_state}")
    assert response.status == 502
    assert "start the setup again" in (await response.json())["error"]["message"]


async def test_existing_app_form(unconfigured, pool, private_key_pem) -> None:
    client, _ = unconfigured
    await client.get("/setup")  # sets the CSRF cookie
    csrf = client.session.cookie_jar.filter_cookies(client.make_url("/setup"))[
        "devmetrics_setup_csrf"].value
    fields = {"app_id": "321", "slug": "my-app", "client_id": "Iv1.x", "client_secret": "cs",
              "webhook_secret": "ws", "private_key": private_key_pem}
    no_csrf = await client.post("/setup/existing", data=fields)
    assert no_csrf.status == 403
    bad_key = await client.post("/setup/existing",
                                data={**fields, "private_key": "not a key", "csrf_token": csrf})
    assert bad_key.status == 400 and (await bad_key.json())["error"]["field"] == "private_key"
    missing = await client.post("/setup/existing", data={**fields, "slug": "", "csrf_token": csrf})
    assert (await missing.json())["error"]["field"] == "slug"
    saved = await client.post("/setup/existing", data={**fields, "csrf_token": csrf},
                              allow_redirects=False)
    assert saved.status == 302
    assert await pool.fetchval("SELECT app_id FROM app_credentials") == 321


async def test_install_callback_page(unconfigured, pool) -> None:
    client, _ = unconfigured
    response = await client.get("/setup/installed?installation_id=4242&setup_action=install")
    assert response.status == 200
    assert "will appear" in await response.text()
    assert (await client.get("/setup/installed?installation_id=abc")).status == 400


@pytest.mark.parametrize("path", ["/", "/setup", "/setup?organization=acme"])
async def test_pages_with_buttons_redirect_a_browser_on_another_host(unconfigured, path) -> None:
    """127.0.0.1 and localhost are the same server but not the same site for cookies and the
    OAuth callback: the sign-in and register buttons only work on PUBLIC_URL's host."""
    client, _ = unconfigured
    elsewhere = await client.get(path, headers={"Host": f"127.0.0.1:{client.port}"},
                                 allow_redirects=False)
    assert elsewhere.status == 302
    assert elsewhere.headers["Location"] == "http://localhost:8000" + path


async def test_a_proxy_naming_the_public_host_is_not_redirected(unconfigured) -> None:
    client, _ = unconfigured
    proxied = await client.get("/setup", headers={"Host": "10.0.0.5:8000",
                                                  "X-Forwarded-Host": "localhost:8000"})
    assert proxied.status == 200
    assert "Register GitHub App" in await proxied.text()


async def test_install_callback_names_the_account_only_to_its_signed_in_users(
        github_client, pool) -> None:
    client, state = github_client
    await seed_world(pool)
    account = await pool.fetchval("SELECT account_login FROM installations WHERE id = $1", ORG)
    stranger = await client.get(f"/setup/installed?installation_id={ORG}&setup_action=install")
    assert stranger.status == 200
    assert account not in await stranger.text()
    missing = await client.get("/setup/installed?installation_id=987654&setup_action=install")
    assert (await missing.text()).replace("987654", str(ORG)) == await stranger.text()
    seed_user(state, "bob", installations=())
    outsider = {"Authorization": f"Bearer {await api_sign_in(client, state, 'bob')}"}
    response = await client.get(f"/setup/installed?installation_id={ORG}", headers=outsider)
    assert account not in await response.text()
    seed_user(state, "alice", installations=(ORG,))
    member = {"Authorization": f"Bearer {await api_sign_in(client, state, 'alice')}"}
    response = await client.get(f"/setup/installed?installation_id={ORG}", headers=member)
    assert account in await response.text()
    for value in ("0", "9" * 30, "9" * 5000, str(2**63)):
        response = await client.get(f"/setup/installed?installation_id={value}")
        assert response.status == 400, value


@pytest.mark.parametrize(("public_url", "github_url", "says"), [
    ("http://localhost:8000", "https://github.com", "a name for this machine only"),
    ("http://127.0.0.1:8000", "https://ghe.example.com", "a loopback address"),
    ("http://192.168.1.20:8000", "https://github.com", "a private network address"),
    ("http://devbox:8000", "https://github.com", "a name only your local network knows"),
])
async def test_setup_page_warns_when_github_cannot_reach_public_url(
        aiohttp_client, settings, pool, broker, public_url, github_url, says) -> None:
    app = create_app(unconfigured_settings(settings, github_url, public_url=public_url),
                     database_url=settings.database_url.get(), redis_url=settings.redis_url.get())
    client = await aiohttp_client(app, headers={"Host": urlsplit(public_url).netloc})
    page = " ".join(html.unescape(await (await client.get("/setup")).text()).split())
    assert "GitHub cannot reach" in page and says in page
    assert "tunnel" in page and "GITHUB_URL" in page and "GITHUB_API_URL" in page


@pytest.mark.parametrize(("public_url", "github_url"), [
    ("https://devmetrics.example.com", "https://github.com"),
    ("http://10.1.2.3:8000", "https://ghe.example.com"),  # Enterprise Server on the same network
])
async def test_setup_page_does_not_warn_about_a_reachable_public_url(
        aiohttp_client, settings, pool, broker, public_url, github_url) -> None:
    app = create_app(unconfigured_settings(settings, github_url, public_url=public_url),
                     database_url=settings.database_url.get(), redis_url=settings.redis_url.get())
    client = await aiohttp_client(app, headers={"Host": urlsplit(public_url).netloc})
    page = await (await client.get("/setup")).text()
    assert "Register GitHub App" in page and "GitHub cannot reach" not in page


async def test_serve_without_public_url_takes_the_address_it_listens_on(settings, pool, tmp_path) -> None:
    """`devmetrics serve --port P` with no PUBLIC_URL: its pages stay on port P (never a redirect
    to the default port, where nothing listens)."""
    import asyncio
    import os

    import aiohttp
    from processes import devmetrics, free_port

    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "PUBLIC_URL"}
    env.update({"DEVMETRICS_ENV": "test", "DATABASE_URL": settings.database_url.get(),
                "REDIS_URL": settings.redis_url.get(), "SECRET_KEY": settings.secret_key.get(),
                "DEVMETRICS_DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"})
    server = devmetrics("serve", "serve", "--port", str(port), "--no-worker", env=env, log_dir=tmp_path)
    try:
        async with aiohttp.ClientSession() as browser:
            for _ in range(300):
                try:
                    async with browser.get(f"http://127.0.0.1:{port}/setup", allow_redirects=False) as page:
                        status, text = page.status, await page.text()
                    break
                except aiohttp.ClientConnectionError:
                    assert server.alive(), server.output()
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("serve did not start:\n" + server.output())
        assert status == 200, text
        assert f"http://127.0.0.1:{port}/api/webhooks/github" in html.unescape(text)
    finally:
        server.stop()
