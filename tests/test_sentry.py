"""Sentry: events reach the DSN's server with the aiohttp integration on, and carry no secrets."""

from __future__ import annotations

import asyncio
import json

import pytest
import sentry_sdk
from aiohttp import web

from devmetrics_app.config import load_settings
from devmetrics_app.observability.errors import FILTERED, before_send, init_sentry

GITHUB_TOKEN = "ghs_" + "a1B2" * 9
API_TOKEN = "dm_" + "x" * 30
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----"


def test_before_send_drops_bodies_cookies_and_secret_headers() -> None:
    event = {
        "request": {"url": "http://localhost/api/webhooks/github", "data": '{"private": "code"}',
                    "cookies": {"devmetrics_session": "s3cret"}, "query_string": "code=abc",
                    "headers": {"Authorization": f"Bearer {API_TOKEN}", "Cookie": "a=b",
                                "X-Hub-Signature-256": "sha256=ff", "X-GitHub-Event": "push"}},
        "exception": {"values": [{"type": "RuntimeError",
                                  "value": f"token {GITHUB_TOKEN} failed for "
                                           "postgresql://app:hunter2@db/devmetrics"}]},
        "extra": {"installation_token": "anything", "key": PRIVATE_KEY},
        "breadcrumbs": {"values": [{"message": f"called with {API_TOKEN}"}]},
    }
    scrubbed = before_send(event, {})
    text = json.dumps(scrubbed)
    for secret in (GITHUB_TOKEN, API_TOKEN, "s3cret", "hunter2", "private", "code=abc", "sha256=ff",
                   "MIIE", "anything"):
        assert secret not in text, secret
    assert scrubbed["request"]["headers"] == {"X-GitHub-Event": "push"}
    assert scrubbed["exception"]["values"][0]["value"] == (
        f"token {FILTERED} failed for postgresql://{FILTERED}@db/devmetrics")


@pytest.fixture
async def fake_sentry(aiohttp_server):
    envelopes: list[bytes] = []

    async def envelope(request: web.Request) -> web.Response:
        envelopes.append(await request.read())  # aiohttp undoes the gzip
        return web.json_response({"id": "0" * 32})

    app = web.Application()
    app.router.add_post("/api/{project}/envelope/", envelope)
    server = await aiohttp_server(app)
    yield f"http://publickey@127.0.0.1:{server.port}/1", envelopes
    sentry_sdk.init(dsn=None)  # the rest of the session reports nowhere


async def test_an_error_reaches_sentry_scrubbed(fake_sentry, tmp_path) -> None:
    dsn, envelopes = fake_sentry
    settings = load_settings({"DEVMETRICS_DATA_DIR": str(tmp_path), "SENTRY_DSN": dsn}, dotenv=False)
    assert init_sentry(settings)
    try:
        raise RuntimeError(f"GitHub refused {GITHUB_TOKEN}")
    except RuntimeError as exc:
        sentry_sdk.capture_exception(exc)
    await asyncio.to_thread(sentry_sdk.flush, 10)
    sent = b"".join(envelopes)
    assert b"RuntimeError" in sent and b"GitHub refused" in sent
    assert GITHUB_TOKEN.encode() not in sent
    assert not init_sentry(load_settings({"DEVMETRICS_DATA_DIR": str(tmp_path)}, dotenv=False))
