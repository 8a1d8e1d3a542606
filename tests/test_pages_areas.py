"""Pull requests, repository, person, sprint, notification rules, in-app notifications and
settings pages, over the sample world: rendered, scoped and guarded as the API is."""

from __future__ import annotations

import re
from html import unescape

import orjson
import payloads
from api_support import set_role
from test_pages_support import ORG, WORLD_QUERY, pages_fixture, seed_world  # noqa: F401

PR7 = payloads.pr_id(payloads.REPO_API_ID, 7)
MILESTONE = payloads.stable_id("milestone", payloads.REPO_WEB_ID, 1)
RULES = f"/orgs/{ORG}/notifications/rules"


async def test_pull_request_list_and_page(pages, pool) -> None:
    await seed_world(pool, rollups=True)
    await pages.sign_in("alice")
    api = await pages.api("/api/pull-requests")
    html = await pages.html(f"/orgs/{ORG}/pulls")
    for item in api["items"]:
        assert f'/orgs/{ORG}/pulls/{item["id"]}"' in html
    assert "not analysed" in html  # risk badge without an analysis
    merged = await pages.html(f"/orgs/{ORG}/pulls", {"state": "merged"})
    assert f'/pulls/{PR7}"' in merged and 'value="merged" selected' in merged
    await pages.html(f"/orgs/{ORG}/pulls", {"author": "not a login!"}, status=400)
    page = await pages.html(f"/orgs/{ORG}/pulls/{PR7}")
    # Live: its own events and its repository's rollups (which recompute its stages).
    assert f'data-live-rooms="pr:{PR7} repo:{payloads.REPO_API_ID}"' in page
    assert "Cycle-time stages" in page and "Timeline" in page and "AI insights" in page
    # A PR seen through another installation's path is 404.
    await pages.html(f"/orgs/{payloads.SOLO_INSTALLATION_ID}/pulls/{PR7}", status=404)


async def test_repository_person_and_sprint_pages(pages, pool) -> None:
    await seed_world(pool, rollups=True)
    await pages.sign_in("alice")
    html = await pages.html(f"/orgs/{ORG}/repositories/{payloads.REPO_API_ID}", WORLD_QUERY)
    assert "acme/api" in html and '<svg class="chart"' in html
    assert "acme/api" in await pages.html(f"/orgs/{ORG}/repositories")
    await pages.html(f"/orgs/{ORG}/repositories/{payloads.REPO_TOOL_ID}", status=404)
    me = await pages.html(f"/orgs/{ORG}/people/{payloads.ALICE['id']}", {"period": "90"})
    assert "not a ranking" in me and "(you)" in me
    # Her cycle time split into stages: a chart and the table of the same numbers.
    assert "Median hours per cycle-time stage" in me and "<caption>Cycle-time stages" in me
    # Her figures link to their explanation, narrowed to her: the same number, her pull request.
    over_2024 = await pages.html(f"/orgs/{ORG}/people/{payloads.ALICE['id']}", WORLD_QUERY)
    link = re.search(r'href="(/orgs/\d+/explain/cycle_time\?[^"]*person=\d+)"', over_2024).group(1)
    explained = await pages.html(unescape(link))
    pr7 = payloads.pr_id(payloads.REPO_API_ID, 7)
    assert "PR cycle time of alice: 3.8 h" in explained and f'/pulls/{pr7}"' in explained
    # Someone else's share of a figure: for managers only, like their page.
    await pages.html(f"/orgs/{ORG}/explain/cycle_time", {"person": str(payloads.BOB["id"])}, status=404)
    await pages.html(f"/orgs/{ORG}/explain/cycle_time", {"person": "x"}, status=400)
    # The period and repository filters, a custom range included, as on the overview.
    mine = await pages.html(f"/orgs/{ORG}/people/{payloads.ALICE['id']}", WORLD_QUERY)
    assert 'value="custom" checked' in mine and 'name="repository"' in mine and 'name="team"' not in mine
    # Another person's page: only for managers.
    await pages.html(f"/orgs/{ORG}/people/{payloads.BOB['id']}", status=404)
    # The people table: for managers; anyone else lands on their own page.
    response = await pages.client.get(f"/orgs/{ORG}/people", allow_redirects=False)
    assert response.headers["Location"] == f"/orgs/{ORG}/people/{payloads.ALICE['id']}"
    await set_role(pool, payloads.ALICE["id"], "MANAGER")
    assert "bob" in await pages.html(f"/orgs/{ORG}/people/{payloads.BOB['id']}")
    everyone = await pages.html(f"/orgs/{ORG}/people", WORLD_QUERY)
    assert f'href="/orgs/{ORG}/people/{payloads.ALICE["id"]}">alice</a>' in everyone
    assert "not a ranking" in everyone and f'href="/orgs/{ORG}/people"' in everyone  # in the nav
    sprint = await pages.html(f"/orgs/{ORG}/sprints", {**WORLD_QUERY, "milestone": str(MILESTONE)})
    assert "Velocity" in sprint and "No story points in v1.0 yet" in sprint  # its issues carry none
    # The world's one milestone is still open: no empty velocity chart, but what to do instead.
    assert "No sprint closed in this period" in sprint and "Story points completed per sprint" not in sprint
    # Without a period, sprints look back a quarter (weighted velocity wants several sprints).
    assert 'value="90" checked' in await pages.html(f"/orgs/{ORG}/sprints")


