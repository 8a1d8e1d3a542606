"""The dashboard in a real browser (Debian's chromium driven by Playwright, headless).

Sign in through the fake GitHub's OAuth, read the overview of the seeded world and compare its
figures with the JSON API, follow an explanation link, create a notification rule through the
form, and watch a live update arrive after a webhook is posted: through the running app, the
delivery dispatcher, a real Dramatiq worker, Redis pub/sub and the page's WebSocket. Screenshots
of the main pages go to artifacts/screenshots/. Skipped only when /usr/bin/chromium is absent; no
browser download.
"""

from __future__ import annotations

import copy
import dataclasses
import socket
from pathlib import Path

import orjson
import payloads
import pytest
from api_support import set_role
from conftest import running_worker, signed_headers, wait_for
from test_auth import seed_user
from test_pages_support import API_WORLD, ORG, WORLD_QUERY, seed_world

from devmetrics_app.web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
TIMEOUT_MS = 15_000

NO_CHROMIUM = "needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def site(aiohttp_server, wired_settings, pool, broker, fake_github):
    """The app on a real loopback port whose PUBLIC_URL is that port, so the fake GitHub's
    authorize step redirects the browser back to it."""
    state, _ = fake_github
    port = free_port()
    settings = dataclasses.replace(wired_settings, public_url=f"http://127.0.0.1:{port}")
    app = create_app(settings, database_url=settings.database_url.get(), redis_url=settings.redis_url.get())
    server = await aiohttp_server(app, port=port)
    return app, state, f"http://127.0.0.1:{server.port}"


@pytest.fixture
async def browser_page():
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.csp_errors = errors  # type: ignore[attr-defined]
        yield page
        await browser.close()


async def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def api_json(page, base: str, path: str, params: dict[str, str]) -> dict:
    response = await page.request.get(base + path, params=params)
    assert response.ok, await response.text()
    return await response.json()


def live_frames(page) -> list[dict]:
    """Every JSON message the page's WebSockets receive from now on, in arrival order."""
    frames: list[dict] = []

    def on_frame(payload: str | bytes) -> None:
        try:
            frames.append(orjson.loads(payload))
        except orjson.JSONDecodeError:
            pass

    page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
    return frames


