"""The security headers (CSP and its companions) on every answer, the ones no handler returns
included; HSTS when PUBLIC_URL is https; Cache-Control: no-store on API answers and signed-in
pages. One response hook sets them all (web/headers.py)."""

from __future__ import annotations

import dataclasses

from api_support import ORG, seed_world
from test_auth import api_sign_in, seed_user

from devmetrics_app.web.app import create_app


async def test_security_headers_on_every_answer(aiohttp_client, settings, pool, broker) -> None:
    client = await aiohttp_client(create_app(settings, database_url=settings.database_url.get(),
                                             redis_url=settings.redis_url.get()))
    answers = [("GET", "/healthz", 200), ("GET", "/api/repositories", 401),  # identity's 401
               ("GET", "/no-such-page", 404), ("POST", "/healthz", 405),  # aiohttp's own
               ("POST", "/api/webhooks/github", 415)]
    for method, path, status in answers:
        response = await client.request(method, path)
        assert response.status == status, path
        assert "script-src 'self'" in response.headers["Content-Security-Policy"], path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["X-Frame-Options"] == "DENY", path


async def test_hsts_only_when_public_url_is_https(aiohttp_client, settings, pool, broker) -> None:
    plain = await aiohttp_client(create_app(settings, database_url=settings.database_url.get(),
                                            redis_url=settings.redis_url.get()))
    assert "Strict-Transport-Security" not in (await plain.get("/healthz")).headers
    https = dataclasses.replace(settings, public_url="https://metrics.example.com")
    secure = await aiohttp_client(create_app(https, database_url=https.database_url.get(),
                                             redis_url=https.redis_url.get()))
    for path in ("/healthz", "/api/repositories", "/no-such-page"):
        response = await secure.get(path)
        assert response.headers["Strict-Transport-Security"].startswith("max-age="), path


async def test_no_store_on_api_answers_and_signed_in_pages(github_client, pool) -> None:
    client, state = github_client
    await seed_world(pool)
    # Anonymous: API answers (even a 401) are not stored; public pages and files may be.
    assert (await client.get("/api/repositories")).headers["Cache-Control"] == "no-store"
    assert "Cache-Control" not in (await client.get("/healthz")).headers
    seed_user(state, "alice", installations=(ORG,))
    signed_in = {"Authorization": f"Bearer {await api_sign_in(client, state, 'alice')}"}
    for path in ("/", "/api/repositories", f"/api/installations/{ORG}"):
        response = await client.get(path, headers=signed_in, allow_redirects=False)
        assert response.status < 500, path
        assert response.headers["Cache-Control"] == "no-store", path
    static = await client.get("/static/app.css", headers=signed_in)
    assert static.status == 200
    assert static.headers.get("Cache-Control") != "no-store"
