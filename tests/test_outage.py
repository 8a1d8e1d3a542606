"""PostgreSQL down under a running web app: 503 with Retry-After, never a 500."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from processes import PrivateRedis
from tcp_proxy import TcpProxy
from test_auth import api_sign_in, browser_sign_in, seed_user

from devmetrics_app.web.app import create_app

API_TOKEN = "dm_0123456789abcdef"


def unix_socket_of(url: str) -> str | None:
    """The socket file of a `postgresql://user@/db?host=/dir` URL (the embedded server's)."""
    directory = parse_qs(urlsplit(url).query).get("host", [""])[0]
    if not directory.startswith("/"):
        return None
    return f"{directory}/.s.PGSQL.{urlsplit(url).port or 5432}"


@pytest.fixture
async def database_proxy(settings) -> TcpProxy:
    url = settings.database_url.get()
    parts = urlsplit(url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432, unix_path=unix_socket_of(url))
    await proxy.start()
    yield proxy
    await proxy.cut()


def through(url: str, port: int) -> str:
    parts = urlsplit(url)
    credentials, _, _ = parts.netloc.rpartition("@")
    host = f"127.0.0.1:{port}"
    # A Unix-socket URL names its directory in `host=`; through the proxy it is TCP.
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "host"])
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}" if credentials else host,
                                     query=query))


@pytest.fixture
async def cut_off(aiohttp_client, wired_settings, fake_github, pool, database_proxy: TcpProxy):
    """(client, bearer token): the app over real HTTP with a signed-in browser session and an
    API bearer, its database reached through the proxy, which is then cut."""
    state, _ = fake_github
    app = create_app(wired_settings,
                     database_url=through(wired_settings.database_url.get(),
                                          database_proxy.listen_port),
                     redis_url=wired_settings.redis_url.get())
    client = await aiohttp_client(app)
    seed_user(state, "alice")
    bearer = await api_sign_in(client, state, "alice")
    await browser_sign_in(client, state, "alice")
    assert (await client.get("/readyz")).status == 200
    await database_proxy.cut()
    return client, bearer


@pytest.mark.parametrize("path, token", [
    ("/api/repositories", "session bearer"),
    ("/api/auth/tokens", "session bearer"),
    ("/api/repositories", API_TOKEN),
])
async def test_api_answers_503_with_retry_after(cut_off, path, token) -> None:
    client, bearer = cut_off
    headers = {"Authorization": f"Bearer {bearer if token == 'session bearer' else token}"}
    response = await client.get(path, headers=headers)
    assert response.status == 503
    assert int(response.headers["Retry-After"]) > 0
    assert (await response.json())["error"]["code"] == "database_unavailable"


async def test_a_page_answers_503_with_retry_after(cut_off) -> None:
    client, _ = cut_off
    response = await client.get("/dashboard")
    assert response.status == 503
    assert int(response.headers["Retry-After"]) > 0
    assert "text/html" in response.headers["Content-Type"]


async def test_readyz_says_the_database_is_down(cut_off) -> None:
    client, _ = cut_off
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["checks"]["database"].startswith("error")


async def test_redis_down_answers_503_too(aiohttp_client, wired_settings, fake_github, pool,
                                          tmp_path) -> None:
    """Sessions live in Redis: a bearer request while it is down is a 503, not a 500."""
    state, _ = fake_github
    redis = PrivateRedis(Path(f"/tmp/dmred-{os.getpid()}"), tmp_path)
    redis.start()
    try:
        app = create_app(wired_settings, database_url=wired_settings.database_url.get(),
                         redis_url=redis.url)
        client = await aiohttp_client(app)
        seed_user(state, "alice")
        bearer = await api_sign_in(client, state, "alice")
        redis.stop()
        response = await client.get("/api/repositories",
                                    headers={"Authorization": f"Bearer {bearer}"})
        assert response.status == 503
        assert int(response.headers["Retry-After"]) > 0
        assert (await response.json())["error"]["code"] == "redis_unavailable"
    finally:
        redis.stop()
        shutil.rmtree(redis.directory, ignore_errors=True)
