"""The notifications API: rules (validation that names the field, roles, tenancy before the
body) and the caller's in-app notifications (cursor pages, mark read)."""

from __future__ import annotations

import copy
import dataclasses
from types import SimpleNamespace

import payloads
import pytest
from conftest import deliver
from test_auth import api_sign_in, seed_user

from devmetrics_app.config import Secret
from devmetrics_app.web.api.openapi import document
from devmetrics_app.web.api.query import MAX_LIMIT, encode_cursor
from devmetrics_app.web.app import create_app

INST = payloads.ORG_INSTALLATION_ID
OTHER = payloads.SOLO_INSTALLATION_ID
DISCORD = "https://discord.com/api/webhooks/123456789/secret-token_value"
GOOD = {"name": "Slow reviews", "type": "pr_review_required",
        "conditions": {"hours": 4, "timezone": "Europe/Berlin",
                       "business_hours": {"start": "09:00", "end": "17:00", "days": [1, 2, 3, 4, 5]}},
        "channels": ["slack", "discord", "in_app"], "slack_channel": "#eng",
        "discord_webhook_url": DISCORD, "labels": ["security"]}


@pytest.fixture
async def api(aiohttp_client, settings, pool, broker, fake_github):
    state, base_url = fake_github
    wired = dataclasses.replace(settings, github_api_url=base_url, github_url=base_url,
                                github_client_id=state.client_id,
                                github_client_secret=Secret(state.client_secret))
    app = create_app(wired, database_url=wired.database_url.get(), redis_url=wired.redis_url.get())
    client = await aiohttp_client(app)
    for label in ("created-org", "created-user-account"):
        sample = next(p for e, c, p in payloads.ALL_SAMPLES if (e, c) == ("installation", label))
        await deliver(pool, "installation", copy.deepcopy(sample))
    return client, state


async def bearer(api, login: str) -> dict[str, str]:
    client, state = api
    seed_user(state, login, installations=(INST,))
    return {"Authorization": f"Bearer {await api_sign_in(client, state, login)}"}


async def test_rule_lifecycle(api, pool) -> None:
    client, _ = api
    admin = await bearer(api, "carol")
    created = await client.post("/api/notifications/rules", json=GOOD, headers=admin)
    assert created.status == 201, await created.text()
    rule = await created.json()
    assert rule["installation_id"] == INST and rule["discord_webhook_configured"] is True
    assert "secret-token" not in await created.text()  # the webhook URL is a credential
    stored = await pool.fetchval("SELECT discord_webhook_url_enc FROM notification_rules")
    assert b"secret-token" not in bytes(stored)
    listed = await (await client.get("/api/notifications/rules", headers=admin)).json()
    assert [r["id"] for r in listed["rules"]] == [rule["id"]]
    path = f"/api/notifications/rules/{rule['id']}"
    assert (await (await client.get(path, headers=admin)).json())["conditions"]["hours"] == 4
    paused = await client.patch(path, json={"enabled": False}, headers=admin)
    assert paused.status == 200 and (await paused.json())["enabled"] is False
    # Editing a flagged rule clears the flag; the stored webhook URL survives an edit without one.
    await pool.execute("UPDATE notification_rules SET flagged_at = now(), flag_reason = 'slack: x'")
    edited = await (await client.patch(path, json={"name": "Reviews", "enabled": True},
                                       headers=admin)).json()
    assert edited["flagged_at"] is None and edited["flag_reason"] is None
    assert edited["discord_webhook_configured"] is True and edited["name"] == "Reviews"
    assert (await client.delete(path, headers=admin)).status == 204
    assert (await client.get(path, headers=admin)).status == 404


INVALID = [
    ({"type": "pr_exploded"}, "type"),
    ({"name": ""}, "name"),
    ({"colour": "red"}, "colour"),
    ({"channels": ["pager"]}, "channels"),
    ({"channels": []}, "channels"),
    ({"slack_channel": None}, "slack_channel"),
    ({"slack_channel": "<!channel>"}, "slack_channel"),
    ({"discord_webhook_url": "https://evil.example/api/webhooks/1/x"}, "discord_webhook_url"),
    ({"discord_webhook_url": "http://discord.com/api/webhooks/1/x"}, "discord_webhook_url"),
    ({"discord_webhook_url": "not a url"}, "discord_webhook_url"),
    ({"channels": ["discord"], "discord_webhook_url": None}, "discord_webhook_url"),
    ({"channels": ["email"]}, "email_recipients"),
    ({"channels": ["email"], "email_recipients": ["x@y@z"]}, "email_recipients"),
    ({"conditions": {}}, "conditions.hours"),
    ({"conditions": {"hours": 0}}, "conditions.hours"),
    ({"conditions": {"hours": 4, "timezone": "Mars/Olympus"}}, "conditions.timezone"),
    ({"conditions": {"hours": 4, "business_hours": {"start": "9", "end": "17:00"}}},
     "conditions.business_hours.start"),
    ({"conditions": {"hours": 4, "min_risk": 3}}, "conditions.min_risk"),
    ({"type": "pr_high_risk", "conditions": {"min_risk": 101}}, "conditions.min_risk"),
    ({"type": "build_failed", "conditions": {}}, "labels"),
    ({"type": "digest", "conditions": {"hour": 9}, "labels": []}, "conditions.frequency"),
    ({"repository_ids": [999]}, "repository_ids"),
    ({"authors": ["not a login!"]}, "authors"),
]


