"""Every invalid query parameter answers 400 with a body naming the field (never a 500), and
ids of another installation answer 404 before any other parameter is looked at."""

from __future__ import annotations

import payloads
from api_support import (
    ORG,
    SOLO,
    WORLD,
    api_fixture,  # noqa: F401 - the `api` fixture
    seed_world,
)

CYCLE = "/api/metrics/cycle-time"
PRS = "/api/pull-requests"
B_PR = payloads.pr_id(payloads.REPO_TOOL_ID, 3)

# (path, query, field named in the 400)
INVALID: list[tuple[str, dict | list, str]] = [
    (CYCLE, {"installation": "abc"}, "installation"),
    (CYCLE, {"installation": "0"}, "installation"),
    (CYCLE, {"installation": "99999999999999999999"}, "installation"),
    (CYCLE, [("installation", str(ORG)), ("installation", str(ORG))], "installation"),
    (CYCLE, {"from": "2024-13-01"}, "from"),
    (CYCLE, {"from": "yesterday"}, "from"),
    (CYCLE, {"from": "2024-05-01T10:00:00"}, "from"),
    (CYCLE, {"to": "2024-02-30"}, "to"),
    (CYCLE, {"from": "2024-05-10", "to": "2024-05-01"}, "to"),
    (CYCLE, {"from": "2024-05-01T10:00:00Z", "to": "2024-05-01T10:00:00Z"}, "to"),
    (CYCLE, {"from": "2019-01-01", "to": "2024-01-01"}, "from"),
    # The 30 days before year 1 are not a date: a 400, never an OverflowError.
    (CYCLE, {"to": "0001-01-01"}, "to"),
    (CYCLE, {"to": "0001-01-01T00:00:00Z"}, "to"),
    (CYCLE, {"from": "1999-12-31"}, "from"),
    (CYCLE, {"repository": "abc"}, "repository"),
    (CYCLE, {"repository": "0"}, "repository"),
    (CYCLE, {"repository": "501,"}, "repository"),
    # str.isdigit() says yes to these; int() does not: a 400, never a 500.
    (CYCLE, {"repository": "\u00b2"}, "repository"),
    (CYCLE, {"installation": "\u0663"}, "installation"),
    (PRS, {"limit": "\u00b9\u00b2"}, "limit"),
    (CYCLE, {"team": "x"}, "team"),
    (CYCLE, {"explain": "maybe"}, "explain"),
    ("/api/metrics/burndown", {}, "milestone"),
    ("/api/metrics/burndown", {"milestone": "x"}, "milestone"),
    ("/api/metrics/dora", {"to": "2024-05-01", "from": "not-a-date"}, "from"),
    ("/api/analytics/trends", {}, "metric"),
    ("/api/analytics/trends", {"metric": "happiness"}, "metric"),
    ("/api/analytics/trends", {"metric": "prs_merged", "interval": "year"}, "interval"),
    ("/api/analytics/team", {"from": "2024-05-01", "to": "2024-04-01"}, "to"),
    ("/api/analytics/team", {"explain": "true"}, "explain"),  # a table: nothing to explain
    ("/api/analytics/trends", {"metric": "prs_merged", "explain": "true"}, "explain"),
    (PRS, {"limit": "0"}, "limit"),
    (PRS, {"limit": "101"}, "limit"),
    (PRS, {"limit": "ten"}, "limit"),
    (PRS, {"cursor": "garbage"}, "cursor"),
    (PRS, {"cursor": "eyJ4Ijoxfq.AAAA"}, "cursor"),
    (PRS, {"state": "sleeping"}, "state"),
    (PRS, {"state": "open,"}, "state"),
    (PRS, {"risk": "extreme"}, "risk"),
    (PRS, {"author": "not a login!"}, "author"),
    (PRS, {"label": ""}, "label"),
    (PRS, {"from": "2024-05-01", "to": "2024-04-01"}, "to"),
    ("/api/repositories", {"connected": "maybe"}, "connected"),
    ("/api/repositories", {"removed": "2"}, "removed"),
    ("/api/repositories", {"limit": "-1"}, "limit"),
    ("/api/repositories/501/metrics", {"explain": "yes please"}, "explain"),
    ("/api/repositories/501/metrics", {"from": "2024-99-01"}, "from"),
    ("/api/analytics/repository/501", {"to": "soon"}, "to"),
    ("/api/pull-requests/abc", {}, "pull_request_id"),
    ("/api/analytics/individual/x", {}, "user_id"),
]

