"""The OpenAPI document names every route the app registers, and nothing else; it is a
structurally valid 3.1 document; it is served with a script-free docs page."""

from __future__ import annotations

import re

import pytest
from api_support import api_fixture  # noqa: F401 - the `api` fixture

from devmetrics_app.web.api.openapi import HTTP_METHODS, document

NOTIFICATION_PATHS = re.compile(r"^/api/notifications")


def registered_routes(app) -> set[tuple[str, str]]:
    """(METHOD, path template) of every route; HEAD is aiohttp's automatic twin of GET."""
    found = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("formatter") or info.get("path")
        if path is None and "prefix" in info:  # a static directory
            path = info["prefix"] + "/{filename}"
        found.add((route.method, path))
    return found


def documented_routes(doc: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items()
            for method in item if method in HTTP_METHODS}


async def test_every_registered_route_is_documented_and_vice_versa(api) -> None:
    app_routes = registered_routes(api.client.server.app)
    doc_routes = documented_routes(document())
    undocumented = app_routes - doc_routes
    assert not undocumented, f"add these to web/api/openapi_ops.py: {sorted(undocumented)}"
    missing = doc_routes - app_routes
    try:
        import devmetrics_app.web.api.notifications  # noqa: F401
    except ImportError:  # written by another change: its routes are documented ahead of it
        missing = {(m, p) for m, p in missing if not NOTIFICATION_PATHS.match(p)}
    assert not missing, f"documented but not served: {sorted(missing)}"


def _resolve(doc: dict, ref: str) -> dict:
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        assert part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


def _refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_the_document_is_structurally_sound() -> None:
    doc = document()
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    for ref in _refs(doc):
        _resolve(doc, ref)
    operation_ids = []
    tags = {t["name"] for t in doc["tags"]}
    for path, item in doc["paths"].items():
        assert path.startswith("/")
        templated = set(re.findall(r"\{(\w+)\}", path))
        for method, op in item.items():
            assert method in HTTP_METHODS, (path, method)
            where = f"{method.upper()} {path}"
            operation_ids.append(op["operationId"])
            assert op["summary"] and set(op["tags"]) <= tags, where
            assert op["responses"], where
            for code, answer in op["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", code) and answer["description"], (where, code)
            params = [_resolve(doc, p["$ref"]) if "$ref" in p else p for p in op["parameters"]]
            for param in params:
                assert param["in"] in {"path", "query", "header", "cookie"}, (where, param)
                assert param["name"] and "schema" in param, (where, param)
            named = [(p["in"], p["name"]) for p in params]
            assert len(named) == len(set(named)), (where, named)
            in_path = {p["name"] for p in params if p["in"] == "path"}
            assert in_path == templated, (where, in_path, templated)
            assert all(p["required"] for p in params if p["in"] == "path"), where
            if templated and op.get("security") != []:
                assert "404" in op["responses"], f"{where}: a path id can be another tenant's"
            if op.get("security") != []:
                assert "401" in op["responses"], where
            if op.get("x-html"):
                success = next(a for c, a in op["responses"].items() if c.startswith("2"))
                assert "text/html" in success["content"], where
    assert len(operation_ids) == len(set(operation_ids))


def test_the_document_passes_an_openapi_validator() -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(document())


async def test_served_document_and_docs_page(api) -> None:
    response = await api.client.get("/api/openapi.json")  # public: no credentials
    assert response.status == 200
    served = await response.json()
    assert served["openapi"] == "3.1.0" and served["servers"][0]["url"]
    assert documented_routes(served) == documented_routes(document())
    page = await api.client.get("/api/docs")
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "no outside assets"
    for method, path in documented_routes(document()):
        assert f"{method} {path}" in html, (method, path)
