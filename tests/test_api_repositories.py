"""GET /api/repositories (keyset pages), connect/disconnect (MANAGER+), and a repository's
summary figures."""

from __future__ import annotations

import payloads
from api_support import (
    ORG,
    WORLD,
    api_fixture,  # noqa: F401 - the `api` fixture
    seed_world,
    set_role,
)

API_REPO = payloads.REPO_API_ID
B_REPO = payloads.REPO_TOOL_ID


async def test_list_pages_by_name(api, pool) -> None:
    await seed_world(pool)
    for i in range(5):  # enough repositories for several pages
        await pool.execute(
            "INSERT INTO repositories (id, installation_id, owner_login, name, full_name) "
            "VALUES ($1, $2, 'acme', $3, $4)", 900 + i, ORG, f"extra{i}", f"acme/extra{i}")
    await api.sign_in("alice")
    expected = [r["full_name"] for r in await pool.fetch(
        "SELECT full_name FROM repositories WHERE installation_id = $1 AND removed_at IS NULL "
        "ORDER BY full_name, id", ORG)]
    names, cursor = [], None
    while True:
        body = await api.get("/api/repositories", {"limit": "3", **({"cursor": cursor} if cursor else {})})
        names += [item["full_name"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert names == expected and "solo/tool" not in names
    everything = await api.get("/api/repositories", {"removed": "true", "limit": "100"})
    assert len(everything["items"]) >= len(expected)


async def test_connect_and_disconnect_need_a_manager(api, pool) -> None:
    await seed_world(pool)
    await api.sign_in("alice")
    await api.post(f"/api/repositories/{API_REPO}/disconnect", status=403)
    await set_role(pool, payloads.ALICE["id"], "MANAGER")
    body = await api.post(f"/api/repositories/{API_REPO}/disconnect", status=200)
    assert body == {"repository": API_REPO, "connected": False}
    assert await pool.fetchval("SELECT connected FROM repositories WHERE id = $1", API_REPO) is False
    disconnected = await api.get("/api/repositories", {"connected": "false"})
    assert [item["id"] for item in disconnected["items"]] == [API_REPO]
    await api.post(f"/api/repositories/{API_REPO}/connect", status=200)
    assert await pool.fetchval("SELECT connected FROM repositories WHERE id = $1", API_REPO) is True
    # Each change recomputes the installation's history; connecting a connected one does not.
    await api.post(f"/api/repositories/{API_REPO}/connect", status=200)
    recomputes = [kw for name, kw in api.sent if name == "recompute_installation_rollups"]
    assert recomputes == [{"installation_id": ORG, "days": 730}] * 2
    await api.post(f"/api/repositories/{B_REPO}/connect", status=404)
    assert await pool.fetchval("SELECT connected FROM repositories WHERE id = $1", B_REPO) is True


async def test_repository_metrics_summary(api, pool) -> None:
    await seed_world(pool)
    await api.sign_in("alice")
    body = await api.get(f"/api/repositories/{API_REPO}/metrics", WORLD)
    assert body["repository"] == API_REPO and body["query"]["repository"] == [API_REPO]
    for name in ("cycle_time", "throughput", "build_success", "deployments"):
        assert isinstance(body[name], dict), name
    # Figures in the API's shape (web/api/serialize.to_json), not a dataclass's fields as orjson
    # would write them: details beside the value, no `details` nor `items` key unexplained.
    for figure in (body["build_success"], body["throughput"]["pull_requests_merged"],
                   body["cycle_time"]["cycle_time"]):
        assert {"value", "unit", "count", "excluded"} <= set(figure)
        assert not {"details", "items"} & set(figure)
    assert {"successes", "failures", "source"} <= set(body["build_success"])
    web = await api.get(f"/api/repositories/{payloads.REPO_WEB_ID}/metrics", WORLD)
    # acme/api holds the merged PR and the workflow runs; acme/web neither.
    assert body != web
    await api.get(f"/api/repositories/{B_REPO}/metrics", WORLD, status=404)
