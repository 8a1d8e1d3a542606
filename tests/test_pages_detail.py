"""Pages a manager reads closely: a pull request's timeline and AI insights, in words a person
reads (each moment once, oldest first; coverage as sentences and file lists)."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import payloads
from api_support import set_role
from fakes.github.state import InjectedFailure
from test_pages_support import ORG, WORLD_QUERY, pages_fixture, seed_world  # noqa: F401

from devmetrics_app.web.dashboard.figures import FIGURES, LISTED_SUBSET, change

PR7 = payloads.pr_id(payloads.REPO_API_ID, 7)

COVERAGE = {"reviewed": ["api/db.py", "api/views.py"], "clipped": ["api/big.py"],
            "skipped": [["package-lock.json", "generated"], ["logo.png", "binary"]],
            "share_reviewed": 0.8, "partial": True, "input_tokens_estimate": 900, "budget_tokens": 1000,
            "notes": ["Large diff: 2 files skipped"], "injection": {"flagged": False},
            "unicode_locations": []}


async def _add_review(pool, coverage: dict) -> None:
    await pool.execute(
        """INSERT INTO ai_reviews (installation_id, repository_id, pull_request_id, head_sha, diff_hash,
               prompt_version, status, source, risk_score, floor_score, findings, coverage, cost_usd)
           SELECT installation_id, repository_id, id, head_sha, 'd', 'v1', 'completed', 'model', 72, 10,
                  $2::jsonb, $3::jsonb, 0.01 FROM pull_requests WHERE id = $1""",
        PR7, [{"file": "api/db.py", "start_line": 12, "severity": "high",
               "title": "SQL built from input", "explanation": "Use parameters."}], coverage)


def _timeline(html: str) -> list[tuple[str, str]]:
    section = html[html.index('id="timeline-h"'):]
    section = section[:section.index("</ol>")]
    return re.findall(r'<time datetime="([^"]+)">[^<]*</time> ([^<]+)</li>', section)


async def test_pull_request_timeline_once_and_in_order(pages, pool) -> None:
    await seed_world(pool)
    await pages.sign_in("alice")
    html = await pages.html(f"/orgs/{ORG}/pulls/{PR7}")
    entries = _timeline(html)
    texts = [text.strip() for _, text in entries]
    assert texts.count("opened") == 1 and texts.count("merged") == 1, texts
    assert [at for at, _ in entries] == sorted(at for at, _ in entries)
    assert texts[0] == "opened" and texts[-1] == "merged"
    assert any(t.startswith("review requested from ") for t in texts)
    assert "review_requested" not in html and "user:" not in "".join(texts)
    assert " 1 files" not in html


async def test_ai_insights_are_rendered_for_people(pages, pool) -> None:
    await seed_world(pool)
    await pages.sign_in("alice")
    await _add_review(pool, COVERAGE)
    html = await pages.html(f"/orgs/{ORG}/pulls/{PR7}")
    summary = "Partial review:</strong> 2 files reviewed, 80% of the changed lines; 1 clipped; 2 skipped."
    assert summary in html
    assert "<li><code>api/big.py</code></li>" in html
    assert "<li><code>package-lock.json</code> — generated</li>" in html
    assert "<li>Large diff: 2 files skipped</li>" in html
    assert "api/db.py:12" in html and "Use parameters." in html
    for raw in ("[[", "False", "partial False", "{'", "&#39;"):
        assert raw not in html[html.index('id="ai-h"'):html.index('id="timeline-h"')], raw
    # An older row's coverage of another shape still renders, as text.
    await pool.execute("DELETE FROM ai_reviews")
    await _add_review(pool, {"files": 4, "reviewed": 3, "skipped": ["x.bin"]})
    html = await pages.html(f"/orgs/{ORG}/pulls/{PR7}")
    assert "<li><code>x.bin</code></li>" in html


async def test_overview_reads_as_a_manager_expects(pages, pool) -> None:
    await seed_world(pool, rollups=True)
    await pages.sign_in("alice")
    html = await pages.html(f"/orgs/{ORG}", WORLD_QUERY)
    tiles = {key: html[html.index(f'data-key="{key}"'):][:3000].split("</li>\n    <li")[0]
             for key in ("deployment_frequency", "lead_time", "change_failure_rate", "time_to_restore")}
    # One word for deployments; what each count counts; why a figure is blank.
    assert "releases" not in html and "changes</p>" not in html
    # c101, m101 and m104 reached main and were deployed; c104 never left its branch.
    assert "from 1 deployment<" in tiles["deployment_frequency"] and "from 3 commits" in tiles["lead_time"]
    assert "from 0 incidents" in tiles["time_to_restore"]
    assert "nothing to measure in this period" in tiles["time_to_restore"]
    # The thresholds of each DORA bucket, the tile's own one marked.
    assert '<li class="current">Elite: under 1 day</li>' in tiles["lead_time"]
    assert "<li>High: 10% or less</li>" in tiles["change_failure_rate"]
    # More deployments than the (empty) period before: up, and up is good news here.
    frequency = tiles["deployment_frequency"]
    assert 'class="trend-better"' in frequency and "(better)" in frequency
    # Counts read in the singular when there is one, and count axes tick at whole numbers.
    assert "pull request merged," in html and "open review requests right now" in html
    assert "1 pull requests" not in html and "1 merged pull requests" not in html
    assert not re.search(r'class="tick"[^>]*>\d+\.\d</text>', html[html.index('id="throughput-h"'):])
    # A stage with no figure says why: here every merged pull request lacks its first commit.
    await pool.execute("UPDATE pull_request_cycle SET coding = NULL")
    narrowed = await pages.html(f"/orgs/{ORG}", {**WORLD_QUERY, "repository": str(payloads.REPO_API_ID)})
    coding = narrowed[narrowed.index('<th scope="row">Coding</th>'):][:700]
    assert '>\u2013</a> <span class="why">(first commit unknown: 1)</span>' in coding


def test_trend_verdict_follows_the_direction_of_goodness() -> None:
    assert change(10.0, 20.0, "lead_time")["verdict"] == "better"
    assert change(30.0, 20.0, "lead_time")["verdict"] == "worse"
    assert change(2.0, 1.0, "deployment_frequency")["verdict"] == "better"
    assert change(20.0, 20.0, "change_failure_rate")["verdict"] is None


async def test_every_explanation_lists_what_it_says_it_counted(pages, pool) -> None:
    await seed_world(pool, rollups=True)
    await pages.sign_in("alice")
    for key in FIGURES:
        html = await pages.html(f"/orgs/{ORG}/explain/{key}", WORLD_QUERY)
        count = int(re.search(r"<strong data-count>(\d+)</strong>", html).group(1))
        counted = html[html.index('id="items-h"'):html.index('id="excluded-h"')]
        rows = counted.count('<tr><th scope="row">')
        listed = re.search(r"<span data-listed>(\d+)</span>", counted)
        # Every counted item is listed, or the page says which part of them is.
        assert rows == (int(listed.group(1)) if listed else 0), key
        assert rows == count or (key in LISTED_SUBSET and f", of which <strong>{rows}</strong>" in html), key


async def test_change_failures_name_their_cause_and_link_to_the_deployment(pages, pool) -> None:
    await seed_world(pool, rollups=True)
    await pages.sign_in("alice")
    await pool.execute("UPDATE releases SET failed_at = outcome_at, succeeded_at = NULL")
    release = await pool.fetchrow("SELECT source, id, sha FROM releases WHERE installation_id = $1", ORG)
    html = await pages.html(f"/orgs/{ORG}/explain/change_failure_rate", WORLD_QUERY)
    assert release["source"] == "deployment"
    link = f'/orgs/{ORG}/deployments/{release["id"]}'
    row = html[html.index(f'<a href="{link}">'):].split("</tr>")[0]
    assert release["sha"][:12] in row
    assert "<td>failed</td>\n        <td>its deployment status was a failure</td>" in row
    said = "Computed from\n  <strong data-count>1</strong> deployment, of which <strong>1</strong> failed."
    assert said in html
    deployment = await pages.html(link)
    assert release["sha"][:12] in deployment and "acme/" in deployment and "failed at" in deployment
    solo = payloads.SOLO_INSTALLATION_ID
    await pages.html(f"/orgs/{solo}/deployments/{release['id']}", status=404)
    await pages.html(f"/orgs/{ORG}/deploy-runs/{release['id']}", status=404)  # not a run
    await pages.html(f"/orgs/{ORG}/deployments/123456789", status=404)
    await pages.html(f"/orgs/{ORG}/deployments/x", status=404)


async def test_people_say_which_cycle_time_they_show(pages, pool) -> None:
    await seed_world(pool, rollups=True)
    await pages.sign_in("alice")
    await set_role(pool, payloads.ALICE["id"], "MANAGER")
    everyone = await pages.html(f"/orgs/{ORG}/people", WORLD_QUERY)
    assert "Average cycle time" in everyone and "(mean)" in everyone
    alice = await pages.html(f"/orgs/{ORG}/people/{payloads.ALICE['id']}", WORLD_QUERY)
    # Her page names both statistics; the average is the one the People table shows.
    assert "Median cycle time (of 1 pull request)" in alice
    assert "Average cycle time <span class=\"hint\">(the People table's figure)</span></th><td>3.8 h" in alice
    assert re.findall(r">(?:Cycle time)[ <(]", alice) == []  # never an unqualified "Cycle time"


async def test_repositories_show_figures_and_import_trouble(pages, pool) -> None:
    await seed_world(pool, rollups=True)
    await pages.sign_in("alice")
    api, web = payloads.REPO_API_ID, payloads.REPO_WEB_ID
    await pool.execute(
        """INSERT INTO import_cursors (repository_id, kind, installation_id, items, done, error, updated_at)
           VALUES ($1, 'pull_requests', $3, 40, true, NULL, now()),
                  ($1, 'issues', $3, 5, false, 'GitHub answered 502 three times', now() - interval '3 hours'),
                  ($2, 'commits', $3, 7, false, NULL, now() - interval '2 hours')""", api, web, ORG)
    html = await pages.html(f"/orgs/{ORG}/repositories", WORLD_QUERY)
    row = html[html.index(f'/repositories/{api}?'):].split("</tr>")[0]
    assert '<span class="import import-failed">failed</span>' in row
    assert "issues: GitHub answered 502 three times" in row and "1 of 2 kinds, 45 items" in row
    assert '<td data-label="PRs merged">1</td>' in row  # merged in the period, from the rollups
    assert '<span class="import import-stalled">stalled</span>' in html  # no progress for 2 hours
    assert 'role="alert">History import failing or stalled in 2 repositories:' in html
    page = await pages.html(f"/orgs/{ORG}/repositories/{api}", WORLD_QUERY)
    assert not re.search(r'class="tick"[^>]*>\d+\.\d</text>', page)  # merged: a count axis
    assert "failed: GitHub answered 502 three times" in page
    assert '<th scope="row">pull requests</th><td>40</td>' in page


async def test_settings_list_the_organisations_members_for_roles(pages, pool, fake_github) -> None:
    state, _ = fake_github
    await seed_world(pool)
    await pages.sign_in("alice")
    await set_role(pool, payloads.ALICE["id"], "ADMIN")
    state.users["carol"] = dict(payloads.CAROL)
    state.users["bob"] = dict(payloads.BOB)
    state.org_roles[("acme", "carol")] = "member"
    state.org_roles[("acme", "bob")] = "admin"
    html = await pages.html(f"/orgs/{ORG}/settings")
    roles = html[html.index('id="roles-h"'):]
    # Carol never signed in: listed from GitHub, so she can be given a role.
    carol = roles[roles.index('<th scope="row">carol</th>'):].split("</tr>")[0]
    assert "<td>member</td>" in carol and "<option selected>DEVELOPER</option>" in carol
    bob = roles[roles.index('<th scope="row">bob</th>'):].split("</tr>")[0]
    assert "<option selected>ADMIN</option>" in bob
    await pages.post(f"/orgs/{ORG}/settings/members/{payloads.CAROL['id']}", {"role": "MANAGER"})
    html = await pages.html(f"/orgs/{ORG}/settings")
    carol = html[html.index('<th scope="row">carol</th>'):].split("</tr>")[0]
    assert "(role set here)" in carol and "<option selected>MANAGER</option>" in carol
    # The listing went through the installation's token, as GitHub requires.
    assert any("/orgs/acme/members" in str(r) for r in state.requests)


async def test_settings_say_when_github_will_not_list_members(pages, pool, fake_github) -> None:
    state, _ = fake_github
    await seed_world(pool)
    await pages.sign_in("alice")
    await set_role(pool, payloads.ALICE["id"], "ADMIN")
    # The app lacks the Members permission: GitHub answers 403 (no retry-after: not a rate limit).
    refused = InjectedFailure("/orgs/acme/members", 403, body={"message": "Resource not accessible"})
    state.failures.append(refused)
    html = await pages.html(f"/orgs/{ORG}/settings")
    assert "Could not list acme&#39;s members from GitHub" in html and "alice" in html


async def test_inbox_keeps_the_organisation_navigation(pages, pool) -> None:
    await seed_world(pool)
    await pages.sign_in("alice")
    empty = await pages.html("/notifications", {"org": str(ORG)})
    assert f'href="/orgs/{ORG}/pulls"' in empty and f'href="/orgs/{ORG}">Overview</a>' in empty
    # The empty inbox says how notifications come about, and where to set that up.
    assert f'<a href="/orgs/{ORG}/notifications/rules">set one up under Notification rules</a>' in empty
    # Her only organisation's navigation even without ?org=; a foreign or junk org is ignored.
    assert f'href="/orgs/{ORG}/pulls"' in await pages.html("/notifications")
    assert f"/orgs/{payloads.SOLO_INSTALLATION_ID}/" not in await pages.html(
        "/notifications", {"org": str(payloads.SOLO_INSTALLATION_ID)})
    note_id = await pool.fetchval(
        """INSERT INTO notifications (installation_id, user_id, title, body) VALUES ($1, $2, 'Hi', 'x')
           RETURNING id""", ORG, payloads.ALICE["id"])
    response = await pages.post(f"/notifications/{note_id}/read", {"read": "true", "org": str(ORG)})
    assert response.headers["Location"] == f"/notifications?org={ORG}"
    # Pages inside the organisation link to the inbox with it.
    assert f'href="/notifications?org={ORG}"' in await pages.html(f"/orgs/{ORG}/pulls")
    rules = await pages.html(f"/orgs/{ORG}/notifications/rules")
    assert "No rules yet: nobody is notified of anything." in rules and "Ask a manager" in rules


async def test_pull_request_list_sorts_by_size_age_and_cycle_time_and_exports_csv(pages, pool) -> None:
    await seed_world(pool, rollups=True)
    await pages.sign_in("alice")
    await pool.execute("UPDATE pull_requests SET title = '=HYPERLINK(\"x\")' WHERE id = $1", PR7)
    api = (await pages.api("/api/pull-requests"))["items"]
    sizes = {item["id"]: (item["additions"] or 0) + (item["deletions"] or 0) for item in api}

    def order(html: str) -> list[int]:
        return [int(i) for i in re.findall(r'<tr data-pr="(\d+)">', html)]

    html = await pages.html(f"/orgs/{ORG}/pulls", {"sort": "size", "order": "desc"})
    assert order(html) == sorted(sizes, key=lambda i: (-sizes[i], -i))
    assert 'aria-sort="descending"><a href="?sort=size&amp;order=asc">Size' in html
    smallest = await pages.html(f"/orgs/{ORG}/pulls", {"sort": "size", "order": "asc"})
    assert order(smallest) == sorted(sizes, key=lambda i: (sizes[i], i))
    # Cycle time: merged pull requests by their cycle time, the others (no figure) last.
    by_cycle = order(await pages.html(f"/orgs/{ORG}/pulls", {"sort": "cycle_time", "state": "merged"}))
    assert by_cycle[0] == PR7
    row = html[html.index(f'<tr data-pr="{PR7}">'):].split("</tr>")[0]
    assert '<td data-label="Cycle time">3.8 h</td>' in row and '<td data-label="Age">' in row
    await pages.html(f"/orgs/{ORG}/pulls", {"sort": "karma"}, status=400)
    # CSV of the same list, filters and order kept; a title cannot become a spreadsheet formula.
    response = await pages.client.get(f"/orgs/{ORG}/pulls", params={"sort": "size", "format": "csv"})
    assert response.status == 200 and response.content_type == "text/csv"
    assert 'filename="pull-requests.csv"' in response.headers["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(await response.text())))
    assert lines[0][:3] == ["number", "title", "repository"] and len(lines) == len(api) + 1
    seven = next(line for line in lines[1:] if line[0] == "7")
    assert seven[1] == "'=HYPERLINK(\"x\")" and seven[13] == "3.83"
    numbers = [re.search(r">#(\d+) ", html[html.index(f'data-pr="{i}"'):]).group(1) for i in order(html)]
    assert [line[0] for line in lines[1:]] == numbers


async def test_people_and_repositories_download_as_csv(pages, pool) -> None:
    await seed_world(pool, rollups=True)
    await pages.sign_in("alice")
    await set_role(pool, payloads.ALICE["id"], "MANAGER")
    for path, first in ((f"/orgs/{ORG}/people", "login"), (f"/orgs/{ORG}/repositories", "repository")):
        html = await pages.html(path, WORLD_QUERY)
        link = re.search(r'<a href="\?([^"]+format=csv)" download>', html).group(1)
        response = await pages.client.get(path + "?" + unescape(link))
        assert response.status == 200 and response.content_type == "text/csv", path
        lines = list(csv.reader(io.StringIO(await response.text())))
        assert lines[0][0] == first and len(lines) > 1, path
    people = await pages.client.get(f"/orgs/{ORG}/people", params={**WORLD_QUERY, "format": "csv"})
    alice = next(line for line in csv.reader(io.StringIO(await people.text())) if line[0] == "alice")
    assert alice[5] == "3.83"  # her average cycle time, as the table shows it


async def test_explanation_items_download_as_csv(pages, pool) -> None:
    await seed_world(pool, rollups=True)
    await pages.sign_in("alice")
    html = await pages.html(f"/orgs/{ORG}/explain/lead_time", WORLD_QUERY)
    link = re.search(r'<a href="\?([^"]+format=csv)" download>', html).group(1)
    response = await pages.client.get(f"/orgs/{ORG}/explain/lead_time?" + unescape(link))
    lines = list(csv.reader(io.StringIO(await response.text())))
    assert response.content_type == "text/csv" and lines[0][:3] == ["item", "kind", "value"]
    listed = int(re.search(r"<span data-listed>(\d+)</span>", html).group(1))
    # Each commit links to the deployment that first shipped it.
    assert len(re.findall(rf'<a href="/orgs/{ORG}/deployments/\d+">[0-9a-f]{{12}}</a>', html)) == listed
    assert listed > 0 and len(lines) == 1 + listed and {line[1] for line in lines[1:]} == {"commit"}
