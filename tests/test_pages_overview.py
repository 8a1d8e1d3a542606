"""The overview and explanation pages over the sample world: figures match the JSON API,
every figure links to its explanation, filters live in the URL, and tenancy is a 404."""

from __future__ import annotations

import re

import payloads
from test_pages_support import API_WORLD, ORG, WORLD_QUERY, pages_fixture, seed_world  # noqa: F401

from devmetrics_app.web.dashboard.charts import fmt


async def test_anonymous_visitor_is_sent_to_sign_in(pages) -> None:
    response = await pages.client.get(f"/orgs/{ORG}", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/?next=")


async def test_overview_figures_match_the_api(pages, pool) -> None:
    await seed_world(pool, rollups=True)
    await pages.sign_in("alice")
    html = await pages.html(f"/orgs/{ORG}", WORLD_QUERY)
    cycle = (await pages.api("/api/metrics/cycle-time", API_WORLD))["result"]["cycle_time"]
    dora = (await pages.api("/api/metrics/dora", API_WORLD))["result"]
    builds = (await pages.api("/api/metrics/build-success", API_WORLD))["result"]
    assert f">{fmt(cycle['value'], 'h')}</a>" in html
    assert f">{fmt(dora['lead_time']['value'], 'hours')}</a>" in html
    assert f">{fmt(builds['value'], '%')}</a>" in html
    # Every figure links to its explanation with the same filters.
    links = re.findall(r'href="(/orgs/\d+/explain/[a-z_]+\?[^"]+)"', html)
    keys = {re.search(r"/explain/([a-z_]+)", link).group(1) for link in links}
    assert {"deployment_frequency", "lead_time", "change_failure_rate", "time_to_restore", "cycle_time",
            "stage_pickup", "stage_deploy", "stage_time_to_first_review", "unreviewed", "prs_merged",
            "build_success", "review_load"} <= keys
    assert all("period=custom" in link and "from=2024-01-01" in link for link in links)
    # Charts are SVG with a title, and carry a table of the same numbers.
    assert html.count('<svg class="chart"') >= 3 and "<title id=" in html
    # The lead-time trend carries DORA's elite band (a day); the stage chart, a different
    # measure, carries none.
    assert "Table of the numbers" in html and "Lead time for changes</" in html
    assert html.count("DORA elite: under a day") >= 1
    assert "Merged without review" not in html  # the figure's title is on its explanation page
    unreviewed = await pages.html(f"/orgs/{ORG}/explain/unreviewed", WORLD_QUERY)
    assert "Merged without review" in unreviewed
    assert "<script>" not in html and "style=" not in html


async def test_explanation_lists_the_items_behind_a_figure(pages, pool) -> None:
    await seed_world(pool, rollups=True)
    await pages.sign_in("alice")
    html = await pages.html(f"/orgs/{ORG}/explain/cycle_time", WORLD_QUERY)
    pr7 = payloads.pr_id(payloads.REPO_API_ID, 7)
    assert f'href="/orgs/{ORG}/pulls/{pr7}"' in html
    assert "PR cycle time" in html and "Left out, and why" in html
    assert (await pages.client.get(f"/orgs/{ORG}/explain/nonsense")).status == 404
    # Deployment frequency: the tile's per-week figure too, and each deployment links to its page.
    deployments = await pages.html(f"/orgs/{ORG}/explain/deployment_frequency", WORLD_QUERY)
    assert "deployment days per week" in deployments
    assert f'href="/orgs/{ORG}/deployments/' in deployments


async def test_filters_and_tenancy(pages, pool) -> None:
    await seed_world(pool, rollups=True)
    await pages.sign_in("alice")
    repo = payloads.REPO_WEB_ID
    html = await pages.html(f"/orgs/{ORG}", {**WORLD_QUERY, "repository": str(repo)})
    assert f'<option value="{repo}" selected>' in html
    assert f"repository={repo}" in html  # carried into explanation links
    for period in ("7", "30", "90"):
        assert f'value="{period}" checked' in await pages.html(f"/orgs/{ORG}", {"period": period})
    await pages.html(f"/orgs/{ORG}", {"period": "12"}, status=400)
    # The filter forms submitted with their defaults send blank fields: one redirect drops them.
    blank = {"period": "30", "repository": "", "team": " "}
    response = await pages.client.get(f"/orgs/{ORG}", params=blank, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == f"/orgs/{ORG}?period=30"
    response = await pages.client.get(f"/orgs/{ORG}/pulls", params={"state": "", "author": "", "risk": "",
                                                                  "repository": ""})
    assert response.status == 200 and str(response.url).endswith(f"/orgs/{ORG}/pulls")
    # An installation alice may not see, and another installation's repository: 404, as HTML.
    other = await pages.html(f"/orgs/{payloads.SOLO_INSTALLATION_ID}", status=404)
    assert "Not found" in other and "<html" in other
    await pages.html(f"/orgs/{ORG}", {"repository": "999999"}, status=404)


async def test_security_headers(pages, pool) -> None:
    await seed_world(pool)
    await pages.sign_in("alice")
    response = await pages.client.get(f"/orgs/{ORG}")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