async def test_invalid_rules_name_the_field(api, pool) -> None:
    client, _ = api
    admin = await bearer(api, "carol")
    answers = []
    for change, _field in INVALID:
        response = await client.post("/api/notifications/rules", json={**GOOD, **change}, headers=admin)
        answers.append((response.status, (await response.json())["error"].get("field")))
    assert answers == [(400, field) for _, field in INVALID]
    assert await pool.fetchval("SELECT count(*) FROM notification_rules") == 0


async def test_developers_read_but_cannot_write(api) -> None:
    client, _ = api
    admin = await bearer(api, "carol")
    developer = await bearer(api, "alice")  # a member: DEVELOPER by default
    denied = await client.post("/api/notifications/rules", json=GOOD, headers=developer)
    assert denied.status == 403
    rule = await (await client.post("/api/notifications/rules", json=GOOD, headers=admin)).json()
    path = f"/api/notifications/rules/{rule['id']}"
    assert (await client.get(path, headers=developer)).status == 200
    assert (await client.patch(path, json={"enabled": False}, headers=developer)).status == 403
    assert (await client.delete(path, headers=developer)).status == 403


async def test_tenancy_is_settled_before_the_body(api, pool) -> None:
    client, _ = api
    admin = await bearer(api, "carol")
    foreign = await pool.fetchval(
        """INSERT INTO notification_rules (installation_id, organization_id, name, type, channels)
           VALUES ($1, $2, 'theirs', 'pr_opened', '{in_app}') RETURNING id""",
        OTHER, payloads.SOLO_ID)
    path = f"/api/notifications/rules/{foreign}"
    for method, body in (("GET", None), ("PATCH", {"type": "nonsense"}), ("PATCH", None),
                         ("DELETE", None)):
        response = await client.request(method, path, json=body, headers=admin)
        assert response.status == 404, (method, await response.text())
    hidden = await client.post(f"/api/notifications/rules?installation={OTHER}",
                               json={"type": "nonsense"}, headers=admin)
    assert hidden.status == 404
    assert await pool.fetchval("SELECT name FROM notification_rules WHERE id = $1", foreign) == "theirs"