async def test_dashboard_end_to_end(site, browser_page, pool, wired_settings, broker) -> None:
    _, state, base = site
    page = browser_page
    seed_user(state, "alice", installations=(ORG,))
    await seed_world(pool, rollups=True)
    await set_role(pool, payloads.ALICE["id"], "MANAGER")

    # Sign in through the fake GitHub's OAuth.
    await page.goto(base + "/")
    await page.get_by_role("button", name="Sign in with GitHub").click()
    await page.wait_for_url(f"{base}/orgs/{ORG}")

    # The overview's figures are the API's.
    query = "&".join(f"{k}={v}" for k, v in WORLD_QUERY.items())
    await page.goto(f"{base}/orgs/{ORG}?{query}")
    await shot(page, "overview")
    cycle = (await api_json(page, base, "/api/metrics/cycle-time", API_WORLD))["result"]["cycle_time"]
    builds = (await api_json(page, base, "/api/metrics/build-success", API_WORLD))["result"]
    from devmetrics_app.web.dashboard.charts import fmt

    assert (await page.locator('a[data-figure="cycle_time"]').inner_text()) == fmt(cycle["value"], "h")
    assert (await page.locator('a[data-figure="build_success"]').inner_text()) == fmt(builds["value"], "%")
    assert await page.locator("svg.chart").count() >= 3
    # The DORA tiles are the API's too.
    dora = (await api_json(page, base, "/api/metrics/dora", API_WORLD))["result"]
    for key, unit in (("lead_time", "hours"), ("change_failure_rate", "%")):
        tile = await page.locator(f'a[data-figure="{key}"]').inner_text()
        assert tile == fmt(dora[key]["value"], unit), key

    # The other main pages, for the screenshots: people (alice is a manager), her own page, sprints.
    for name, path in (("people", "people"), ("person", f"people/{payloads.ALICE['id']}"),
                       ("sprints", "sprints")):
        await page.goto(f"{base}/orgs/{ORG}/{path}?{query}")
        assert await page.locator("h1").count() == 1
        await shot(page, name)
    await page.goto(f"{base}/orgs/{ORG}?{query}")

    # Follow an explanation link: the items behind the cycle time.
    await page.locator('a[data-figure="cycle_time"]').click()
    await page.wait_for_url(f"{base}/orgs/{ORG}/explain/cycle_time?*")
    assert "PR cycle time" in await page.locator("h1").inner_text()
    assert await page.locator("[data-count]").inner_text() == str(cycle["count"])
    await shot(page, "explanation")

    # Create a notification rule through the form.
    await page.goto(f"{base}/orgs/{ORG}/notifications/rules/new")
    await page.get_by_label("Name").fill("Waiting too long")
    await page.get_by_label("When").select_option("pr_review_required")
    await page.get_by_label("Hours without review").fill("12")
    await page.get_by_role("checkbox", name="in-app").check()
    await page.get_by_role("button", name="Save rule").click()
    await page.wait_for_url(f"{base}/orgs/{ORG}/notifications/rules?done=saved")
    assert await page.get_by_role("row", name="Waiting too long").count() == 1
    rules = (await api_json(page, base, "/api/notifications/rules", {}))["rules"]
    assert [(r["name"], r["conditions"]["hours"]) for r in rules] == [("Waiting too long", 12)]
    await shot(page, "rules")

    # A live update: a new pull request shows up on the open list without a reload. Nothing in
    # this test processes the webhook: the app stores it, the dispatcher hands it to a real
    # Dramatiq worker (started only now, so it never sees the deliveries seed_world processed
    # inline), whose publish_live job reaches the page through Redis and the WebSocket.
    broker.flush_all()  # messages left in the session's queues by earlier tests are not ours
    frames = live_frames(page)
    with running_worker(wired_settings, broker):
        await page.goto(f"{base}/orgs/{ORG}/pulls")
        await page.wait_for_selector('body[data-live-connected="true"]')
        await shot(page, "pulls")
        new_id = payloads.pr_id(payloads.REPO_API_ID, 4242)
        assert await page.locator(f'tr[data-pr="{new_id}"]').count() == 0
        assert await page.locator("body").get_attribute("data-live-updated") is None
        await post_new_pull_request(base)

        # The page's socket got the worker's message about this pull request (not merely some
        # later refresh, such as the debounced rollup's), and the page swapped the row in.
        def opened() -> list[dict]:
            return [f for f in frames if f.get("type") == "pull_request.opened"
                    and f.get("pull_request") == new_id and f.get("room") == f"org:{ORG}"]

        [message] = await wait_for(opened)
        assert message["installation"] == ORG and message["repository"] == payloads.REPO_API_ID
        await page.wait_for_selector(f'tr[data-pr="{new_id}"]')
        assert await page.locator("body").get_attribute("data-live-updated")
        delivery = await pool.fetchrow("SELECT status, attempts FROM webhook_deliveries "
                                       "WHERE delivery_id = 'live-update-delivery'")
        assert (delivery["status"], delivery["attempts"]) == ("processed", 1)
    await page.goto(f"{base}/orgs/{ORG}/pulls/{new_id}")
    await shot(page, "pull-request")
    await page.goto(f"{base}/orgs/{ORG}/repositories/{payloads.REPO_API_ID}?{query}")
    await shot(page, "repository")
    assert not [e for e in page.csp_errors if "Content Security Policy" in e]


async def post_new_pull_request(base: str) -> None:
    """Post a signed `pull_request.opened` webhook to the running app, as GitHub would; the
    app only stores it (202) and the worker does the rest."""
    import aiohttp

    pr = payloads.pull_request(4242, repo=payloads.REPO_API, title="Live: add rate limiting")
    payload = copy.deepcopy(payloads.pull_request_event("opened", pr))
    body = orjson.dumps(payload)
    headers = signed_headers("pull_request", body, delivery_id="live-update-delivery")
    async with aiohttp.ClientSession() as http:
        response = await http.post(base + "/api/webhooks/github", data=body, headers=headers)
        assert response.status == 202, await response.text()
