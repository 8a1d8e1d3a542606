"""GET /api/metrics/* and /api/analytics/* over the sample world (delivered through the real
router, then rolled up): figures, explain, scoping by repository and team, installation choice."""

from __future__ import annotations

import payloads
import pytest
from api_support import (
    ORG,
    SOLO,
    WORLD,
    api_fixture,  # noqa: F401 - the `api` fixture
    seed_world,
)

PR7 = payloads.pr_id(payloads.REPO_API_ID, 7)
# acme/api#7: first commit at minute -30, merged at minute 200 of the sample world.
PR7_CYCLE_HOURS = 230 / 60
MILESTONE = payloads.stable_id("milestone", payloads.REPO_WEB_ID, 1)
FIGURES = ("velocity", "cycle-time", "deployment", "build-success", "dora")


async def cycle(api, **query) -> dict:
    return (await api.get("/api/metrics/cycle-time", {**WORLD, **query}))["result"]


async def add_team(pool, team_id: int, *members: int) -> None:
    await pool.execute("INSERT INTO teams (id, installation_id, organization_id, slug, name) "
                       "VALUES ($1, $2, $3, $4, $4)", team_id, ORG, payloads.ORG_ID, f"t{team_id}")
    for member in members:
        await pool.execute("INSERT INTO team_members (team_id, user_id, installation_id) "
                           "VALUES ($1, $2, $3)", team_id, member, ORG)


async def test_cycle_time_from_delivered_events(api, pool) -> None:
    await seed_world(pool, rollups=True)
    await api.sign_in("alice")
    result = await cycle(api)
    figure = result["cycle_time"]
    assert figure["count"] == 1 and figure["value"] == pytest.approx(PR7_CYCLE_HOURS)
    assert "items" not in figure  # only with explain
    assert set(result["stages"]) >= {"coding", "pickup", "review", "merge", "deploy"}


async def test_explain_returns_the_items(api, pool) -> None:
    await seed_world(pool, rollups=True)
    await api.sign_in("alice")
    figure = (await cycle(api, explain="true"))["cycle_time"]
    assert [(i["kind"], i["id"]) for i in figure["items"]] == [("pull_request", PR7)]
    assert figure["items"][0]["value"] == pytest.approx(PR7_CYCLE_HOURS)
    deployment = (await api.get("/api/metrics/deployment", {**WORLD, "explain": "true"}))["result"]
    assert deployment["count"] == 1 and [i["kind"] for i in deployment["items"]] == ["deployment"]
    builds = (await api.get("/api/metrics/build-success", {**WORLD, "explain": "true"}))["result"]
    assert builds["items"] and all(i["kind"] == "workflow_run" for i in builds["items"])
    # The bot's run is excluded, with its reason (and, on explain, the items).
    assert [e["reason"] for e in builds["excluded"]] == ["triggered by a bot"]
    assert "items" in builds["excluded"][0]


async def test_every_metric_endpoint_answers_with_its_envelope(api, pool) -> None:
    await seed_world(pool, rollups=True)
    await api.sign_in("alice")
    for name in FIGURES:
        body = await api.get(f"/api/metrics/{name}", WORLD)
        assert body["metric"] == name and body["query"]["installation"] == ORG, name
        assert isinstance(body["result"], dict), name
    dora = (await api.get("/api/metrics/dora", WORLD))["result"]
    assert {"deployment_frequency", "lead_time"} <= set(dora)
    burndown = await api.get("/api/metrics/burndown", {**WORLD, "milestone": str(MILESTONE)})
    assert burndown["result"]["milestone"]["title"] == "v1.0" and burndown["result"]["days"]
    assert "items" in burndown["result"]  # a burndown lists its issues without explain=true


