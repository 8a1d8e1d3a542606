"""Slow and numerous connections against the server `devmetrics serve` runs (web/server.py)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from devmetrics_app.config import Settings
from devmetrics_app.web.app import create_app
from devmetrics_app.web.server import GuardedRunner

# Bounds for a failing test only: a passing one ends as soon as the server acts.
GIVE_UP_SECONDS = 20.0
TRICKLE_PAUSE_SECONDS = 0.1


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[int]:
    app = create_app(settings, database_url=settings.database_url.get(),
                     redis_url=settings.redis_url.get())
    runner = GuardedRunner(app, settings=settings)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


@pytest.fixture
def quick(settings: Settings) -> Settings:
    return dataclasses.replace(settings, web_idle_timeout_seconds=0.5,
                               web_body_timeout_seconds=0.5, web_max_connections=3)


async def trickle_until_closed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                               drip: bytes) -> bytes:
    """Send `drip` again and again until the server closes; what it answered before closing."""
    answer = b""
    async with asyncio.timeout(GIVE_UP_SECONDS):
        while True:
            try:
                writer.write(drip)
                await writer.drain()
            except ConnectionError:
                try:
                    return answer + await reader.read()
                except ConnectionError:
                    # Our write hit the closed socket first, which marks the reader broken; the
                    # answer the server sent before closing is already in the reader's buffer.
                    return answer + bytes(reader._buffer)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TRICKLE_PAUSE_SECONDS):
                    data = await reader.read(65536)
                    if not data:
                        return answer
                    answer += data


async def test_a_trickling_request_head_is_closed(quick: Settings, pool) -> None:
    async with serving(quick) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /api/webhooks/github HTTP/1.1\r\nHost: x\r\n")
        await trickle_until_closed(reader, writer, b"X-Slow: 1\r\n")
        writer.close()


async def test_a_trickling_body_gets_408_and_is_closed(quick: Settings, pool) -> None:
    async with serving(quick) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /api/webhooks/github HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
        answer = await trickle_until_closed(reader, writer, b" ")
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


async def test_connections_past_the_cap_are_refused(quick: Settings, pool) -> None:
    async with serving(quick) as port:
        held = [await asyncio.open_connection("127.0.0.1", port)
                for _ in range(quick.web_max_connections)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        async with asyncio.timeout(GIVE_UP_SECONDS):
            answer = await reader.read()
        assert answer.startswith(b"HTTP/1.1 503"), answer
        writer.close()
        for _, held_writer in held:
            held_writer.close()
        # Once they are gone, new connections are served again.
        await asyncio.sleep(0)
        async with asyncio.timeout(GIVE_UP_SECONDS):
            while True:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                answer = await reader.read()
                writer.close()
                if not answer.startswith(b"HTTP/1.1 503"):
                    break
                await asyncio.sleep(TRICKLE_PAUSE_SECONDS)
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