async def test_notification_rules_through_forms(pages, pool) -> None:
    await seed_world(pool)
    await pages.sign_in("alice")
    await set_role(pool, payloads.ALICE["id"], "MANAGER")
    form = await pages.html(f"{RULES}/new")
    assert 'name="csrf_token"' in form
    # Without the CSRF token the identity middleware refuses the post.
    await pages.post(f"{RULES}/new", {"name": "x", "type": "pr_opened", "channels": "in_app"},
                     status=403, csrf=False)
    # A wrong field comes back as the form with its message.
    bad = await pages.post(f"{RULES}/new", {"name": "Slow reviews", "type": "pr_review_required",
                                             "channels": "in_app", "enabled": "on"}, status=400)
    assert "conditions.hours" in await bad.text() or "hours" in await bad.text()
    # A NUL character is refused by name, never stored (PostgreSQL would refuse it with a 500).
    nul = await pages.post(f"{RULES}/new", {"name": "a\x00b", "type": "pr_opened", "channels": "in_app"},
                           status=400)
    assert "name: contains a NUL character" in await nul.text()
    await pages.post(f"{RULES}/new", [("name", "Slow reviews"), ("type", "pr_review_required"),
                                      ("hours", "24"), ("channels", "in_app"), ("enabled", "on")])
    rules = (await pages.api("/api/notifications/rules"))["rules"]
    expected = [("Slow reviews", 24, True)]
    assert [(r["name"], r["conditions"]["hours"], r["enabled"]) for r in rules] == expected
    rule_id = rules[0]["id"]
    assert "Slow reviews" in await pages.html(RULES)
    await pages.post(f"{RULES}/{rule_id}/edit", [("name", "Very slow"), ("type", "pr_review_required"),
                                                 ("hours", "48"), ("channels", "in_app"), ("enabled", "on")])
    await pages.post(f"{RULES}/{rule_id}/enabled", {"enabled": "false"})
    rule = (await pages.api(f"/api/notifications/rules/{rule_id}"))
    assert (rule["name"], rule["conditions"]["hours"], rule["enabled"]) == ("Very slow", 48, False)
    await pages.post(f"{RULES}/{rule_id}/delete", {})
    assert (await pages.api("/api/notifications/rules"))["rules"] == []
    # A developer may read the rules but not change them.
    await set_role(pool, payloads.ALICE["id"], "DEVELOPER")
    await pages.html(f"{RULES}/new", status=403)


