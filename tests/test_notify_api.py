"""The notifications API: rules (validation that names the field, roles, tenancy before the
body) and the caller's in-app notifications (cursor pages, mark read)."""

from __future__ import annotations

import copy
import dataclasses

import payloads
import pytest
from conftest import deliver
from test_auth import api_sign_in, seed_user

from devmetrics_app.config import Secret
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