async def test_scoping_by_repository_and_team(api, pool) -> None:
    await seed_world(pool, rollups=True)
    await add_team(pool, 71, payloads.ALICE["id"])
    await add_team(pool, 72, payloads.BOB["id"])
    await api.sign_in("alice")
    assert (await cycle(api, repository=str(payloads.REPO_API_ID)))["cycle_time"]["count"] == 1
    assert (await cycle(api, repository=str(payloads.REPO_WEB_ID)))["cycle_time"]["count"] == 0
    both = await cycle(api, repository=f"{payloads.REPO_API_ID},{payloads.REPO_WEB_ID}")
    assert both["cycle_time"]["count"] == 1
    assert (await cycle(api, team="71"))["cycle_time"]["count"] == 1
    assert (await cycle(api, team="72"))["cycle_time"]["count"] == 0
    body = await api.get("/api/metrics/cycle-time", {**WORLD, "team": "71"})
    assert body["query"]["team"] == 71


async def test_installation_selection(api, pool) -> None:
    await seed_world(pool, rollups=True)
    await api.sign_in("alice", installations=(ORG, SOLO))
    assert (await api.get("/api/metrics/cycle-time", WORLD, status=400))["error"]["field"] == "installation"
    org = await cycle(api, installation=str(ORG), explain="true")
    solo = await cycle(api, installation=str(SOLO), explain="true")
    assert [i["id"] for i in org["cycle_time"]["items"]] == [PR7]
    assert PR7 not in [i["id"] for i in solo["cycle_time"]["items"]]
    # A period without activity is a figure of nothing, not an error.
    empty = await cycle(api, installation=str(ORG), **{"from": "2023-01-01", "to": "2023-01-31"})
    assert empty["cycle_time"]["count"] == 0 and empty["cycle_time"]["value"] is None


async def test_invalid_organisation_settings_are_422_not_500(api, pool) -> None:
    await seed_world(pool, rollups=True)
    await pool.execute("UPDATE organizations SET settings = '{\"exclude_bots\": \"yes\"}' WHERE id = $1",
                       payloads.ORG_ID)
    await api.sign_in("alice")
    body = await api.get("/api/metrics/cycle-time", WORLD, status=422)
    assert body["error"]["field"] == "settings" and "exclude_bots" in body["error"]["message"]


async def test_analytics(api, pool) -> None:
    await seed_world(pool, rollups=True)
    await api.sign_in("alice")
    team = (await api.get("/api/analytics/team", WORLD))["result"]
    alice = next(p for p in team["people"] if p["login"] == "alice")
    assert alice["prs_merged"] == 1
    me = (await api.get(f"/api/analytics/individual/{payloads.ALICE['id']}", WORLD))["result"]
    assert me["user"]["login"] == "alice" and me["cycle_time"]["count"] == 1
    # Alice's PR 7 is the world's only merged PR: her stage medians are the organisation's.
    org_stages = (await cycle(api))["stages"]
    for stage, figure in me["cycle_time"]["stages"].items():
        assert figure["median"] == pytest.approx(org_stages[stage]["median"]), stage
        assert figure["count"] == org_stages[stage]["count"], stage
    assert me["cycle_time"]["stages"]["coding"]["count"] == 1
    await api.get(f"/api/analytics/individual/{payloads.SOLO_ID}", WORLD, status=404)
    repo = (await api.get(f"/api/analytics/repository/{payloads.REPO_API_ID}", WORLD))["result"]
    assert repo["repository"]["full_name"] == "acme/api" and repo["totals"]["prs_merged"] == 1
    trend = (await api.get("/api/analytics/trends", {"from": "2024-04-30", "to": "2024-05-02",
                                                     "metric": "prs_merged", "interval": "day"}))
    series = {point["start"]: point["value"] for point in trend["result"]["series"]}
    assert series.get("2024-05-01") == 1
    # One repository's series (repository_stats, filtered): acme/api merged PR 7 that day.
    for repository, merged in ((payloads.REPO_API_ID, 1), (payloads.REPO_WEB_ID, None)):
        trend = await api.get("/api/analytics/trends", {"from": "2024-04-30", "to": "2024-05-02",
                                                        "metric": "prs_merged", "interval": "day",
                                                        "repository": str(repository)})
        series = {point["start"]: point["value"] for point in trend["result"]["series"]}
        assert series.get("2024-05-01") == merged or (merged is None and not series.get("2024-05-01"))
    await add_team(pool, 71, payloads.ALICE["id"])
    # A team's series come from team rollups, which have no deployment column.
    body = await api.get("/api/analytics/trends", {**WORLD, "team": "71", "metric": "deployments"},
                         status=400)
    assert body["error"]["field"] == "metric"
    # Team series have no repository dimension: both filters together are refused, not half-applied.
    body = await api.get("/api/analytics/trends", {**WORLD, "team": "71", "metric": "prs_merged",
                                                   "repository": str(payloads.REPO_API_ID)}, status=400)
    assert body["error"]["field"] == "repository"


