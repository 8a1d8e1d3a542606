"""GET /api/pull-requests (filters, keyset pages), one PR, its AI insights, and reanalyze."""

from __future__ import annotations

import payloads
import pytest
from api_support import (
    ORG,
    SOLO,
    WORLD,
    api_fixture,  # noqa: F401 - the `api` fixture
    seed_world,
    set_role,
)

API_REPO = payloads.REPO_API_ID
WEB_REPO = payloads.REPO_WEB_ID
PR7 = payloads.pr_id(API_REPO, 7)
PR9 = payloads.pr_id(API_REPO, 9)
PR8 = payloads.pr_id(WEB_REPO, 8)
B_PR = payloads.pr_id(payloads.REPO_TOOL_ID, 3)


async def _numbers(api, **query) -> list[int]:
    body = await api.get("/api/pull-requests", query)
    assert body["next_cursor"] is None
    return [item["number"] for item in body["items"]]


async def add_review(pool, pr_id: int, risk: int, *, head: str = "h1", status: str = "completed",
                     created: str = "2024-05-02T00:00:00Z") -> None:
    await pool.execute(
        """INSERT INTO ai_reviews (installation_id, repository_id, pull_request_id, head_sha,
               diff_hash, prompt_version, status, source, risk_score, floor_score, findings,
               coverage, cost_usd, created_at)
           SELECT installation_id, repository_id, id, $2, 'd-' || $2, 'v1', $3, 'model', $4, 10,
                  '[{"title": "SQL built from input", "severity": "high"}]'::jsonb,
                  '{"files": 4, "reviewed": 3}'::jsonb, 0.0123, $5::text::timestamptz
           FROM pull_requests WHERE id = $1""",
        pr_id, head, status, risk, created)


async def test_list_pages_newest_first_without_gaps_or_repeats(api, pool) -> None:
    await seed_world(pool)
    await api.sign_in("alice")
    expected = [r["id"] for r in await pool.fetch(
        "SELECT id FROM pull_requests WHERE installation_id = $1 "
        "ORDER BY github_created_at DESC, id DESC", ORG)]
    assert len(expected) >= 5
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        body = await api.get("/api/pull-requests", query)
        assert len(body["items"]) <= 2 and body["limit"] == 2
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected and pages == (len(expected) + 1) // 2
    assert B_PR not in seen  # the other installation's PR never appears


async def test_filters(api, pool) -> None:
    await seed_world(pool)
    await api.sign_in("alice")
    assert await _numbers(api, state="merged") == [7]
    assert set(await _numbers(api, state="open,merged")) >= {7, 8, 9, 11}
    assert 7 not in await _numbers(api, state="open")
    assert set(await _numbers(api, author="ALICE")) == {7, 8}
    assert await _numbers(api, repository=str(WEB_REPO)) == [8]
    assert await _numbers(api, label="enhancement") == [7]
    assert await _numbers(api, label="enhancement", state="open") == []
    # from/to filter on creation only when given: #10 and #13 were opened long before May.
    recent = await _numbers(api, **{"from": "2024-05-01", "to": "2024-05-31"})
    assert 10 not in recent and 13 not in recent and 7 in recent
    # risk: the latest completed review decides; a newer failed run does not.
    await add_review(pool, PR7, 85)
    await add_review(pool, PR9, 20)
    await add_review(pool, PR9, 90, head="h2", status="failed", created="2024-05-03T00:00:00Z")
    assert await _numbers(api, risk="high") == [7]
    assert await _numbers(api, risk="low") == [9]
    items = (await api.get("/api/pull-requests", {"state": "merged"}))["items"]
    assert items[0]["risk_score"] == 85 and items[0]["repository"] == "acme/api"


async def test_team_filter(api, pool) -> None:
    await seed_world(pool)
    await pool.execute("INSERT INTO teams (id, installation_id, organization_id, slug, name) "
                       "VALUES (3001, $1, $2, 'backend', 'Backend')", ORG, payloads.ORG_ID)
    await pool.execute("INSERT INTO team_members (team_id, user_id, installation_id) "
                       "VALUES (3001, $1, $2)", payloads.OUTSIDER["id"], ORG)
    await api.sign_in("alice")
    assert set(await _numbers(api, team="3001")) == {9, 10}
    await api.get("/api/pull-requests", {"team": "3002"}, status=404)


async def test_one_pull_request_with_timeline_reviews_and_stages(api, pool) -> None:
    await seed_world(pool)
    await api.sign_in("alice")
    before = await api.get(f"/api/pull-requests/{PR7}")
    assert before["stages"] == {"counted": False, "excluded": ["not in the computed metric yet"]}
    await seed_world(pool, rollups=True)
    body = await api.get(f"/api/pull-requests/{PR7}")
    assert body["number"] == 7 and body["repository"] == "acme/api" and body["state"] == "MERGED"
    kinds = [event["kind"] for event in body["timeline"]]
    assert "converted_to_draft" in kinds and "ready_for_review" in kinds
    times = [event["occurred_at"] for event in body["timeline"]]
    assert times == sorted(times)
    assert {r["reviewer_login"] for r in body["reviews"]} >= {"bob"}
    stages = body["stages"]
    assert stages["counted"] and stages["unit"] == "hours"
    assert stages["cycle_time"] == pytest.approx(230 / 60)  # first commit -30 min → merged +200
    assert {"coding", "pickup", "review", "merge", "deploy"} <= set(stages)
    open_pr = await api.get(f"/api/pull-requests/{PR8}")
    assert open_pr["stages"] is None  # not merged: no cycle yet
    await api.get(f"/api/pull-requests/{B_PR}", status=404)
    await api.get("/api/pull-requests/999999", status=404)


async def test_ai_insights_latest_or_none(api, pool) -> None:
    await seed_world(pool)
    await api.sign_in("alice")
    assert (await api.get(f"/api/pull-requests/{PR7}/ai-insights")) == {
        "pull_request": PR7, "status": "none"}
    await add_review(pool, PR7, 40, head="old", created="2024-05-01T00:00:00Z")
    await add_review(pool, PR7, 75, head="new", created="2024-05-02T00:00:00Z")
    body = await api.get(f"/api/pull-requests/{PR7}/ai-insights")
    assert body["status"] == "completed" and body["risk_score"] == 75 and body["head_sha"] == "new"
    assert body["floor_score"] == 10 and body["findings"][0]["severity"] == "high"
    assert body["coverage"] == {"files": 4, "reviewed": 3} and body["cost_usd"] == 0.0123


async def test_reanalyze_needs_a_developer_and_enqueues(api, pool) -> None:
    await seed_world(pool)
    await api.sign_in("alice")  # a DEVELOPER by default (carol installed the app)
    body = await api.post(f"/api/pull-requests/{PR7}/reanalyze", status=202)
    assert body == {"pull_request": PR7, "analysis": "queued"}
    assert api.sent == [("analyse_pull_request", {"pull_request_id": PR7, "reason": "api"})]
    await api.post(f"/api/pull-requests/{B_PR}/reanalyze", status=404)
    await set_role(pool, payloads.ALICE["id"], "VIEWER")
    await api.post(f"/api/pull-requests/{PR7}/reanalyze", status=403)
    assert len(api.sent) == 1


async def test_scoped_to_the_chosen_installation(api, pool) -> None:
    await seed_world(pool)
    await api.sign_in("alice", installations=(ORG, SOLO))
    await api.get("/api/pull-requests", status=400)
    solo = await api.get("/api/pull-requests", {"installation": str(SOLO), **WORLD})
    assert [item["id"] for item in solo["items"]] == [B_PR]
