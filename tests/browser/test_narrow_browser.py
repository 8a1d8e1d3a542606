"""The dashboard on a phone (390 px wide) in a real browser: the pull request list, People,
notification rules and API docs never scroll sideways, and chart labels stay at least 10 px
tall. Screenshots go to artifacts/screenshots/narrow-*.png. Skipped without /usr/bin/chromium.

With axe-core at hand (`npm install --no-save axe-core@4` in the checkout, or AXE_CORE_JS
naming axe.min.js), every page visited is also checked by axe, at phone and desktop widths:
no serious or critical violation.
"""

from __future__ import annotations

import os
from pathlib import Path

import payloads
import pytest
from api_support import set_role
from test_auth import seed_user
from test_dashboard_browser import CHROMIUM, NO_CHROMIUM, browser_page, shot, site  # noqa: F401
from test_pages_support import ORG, WORLD_QUERY, seed_world

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
AXE_PATH = Path(os.environ.get("AXE_CORE_JS")
                or Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js")
AXE_SOURCE = AXE_PATH.read_text() if AXE_PATH.exists() else None  # read once, at import
AXE_SERIOUS_JS = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join(', ')}`);
}"""
MIN_LABEL_PX = 10
# The widest element's right edge against the viewport, and the smallest rendered chart text.
OVERFLOW_JS = "() => document.documentElement.scrollWidth - window.innerWidth"
SMALLEST_LABEL_JS = """() => {
  let smallest = Infinity;
  for (const svg of document.querySelectorAll('svg.chart')) {
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    for (const t of svg.querySelectorAll('text')) {
      smallest = Math.min(smallest, parseFloat(getComputedStyle(t).fontSize) * scale);
    }
  }
  return smallest;
}"""


async def test_pages_fit_a_phone(site, browser_page, pool) -> None:  # noqa: F811
    _, state, base = site
    page = browser_page
    seed_user(state, "alice", installations=(ORG,))
    await seed_world(pool, rollups=True)
    await set_role(pool, payloads.ALICE["id"], "MANAGER")
    await page.set_viewport_size(PHONE)
    await page.goto(base + "/")
    await page.get_by_role("button", name="Sign in with GitHub").click()
    await page.wait_for_url(f"{base}/orgs/{ORG}")
    query = "&".join(f"{k}={v}" for k, v in WORLD_QUERY.items())
    pr7 = payloads.pr_id(payloads.REPO_API_ID, 7)
    pages = (("pulls", f"/orgs/{ORG}/pulls"), ("people", f"/orgs/{ORG}/people?{query}"),
             ("rules", f"/orgs/{ORG}/notifications/rules"), ("api-docs", "/api/docs"),
             ("repositories", f"/orgs/{ORG}/repositories?{query}"), ("overview", f"/orgs/{ORG}?{query}"),
             ("pull-request", f"/orgs/{ORG}/pulls/{pr7}"),
             ("explain-lead-time", f"/orgs/{ORG}/explain/lead_time?{query}"),
             ("inbox", "/notifications"))
    serious: list[str] = []
    for name, path in pages:
        await page.goto(base + path)
        await shot(page, f"narrow-{name}")
        assert await page.evaluate(OVERFLOW_JS) <= 0, name
        if await page.locator("svg.chart").count():
            assert await page.evaluate(SMALLEST_LABEL_JS) >= MIN_LABEL_PX, name
        serious += [f"{name} (phone): {v}" for v in await axe_serious(page)]
    await page.set_viewport_size(DESKTOP)
    for name, path in pages:
        await page.goto(base + path)
        serious += [f"{name} (desktop): {v}" for v in await axe_serious(page)]
    assert serious == []
    # The favicon the pages link to is there.
    icon = await page.request.get(base + "/static/favicon.svg")
    assert icon.ok


async def axe_serious(page) -> list[str]:
    """axe's serious and critical violations on the page (none checked without axe-core)."""
    if AXE_SOURCE is None:
        return []
    # Evaluated through the DevTools protocol: the page's CSP (script-src 'self') does not apply.
    await page.evaluate(AXE_SOURCE + "\n;0")
    return await page.evaluate(AXE_SERIOUS_JS)