async def store_only(pool, event: str, payload: dict):
    """A delivery stored as the webhook endpoint stores it, not processed yet: its arrival."""
    import uuid

    import orjson

    from devmetrics_app.store.deliveries import IncomingDelivery, insert_batch

    delivery_id = str(uuid.uuid4())
    async with pool.acquire() as conn:
        await insert_batch(conn, [IncomingDelivery(
            delivery_id=delivery_id, event=event, action=None, installation_id=ORG, hook_id=None,
            content_type="application/json", body=orjson.dumps(payload))])
        return await conn.fetchval("SELECT received_at FROM webhook_deliveries WHERE delivery_id = $1",
                                   delivery_id)


async def test_every_figure_says_as_of_and_whether_work_is_pending(api, pool) -> None:
    from datetime import datetime

    from devmetrics_app.jobs import rollups as rollup_jobs

    await seed_world(pool, rollups=True)
    # seed_world recomputed the rollups itself; no dispatcher runs here to send the follow-ups its
    # deliveries left in the outbox, and while they wait the figures are rightly pending.
    await api.sign_in("alice")
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE actor LIKE '%rollups%'") > 0
    assert (await api.get("/api/metrics/dora", WORLD))["pending"] is True
    await pool.execute("DELETE FROM outbox")
    # Rollup jobs earlier tests left in the shared test broker are not this world's to wait for.
    rollup_jobs.run_rollups.broker.flush(rollup_jobs.run_rollups.queue_name)
    quiet = await api.get("/api/metrics/dora", WORLD)
    # Nothing outstanding: the answer is as of now, and so is each of its figures.
    assert quiet["pending"] is False and quiet["result"]["lead_time"]["pending"] is False
    assert quiet["result"]["lead_time"]["as_of"] == quiet["as_of"]
    run = rollup_jobs.run_rollups
    try:
        # A rollup queued (debounced) for another installation's repository changes nothing here...
        run.send_with_options(args=(payloads.REPO_TOOL_ID, ["2024-05-01"]), delay=600_000)
        assert (await api.get("/api/metrics/dora", WORLD))["pending"] is False
        # ...one for this installation's repository makes its figures pending, as of the last
        # recompute (seed_world's, before the quiet answer).
        run.send_with_options(args=(payloads.REPO_API_ID, ["2024-05-01"]), delay=600_000)
        body = await api.get("/api/metrics/cycle-time", WORLD)
        assert body["pending"] is True and body["result"]["cycle_time"]["pending"] is True
        assert datetime.fromisoformat(body["as_of"]) < datetime.fromisoformat(quiet["as_of"])
    finally:
        run.broker.flush(run.queue_name)
    assert (await api.get("/api/metrics/dora", WORLD))["pending"] is False
    # A delivery stored but not processed yet: pending, as of its arrival.
    received = await store_only(pool, "push", payloads.push_event(installation_id=ORG))
    body = await api.get("/api/analytics/team", WORLD)
    assert body["pending"] is True and datetime.fromisoformat(body["as_of"]) == received
