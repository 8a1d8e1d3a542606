"""How `devmetrics serve` listens: aiohttp's runner, with limits for slow and numerous clients.

aiohttp closes a connection that has not sent a complete request head within its keep-alive
timeout (it arms that timer when the connection opens), but it neither limits how long a body
may take nor how many connections may be open. Both are added here:

* body_deadline (a middleware) fails the body's stream once WEB_BODY_TIMEOUT_SECONDS have
  passed, so the handler's read ends and the client gets 408 and a closed connection;
* GuardedRunner answers 503 and closes any connection past WEB_MAX_CONNECTIONS.

The runner also turns off aiohttp's transparent inflating of request bodies: GitHub never
compresses deliveries, and the webhook refuses any Content-Encoding before reading (web/webhook.py),
so an unread compressed body left behind is discarded as it is, never inflated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import streams, web

from devmetrics_app.config import Settings
from devmetrics_app.web import responses
from devmetrics_app.web.keys import SETTINGS

log = logging.getLogger(__name__)

TOO_MANY_CONNECTIONS = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                        b"Content-Length: 0\r\nConnection: close\r\n\r\n")


class BodyTimeout(TimeoutError):
    """The request body did not arrive in time."""


def runner_options(settings: Settings) -> dict[str, Any]:
    """AppRunner keyword arguments: also given to tests' servers, so they run what we ship."""
    return {"keepalive_timeout": settings.web_idle_timeout_seconds, "auto_decompress": False}


@web.middleware
async def body_deadline(request: web.Request, handler: Any) -> web.StreamResponse:
    if not request.body_exists or request.content.is_eof():
        return await handler(request)
    timeout = request.app[SETTINGS].web_body_timeout_seconds
    expiry = asyncio.get_running_loop().call_later(timeout, _expire, request.content)
    try:
        return await handler(request)
    except BodyTimeout:
        response = responses.error(408, "request_timeout",
                                   f"the request body did not arrive within {timeout:g} s")
        response.force_close()
        return response
    finally:
        expiry.cancel()


def _expire(content: streams.StreamReader) -> None:
    if not content.is_eof():
        content.set_exception(BodyTimeout())


class GuardedRunner(web.AppRunner):
    def __init__(self, app: web.Application, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(app, **runner_options(settings), **kwargs)
        self._max_connections = settings.web_max_connections

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        connection_made = server.connection_made
        limit = self._max_connections

        def capped(handler: Any, transport: asyncio.Transport) -> None:
            connection_made(handler, transport)
            if len(server.connections) > limit:
                log.warning("connection refused: %d open, the limit is %d",
                            len(server.connections) - 1, limit)
                transport.write(TOO_MANY_CONNECTIONS)
                transport.close()

        # aiohttp has no option for this; Server tracks its connections through this one call.
        server.connection_made = capped  # type: ignore[method-assign]
        return server


def run(app: web.Application, *, settings: Settings, host: str, port: int, reuse_port: bool = False) -> None:
    """Serve until SIGINT or SIGTERM, like web.run_app but with GuardedRunner. `reuse_port`
    (SO_REUSEPORT) lets several `serve` processes share one port; the kernel spreads connections."""

    async def serve() -> None:
        runner = GuardedRunner(app, settings=settings, handle_signals=True, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(web.GracefulExit, KeyboardInterrupt):
        asyncio.run(serve())