# Another installation's ids, each with an invalid parameter beside it: 404, never 400.
FOREIGN: list[tuple[str, dict]] = [
    (CYCLE, {"installation": str(SOLO), "from": "garbage"}),
    (CYCLE, {"installation": "4444", "explain": "maybe"}),
    (CYCLE, {"repository": str(payloads.REPO_TOOL_ID), "from": "garbage"}),
    (CYCLE, {"repository": "501,99999", "limit": "x"}),
    (CYCLE, {"team": "123456", "explain": "maybe"}),
    ("/api/metrics/burndown", {"milestone": "424242", "from": "garbage"}),
    (PRS, {"installation": str(SOLO), "limit": "1000"}),
    (PRS, {"repository": str(payloads.REPO_TOOL_ID), "cursor": "garbage"}),
    (f"/api/repositories/{payloads.REPO_TOOL_ID}/metrics", {"from": "garbage"}),
    (f"/api/analytics/repository/{payloads.REPO_TOOL_ID}", {"from": "garbage"}),
    ("/api/analytics/repository/501", {"installation": str(SOLO), "from": "garbage"}),
    (f"/api/analytics/individual/{payloads.SOLO_ID}", {"from": "garbage"}),
    (f"/api/pull-requests/{B_PR}", {}),
    (f"/api/pull-requests/{B_PR}/ai-insights", {}),
]


async def test_invalid_parameters_are_400_naming_the_field(api, pool) -> None:
    await seed_world(pool)
    await api.sign_in("alice")
    wrong = []
    for path, query, field in INVALID:
        response = await api.client.get(path, params=query, headers=api.headers)
        body = await response.json()
        if response.status != 400 or body.get("error", {}).get("field") != field:
            wrong.append((path, query, field, response.status, body))
        elif field not in body["error"]["message"]:
            wrong.append((path, query, "message should name the field", body))
    assert not wrong, wrong


async def test_other_installations_are_404_before_validation(api, pool) -> None:
    await seed_world(pool)
    await api.sign_in("alice")
    wrong = []
    for path, query in FOREIGN:
        response = await api.client.get(path, params=query, headers=api.headers)
        if response.status != 404:
            wrong.append((path, query, response.status, await response.text()))
    assert not wrong, wrong
    # The same for a write: another installation's repository, with a nonsense query.
    response = await api.client.post(f"/api/repositories/{payloads.REPO_TOOL_ID}/connect",
                                     params={"days": "x"}, headers=api.headers)
    assert response.status == 404


async def test_installation_is_required_only_when_ambiguous(api, pool) -> None:
    await seed_world(pool)
    await api.sign_in("alice", installations=(ORG, SOLO))
    body = await api.get(CYCLE, WORLD, status=400)
    assert body["error"]["field"] == "installation"
    chosen = await api.get(CYCLE, {**WORLD, "installation": str(SOLO)})
    assert chosen["query"]["installation"] == SOLO


async def test_a_cursor_is_bound_to_its_list(api, pool) -> None:
    await seed_world(pool)
    await api.sign_in("alice")
    repositories = await api.get("/api/repositories", {"limit": "1"})
    cursor = repositories["next_cursor"]
    assert cursor
    body = await api.get(PRS, {"cursor": cursor}, status=400)
    assert body["error"]["field"] == "cursor"
    payload, _, mac = cursor.partition(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + mac
    body = await api.get("/api/repositories", {"cursor": forged}, status=400)
    assert body["error"]["field"] == "cursor"


async def test_defaults(api, pool) -> None:
    await seed_world(pool)
    await api.sign_in("alice")
    body = await api.get(CYCLE)
    query = body["query"]
    from datetime import datetime

    span = datetime.fromisoformat(query["to"]) - datetime.fromisoformat(query["from"])
    assert span.days == 30 and query["installation"] == ORG and query["explain"] is False
    assert query["repository"] is None and query["team"] is None
