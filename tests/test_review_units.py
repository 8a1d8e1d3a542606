"""The review's pieces without a worker: config parsing, escaping, GitHub's check-run limits
(enforced by the fake GitHub over HTTP), triggers and the diff hash."""

from __future__ import annotations

import copy
import time

import aiohttp
import payloads
from gidgethub.aiohttp import GitHubAPI

from devmetrics_app.ai.files import PrFile
from devmetrics_app.review import checks, ledger, pauses, render, triggers
from devmetrics_app.review.config import ReviewConfig, organization_defaults, parse_repository_config
from devmetrics_app.review.result import ReviewResult

FULL = payloads.REPO_API["full_name"]
TOKEN = "ghs_reviewunits"


def test_config_defaults_org_and_repository() -> None:
    org = organization_defaults({"ai_review": {"risk_threshold": 60, "exclude": {"labels": ["no-ai"]}}})
    cfg = parse_repository_config("blocking: true\nexclude:\n  paths: [docs/, '*.snap']\n", org)
    assert (cfg.risk_threshold, cfg.blocking, cfg.exclude_labels) == (60, True, ("no-ai",))
    assert cfg.path_excluded("docs/a.md") and cfg.path_excluded("x/y/z.snap")
    assert not cfg.path_excluded("src/docs.py")
    assert cfg.excluded_label(["bug", "No-AI"]) == "No-AI"


def test_invalid_yaml_and_values_fall_back_with_a_note() -> None:
    broken = parse_repository_config("enabled: [\n", ReviewConfig())
    assert broken.enabled and broken.risk_threshold == 70
    assert "not valid YAML" in broken.notes[0]
    odd = parse_repository_config("risk_threshold: 900\nenabled: maybe\nfoo: 1\n", ReviewConfig())
    assert odd.risk_threshold == 70 and odd.enabled and len(odd.notes) == 3


def test_user_text_is_inert_markdown() -> None:
    assert "@<!-- -->octocat" in render.md("ping @octocat")
    assert "<img" not in render.md("<img src=x>")
    assert "://" not in render.md("see https://evil.example")
    assert render.code("a`b") == "``a`b``"
    long = "line\n" * 20_000
    fitted = render.fit("<details>\n" + long)
    assert len(fitted) <= 65_535 and fitted.rstrip().endswith("</details>")


def test_triggers() -> None:
    pr = payloads.pull_request(7)
    name, kwargs = triggers.for_pull_request(payloads.pull_request_event("synchronize", pr))
    assert name == "request_analysis" and kwargs["head_sha"] == pr["head"]["sha"]
    assert triggers.for_pull_request(payloads.pull_request_event("labeled", pr)) is None
    run = payloads.check_run("DevMetrics risk", pr=pr)
    other = payloads.check_run_event("requested_action", run, identifier="other")
    assert triggers.for_check_run(other) is None
    assert triggers.for_check_run(payloads.check_run_event("rerequested", payloads.check_run("CI"))) is None
    _, kw = triggers.for_check_run(payloads.check_run_event("requested_action", run, identifier="reanalyse"))
    assert kw["reason"] == "button" and kw["pull_request_numbers"] == [7]
    assert len(triggers.REANALYSE_IDENTIFIER) <= 20


def test_diff_hash_ignores_the_commit_but_not_the_change() -> None:
    a = [PrFile("a.py", patch="@@ -1 +1 @@\n+x"), PrFile("b.py", patch="@@ -1 +1 @@\n+y")]
    assert ledger.diff_hash(a) == ledger.diff_hash(list(reversed(a)))
    assert ledger.diff_hash(a) != ledger.diff_hash([a[0], PrFile("b.py", patch="@@ -1 +1 @@\n+z")])


def _result(annotations: int) -> ReviewResult:
    return ReviewResult(
        score=72, floor_score=40, source="model", complexity="high", review_minutes=25, summary="ok",
        findings=[{"category": "bug", "severity": "medium", "file": "a.py", "start_line": 1, "end_line": 1,
                   "title": "t", "explanation": "e", "suggestion": ""}],
        floor_reasons=[], coverage={"reviewed": ["a.py"], "clipped": [], "skipped": [], "partial": False,
                                    "share_reviewed": 1.0, "budget_tokens": 30000},
        unicode_locations=[f"a.py:{i}" for i in range(1, annotations)])


async def test_annotations_are_batched_within_githubs_limits(fake_github) -> None:
    state, base_url = fake_github
    state.repositories[FULL] = copy.deepcopy(payloads.REPO_API)
    state.repository_installation[FULL] = 4242
    state.tokens[TOKEN] = {"installation_id": 4242, "expires_at": time.time() + 3600}
    async with aiohttp.ClientSession() as session:
        gh = GitHubAPI(session, "test", oauth_token=TOKEN, base_url=base_url)
        run_id = await checks.create(gh, FULL, head_sha="a" * 40, external_id=1)
        await checks.start(gh, FULL, run_id)
        await checks.complete(gh, FULL, run_id, _result(120), head_sha="a" * 40, external_id=1,
                              blocking=True)
        # One request over the limit is refused, as GitHub does.
        too_many = {"output": {"title": "x", "summary": "y", "annotations": [
            {"path": "a.py", "start_line": 1, "end_line": 1, "annotation_level": "notice",
             "message": "m"}] * 51}}
        status = None
        try:
            await gh.patch(f"/repos/{FULL}/check-runs/{run_id}", data=too_many)
        except Exception as exc:  # gidgethub raises on 422
            status = getattr(exc, "status_code", None)
    [run] = state.check_runs[FULL]
    assert len(run["annotations"]) == 120 and run["conclusion"] == "failure"  # 72 is high; blocking
    patches = state.requests_to("PATCH", f"/repos/{FULL}/check-runs/{run_id}")
    assert [len(p.body["output"].get("annotations") or []) for p in patches[:4]] == [0, 50, 50, 20]
    assert status == 422
    assert run["output"]["title"] == "Risk 72/100 · high · ~25 min review"


async def test_billing_pause_backs_off_probes_once_and_resumes(pool, database_url) -> None:
    assert await pauses.check(pool, 77) is None  # nothing paused: call
    assert await pauses.refused(pool, 77, "credit_balance", "HTTP 400: credit balance too low")
    first = await pauses.check(pool, 77)
    assert first is not None and first.reason == "credit_balance"
    assert not await pauses.refused(pool, 77, "credit_balance", "again")  # one pause, told once
    waits = await pool.fetchrow(
        "SELECT refusals, extract(epoch FROM probe_after - now()) AS wait FROM ai_pauses")
    assert waits["refusals"] == 2 and 1700 < waits["wait"] <= pauses.PROBE_FIRST_SECONDS * 2
    await pool.execute("UPDATE ai_pauses SET probe_after = now() - interval '1 second'")
    assert await pauses.check(pool, 77) is None  # this caller is the probe...
    assert await pauses.check(pool, 77) is not None  # ...and the only one
    assert await pauses.resume(database_url, 77)
    assert await pauses.check(pool, 77) is None and not await pauses.resume(database_url, 77)