async def test_in_app_notifications_page_and_mark_read(api, pool) -> None:
    client, _ = api
    carol = await bearer(api, "carol")
    await bearer(api, "alice")
    for n in range(5):
        await pool.execute(
            "INSERT INTO notifications (installation_id, user_id, title) VALUES ($1, $2, $3)",
            INST, payloads.CAROL["id"], f"note {n}")
    alices = await pool.fetchval(
        "INSERT INTO notifications (installation_id, user_id, title) VALUES ($1, $2, 'hers') RETURNING id",
        INST, payloads.ALICE["id"])
    await pool.execute("INSERT INTO notifications (installation_id, user_id, title) VALUES ($1, $2, 'x')",
                       OTHER, payloads.CAROL["id"])  # an installation carol cannot see
    seen, cursor = [], None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await (await client.get("/api/notifications", params=query, headers=carol)).json()
        seen += [n["title"] for n in page["notifications"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"note {n}" for n in (4, 3, 2, 1, 0)] and page["unread_count"] == 5
    newest = (await (await client.get("/api/notifications", headers=carol)).json())["notifications"][0]
    marked = await client.patch(f"/api/notifications/{newest['id']}/read", headers=carol)
    first_read = (await marked.json())["read_at"]
    assert marked.status == 200 and first_read is not None
    again = await (await client.patch(f"/api/notifications/{newest['id']}/read", headers=carol)).json()
    assert again["read_at"] == first_read
    unread = await (await client.get("/api/notifications?unread=true", headers=carol)).json()
    assert len(unread["notifications"]) == 4 and unread["unread_count"] == 4
    reopened = await client.patch(f"/api/notifications/{newest['id']}/read", json={"read": False},
                                  headers=carol)
    assert (await reopened.json())["read_at"] is None
    assert (await client.patch(f"/api/notifications/{alices}/read", headers=carol)).status == 404
    too_many = await client.get("/api/notifications?limit=101", headers=carol)
    assert too_many.status == 400 and (await too_many.json())["error"]["field"] == "limit"


async def add_notifications(pool, count: int, *, installation: int = INST,
                            user: int = payloads.CAROL["id"]) -> list[int]:
    """`count` notifications for `user`, oldest first; their ids."""
    return [await pool.fetchval(
        "INSERT INTO notifications (installation_id, user_id, title) VALUES ($1, $2, $3) RETURNING id",
        installation, user, f"note {n}") for n in range(count)]


async def bad(client, headers, params, field: str, path: str = "/api/notifications") -> dict:
    """The request answers 400 in the shared shape: `error.field` and a message naming it."""
    response = await client.get(path, params=params, headers=headers)
    body = await response.json()
    assert response.status == 400, (params, response.status, body)
    assert body["error"]["code"] == "invalid" and body["error"]["field"] == field, (params, body)
    assert body["error"]["message"].startswith(f"{field}: "), (params, body)
    return body


async def test_paging_sees_every_notification_once_newest_first(api, pool) -> None:
    client, _ = api
    carol = await bearer(api, "carol")
    ids = await add_notifications(pool, 7)
    await add_notifications(pool, 2, installation=OTHER)  # not carol's to see
    await add_notifications(pool, 1, user=payloads.ALICE["id"])  # not carol's
    seen, pages, cursor = [], [], None
    while True:
        query = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/notifications", params=query, headers=carol)
        assert response.status == 200, await response.text()
        body = await response.json()
        # unread_count counts them all, the one that arrives mid-walk included
        assert body["limit"] == 3 and body["unread_count"] == (7 if not pages else 8)
        pages.append(len(body["notifications"]))
        seen += [n["id"] for n in body["notifications"]]
        if pages == [3]:  # a newer notification arriving mid-walk neither repeats nor shifts pages
            await add_notifications(pool, 1)
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert not cursor.isdigit() and "." in cursor  # opaque and signed, not a bare id
    assert pages == [3, 3, 1]
    assert seen == sorted(ids, reverse=True) and len(set(seen)) == len(seen)
    # A page holding exactly the rest is the last one: no empty page after it.
    exact = await (await client.get("/api/notifications", params={"limit": "8"}, headers=carol)).json()
    assert len(exact["notifications"]) == 8 and exact["next_cursor"] is None
    short = await (await client.get("/api/notifications", params={"limit": "7"}, headers=carol)).json()
    rest = await (await client.get("/api/notifications", headers=carol,
                                   params={"limit": "1", "cursor": short["next_cursor"]})).json()
    assert [n["id"] for n in rest["notifications"]] == [ids[0]] and rest["next_cursor"] is None


async def test_cursor_pages_the_unread_filter(api, pool) -> None:
    client, _ = api
    carol = await bearer(api, "carol")
    ids = await add_notifications(pool, 6)
    await pool.execute("UPDATE notifications SET read_at = now() WHERE id = ANY($1::bigint[])",
                       ids[1::2])
    seen, cursor = [], None
    while True:
        query = {"limit": "2", "unread": "true", **({"cursor": cursor} if cursor else {})}
        body = await (await client.get("/api/notifications", params=query, headers=carol)).json()
        seen += [n["id"] for n in body["notifications"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids[0::2], reverse=True)


async def test_malformed_forged_or_foreign_cursors_are_400(api, pool) -> None:
    client, _ = api
    carol = await bearer(api, "carol")
    ids = await add_notifications(pool, 3)
    first = await (await client.get("/api/notifications", params={"limit": "1"}, headers=carol)).json()
    cursor = first["next_cursor"]
    payload, _, mac = cursor.partition(".")
    signer = SimpleNamespace(app=client.server.app)  # encode_cursor only reads the app's key
    forged = [
        "garbage",
        "",
        str(ids[1]),  # the old plain-id cursor
        "x" * 600 + "." + mac,
        payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + mac,  # edited position
        payload + "." + mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB"),  # edited signature
        payload + ".",
        "." + mac,
        payload + ".!!!!",
        encode_cursor(signer, "repositories", "acme/api", 501),  # another list's cursor
        encode_cursor(signer, "notifications", "not an id", ids[1]),  # a position of the wrong shape
        encode_cursor(signer, "notifications", 0, 0),
    ]
    for raw in forged:
        await bad(client, carol, {"cursor": raw}, "cursor")
    await bad(client, carol, [("cursor", cursor), ("cursor", cursor)], "cursor")
    # And the genuine one still works.
    second = await client.get("/api/notifications", params={"limit": "1", "cursor": cursor},
                              headers=carol)
    assert second.status == 200
    assert [n["id"] for n in (await second.json())["notifications"]] == [ids[1]]


@pytest.mark.parametrize("limit", ["0", str(MAX_LIMIT + 1), "abc", "-1", "1.5", "", " 5"])
async def test_bad_limits_are_400(api, pool, limit) -> None:
    client, _ = api
    carol = await bearer(api, "carol")
    body = await bad(client, carol, {"limit": limit}, "limit")
    assert str(MAX_LIMIT) in body["error"]["message"]


async def test_limit_bounds_are_accepted(api, pool) -> None:
    client, _ = api
    carol = await bearer(api, "carol")
    await add_notifications(pool, 2)
    for limit, shown in (("1", 1), (str(MAX_LIMIT), 2)):
        response = await client.get("/api/notifications", params={"limit": limit}, headers=carol)
        assert response.status == 200, await response.text()
        assert len((await response.json())["notifications"]) == shown


async def test_installation_parameter_is_parsed_as_everywhere(api, pool) -> None:
    client, _ = api
    carol = await bearer(api, "carol")
    await add_notifications(pool, 2)
    await add_notifications(pool, 1, installation=OTHER)
    for path in ("/api/notifications", "/api/notifications/rules"):
        for raw in ("abc", "0", "99999999999999999999", ""):
            await bad(client, carol, {"installation": raw}, "installation", path=path)
        await bad(client, carol, [("installation", str(INST)), ("installation", str(INST))],
                  "installation", path=path)
        # Another installation is 404, before any other parameter is looked at.
        hidden = await client.get(path, params={"installation": str(OTHER), "limit": "abc",
                                                "cursor": "garbage"}, headers=carol)
        assert hidden.status == 404, (path, await hidden.text())
    chosen = await (await client.get("/api/notifications", params={"installation": str(INST)},
                                      headers=carol)).json()
    assert len(chosen["notifications"]) == 2 and chosen["unread_count"] == 2
    await bad(client, carol, {"unread": "maybe"}, "unread")


def test_openapi_describes_the_notification_list_parameters() -> None:
    doc = document()
    params = {}
    for ref in doc["paths"]["/api/notifications"]["get"]["parameters"]:
        param = doc["components"]["parameters"][ref["$ref"].rsplit("/", 1)[1]]
        params[param["name"]] = param
    assert set(params) == {"installation", "limit", "cursor", "unread"}
    assert params["cursor"]["schema"] == {"type": "string"}  # opaque, not an id
    assert params["limit"]["schema"]["minimum"] == 1
    assert params["limit"]["schema"]["maximum"] == MAX_LIMIT
    assert not params["installation"]["required"]
    answers = doc["paths"]["/api/notifications"]["get"]["responses"]
    assert {"400", "404"} <= set(answers)
    assert answers["200"]["content"]["application/json"]["schema"]["$ref"].endswith("NotificationPage")


async def test_rules_list_pages_with_signed_cursors(api, pool) -> None:
    client, _ = api
    admin = await bearer(api, "carol")
    created = []
    for n in range(5):
        response = await client.post("/api/notifications/rules", json={**GOOD, "name": f"r{n}"},
                                     headers=admin)
        assert response.status == 201, await response.text()
        created.append((await response.json())["id"])
    seen, params = [], {"limit": "2"}
    while True:
        body = await (await client.get("/api/notifications/rules", params=params, headers=admin)).json()
        seen += [r["id"] for r in body["rules"]]
        if body["next_cursor"] is None:
            break
        params = {"limit": "2", "cursor": body["next_cursor"]}
    assert seen == created  # oldest first, each once
    await bad(client, admin, {"cursor": "garbage"}, "cursor", path="/api/notifications/rules")
    await bad(client, admin, {"limit": "101"}, "limit", path="/api/notifications/rules")
    # A cursor of the notifications list is not one of the rules list.
    await add_notifications(pool, 3)
    other = await (await client.get("/api/notifications", params={"limit": "1"}, headers=admin)).json()
    await bad(client, admin, {"cursor": other["next_cursor"]}, "cursor", path="/api/notifications/rules")


async def test_nul_characters_are_refused_not_stored(api, pool) -> None:
    client, _ = api
    admin = await bearer(api, "carol")
    for body in ({**GOOD, "name": "a\x00b"}, {**GOOD, "conditions": {"hours": 4, "x\x00": 1}}):
        response = await client.post("/api/notifications/rules", json=body, headers=admin)
        assert response.status == 400 and (await response.json())["error"]["field"] == "body"
    assert await pool.fetchval("SELECT count(*) FROM notification_rules") == 0