async def test_in_app_notifications_and_read_state(pages, pool) -> None:
    await seed_world(pool)
    await pages.sign_in("alice")
    note_id = await pool.fetchval(
        """INSERT INTO notifications (installation_id, user_id, title, body, url)
           VALUES ($1, $2, 'PR waits for review', '<b>acme/api#7</b>', 'javascript:alert(1)') RETURNING id""",
        ORG, payloads.ALICE["id"])
    html = await pages.html("/notifications")
    assert "(1 unread)" in html and "&lt;b&gt;acme/api#7&lt;/b&gt;" in html  # autoescaped
    assert "javascript:" not in html
    await pages.post(f"/notifications/{note_id}/read", {"read": "true"})
    assert "(0 unread)" in await pages.html("/notifications")
    await pages.post("/notifications/999999/read", {"read": "true"}, status=404)


async def test_settings_are_for_admins(pages, pool) -> None:
    await seed_world(pool)
    await pages.sign_in("alice")
    await set_role(pool, payloads.ALICE["id"], "MANAGER")
    await pages.html(f"/orgs/{ORG}/settings", status=403)
    await set_role(pool, payloads.ALICE["id"], "ADMIN")
    assert "Monthly AI budget" in await pages.html(f"/orgs/{ORG}/settings")
    metric_fields = {"incident_labels": "incident, sev1", "deploy_workflow_pattern": "*release*",
                     "default_points": "2", "exclude_bots": "on", "revert_detection": "on"}
    await pages.post(f"/orgs/{ORG}/settings", {"budget": "80", "risk_threshold": "60",
                                               "bot_patterns": "renovate-*, ci-*",
                                               "production_environments": "prod, live", **metric_fields})
    stored = await pool.fetchval("SELECT settings FROM organizations WHERE id = $1", payloads.ORG_ID)
    assert '"ai_monthly_budget_usd": 80.0' in stored.replace(":", ": ").replace(":  ", ": ")
    saved = orjson.loads(stored)
    assert (saved["incident_labels"], saved["deploy_workflow_pattern"], saved["default_points"],
            saved["exclude_bots"], saved["revert_detection"]) == (["incident", "sev1"], "*release*", 2.0,
                                                                  True, True)
    for field, value in (("default_points", "-1"), ("default_points", "many"), ("incident_labels", " ")):
        await pages.post(f"/orgs/{ORG}/settings", {"budget": "80", "risk_threshold": "60",
                                                   "production_environments": "prod",
                                                   **metric_fields, field: value}, status=400)
    assert "renovate-*" in await pages.html(f"/orgs/{ORG}/settings")
    # New bot patterns and environments: the stored rollups are recomputed for the history.
    assert pages.sent == [("recompute_installation_rollups", {"installation_id": ORG, "days": 730})]
    await pages.post(f"/orgs/{ORG}/settings", {"budget": "90", "risk_threshold": "60",
                                               "bot_patterns": "renovate-*, ci-*",
                                               "production_environments": "prod, live", **metric_fields})
    assert len(pages.sent) == 1  # the budget is not a metric setting: nothing to recompute
    # Roles: a known role is stored; anything else is a 400 naming the field.
    bob = payloads.BOB["id"]
    await set_role(pool, bob, "VIEWER")
    await pages.post(f"/orgs/{ORG}/settings/members/{bob}", {"role": "MANAGER"})
    assert await pool.fetchval("SELECT role FROM memberships WHERE installation_id = $1 AND user_id = $2",
                               ORG, bob) == "MANAGER"
    await pages.post(f"/orgs/{ORG}/settings/members/{bob}", {"role": "KING"}, status=400)
    await pages.post(f"/orgs/{ORG}/settings", {"budget": "x", "risk_threshold": "60",
                                               "production_environments": "prod", **metric_fields},
                     status=400)
