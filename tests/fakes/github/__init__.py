"""A fake GitHub: REST, GraphQL and OAuth on one aiohttp app, with GitHub's response shapes.

Point the app at it with GITHUB_API_URL and GITHUB_URL set to the fake's base URL. Route modules
(`apps`, `oauth`, `repos`, `graphql`) each add their routes; this module holds what they share:
request recording, failure injection, ETags, pagination and token checks.
"""

from __future__ import annotations

import hashlib
import importlib
import time
from typing import Any

import orjson
from aiohttp import web

from fakes.github.state import FakeGitHubState, Json, RecordedRequest

STATE = web.AppKey("state", FakeGitHubState)
ROUTE_MODULES = ("apps", "oauth", "repos", "graphql", "checks")
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100


def create_fake_github(state: FakeGitHubState | None = None) -> web.Application:
    app = web.Application(middlewares=[record_and_inject])
    app[STATE] = state or FakeGitHubState()
    for name in ROUTE_MODULES:
        try:
            module = importlib.import_module(f"fakes.github.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"fakes.github.{name}":
                raise
            continue
        module.add_routes(app)
    return app


def state_of(request: web.Request) -> FakeGitHubState:
    return request.app[STATE]


@web.middleware
async def record_and_inject(request: web.Request, handler) -> web.StreamResponse:
    state = state_of(request)
    body: Any = None
    if request.can_read_body:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw.decode(errors="replace")
    state.requests.append(RecordedRequest(request.method, request.path, dict(request.query),
                                          dict(request.headers), body))
    for hold in state.holds:
        if hold.times > 0 and request.path.startswith(hold.path_prefix) and (
                hold.method is None or hold.method == request.method):
            hold.times -= 1
            hold.waiting += 1
            await hold.released.wait()
    for failure in state.failures:
        if failure.times > 0 and request.path.startswith(failure.path_prefix) and (
                failure.method is None or failure.method == request.method) and (
                failure.when is None or failure.when(body)):
            failure.times -= 1
            if failure.after_handling:
                await handler(request)
            return web.json_response(failure.body, status=failure.status, headers=failure.headers)
    if state.rate_limit_remaining is not None and request.path not in {"/rate_limit"}:
        if state.rate_limit_remaining <= 0:
            return web.json_response(
                {"message": "API rate limit exceeded", "documentation_url": "https://docs.github.com"},
                status=403,
                headers=_rate_headers(state, remaining=0),
            )
        state.rate_limit_remaining -= 1
    response = await handler(request)
    if state.rate_limit_remaining is not None:
        response.headers.update(_rate_headers(state, remaining=state.rate_limit_remaining))
    return response


def _rate_headers(state: FakeGitHubState, *, remaining: int) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": "5000",
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(state.rate_limit_reset or int(time.time()) + 3600),
        "X-RateLimit-Used": str(5000 - remaining),
        "X-RateLimit-Resource": "core",
    }


def json_response(request: web.Request, data: Any, *, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer with an ETag; a matching If-None-Match gets 304 (GitHub's conditional
    requests, which do not count against the rate limit)."""
    body = orjson.dumps(data)
    etag = '"' + hashlib.sha1(body, usedforsecurity=False).hexdigest() + '"'
    all_headers = {"ETag": etag, **(headers or {})}
    if request.method == "GET" and request.headers.get("If-None-Match") == etag:
        if state_of(request).rate_limit_remaining is not None:
            state_of(request).rate_limit_remaining += 1  # 304s are free
        return web.Response(status=304, headers=all_headers)
    return web.Response(body=body, status=status, content_type="application/json",
                        headers=all_headers)


def paginate(request: web.Request, items: list[Json]) -> web.Response:
    """One page of `items` with a Link header, as GitHub's REST lists answer."""
    try:
        per_page = min(int(request.query.get("per_page", DEFAULT_PER_PAGE)), MAX_PER_PAGE)
        page = max(int(request.query.get("page", 1)), 1)
    except ValueError:
        return web.json_response({"message": "Invalid page"}, status=422)
    start = (page - 1) * per_page
    chunk = items[start:start + per_page]
    last = max((len(items) + per_page - 1) // per_page, 1)
    links = []
    url = request.url
    if page < last:
        links.append(f'<{url.update_query(page=page + 1, per_page=per_page)}>; rel="next"')
        links.append(f'<{url.update_query(page=last, per_page=per_page)}>; rel="last"')
    if page > 1:
        links.append(f'<{url.update_query(page=1, per_page=per_page)}>; rel="first"')
        links.append(f'<{url.update_query(page=page - 1, per_page=per_page)}>; rel="prev"')
    return json_response(request, chunk, headers={"Link": ", ".join(links)} if links else None)


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() in {"bearer", "token"} and credential:
        return credential.strip()
    return None


def token_identity(request: web.Request) -> Json | None:
    """The installation or user a token was issued to, if it is valid and unexpired."""
    token = bearer(request)
    if token is None:
        return None
    identity = state_of(request).tokens.get(token)
    if identity is None or identity.get("expires_at", float("inf")) < time.time():
        return None
    return identity


def unauthorized() -> web.Response:
    return web.json_response({"message": "Bad credentials",
                              "documentation_url": "https://docs.github.com/rest"}, status=401)


def not_found() -> web.Response:
    return web.json_response({"message": "Not Found",
                              "documentation_url": "https://docs.github.com/rest"}, status=404)
