"""Pages a manager reads closely: a pull request's timeline and AI insights, in words a person
reads (each moment once, oldest first; coverage as sentences and file lists)."""

from __future__ import annotations

import re

import payloads
from test_pages_support import ORG, pages_fixture, seed_world  # noqa: F401

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
