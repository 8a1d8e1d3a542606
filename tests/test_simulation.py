"""The simulated organisation: deterministic, realistic, and accepted by the real app."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
from conftest import post_webhook, wait_for

from devmetrics_app.simulation import INSTALLATION_ID, generate_org, write_jsonl

NOW = datetime(2026, 3, 6, 15, 30, tzinfo=UTC)


def test_same_seed_same_deliveries_other_seed_other_deliveries() -> None:
    first = generate_org(seed=7, scale=0.2, now=NOW)
    again = generate_org(seed=7, scale=0.2, now=NOW)
    other = generate_org(seed=8, scale=0.2, now=NOW)
    assert write_jsonl(first) == write_jsonl(again)
    assert write_jsonl(first) != write_jsonl(other)
    assert len({d.delivery_id for d in first}) == len(first)


def test_scale_sets_the_volume() -> None:
    demo = generate_org(seed=1, scale=0.2, now=NOW)
    full = generate_org(seed=1, scale=1.0, now=NOW)
    assert 800 <= len(demo) <= 1600
    assert len(full) >= 5000


def test_the_organisation_looks_like_a_real_one() -> None:
    deliveries = generate_org(seed=1, scale=0.5, now=NOW)
    events = Counter(d.event for d in deliveries)
    assert deliveries[0].event == "installation"
    for needed in ("push", "pull_request", "pull_request_review", "workflow_run", "check_suite",
                   "deployment", "deployment_status", "issues", "milestone"):
        assert events[needed] > 0, needed
    times = [_when(d.payload) for d in deliveries if _when(d.payload) is not None]
    assert times == sorted(times), "deliveries come in the order things happened"
    assert max(times) <= NOW and min(times) >= NOW - timedelta(weeks=7)
    payloads = [d.payload for d in deliveries]
    prs = [p["pull_request"] for p in payloads if "pull_request" in p and p.get("number")]
    assert any(pr["user"]["login"] == "dependabot[bot]" for pr in prs)
    assert any(pr["state"] == "open" for pr in prs[-20:]), "the latest work is still open"
    reverts = [pr for pr in prs if pr["title"].startswith('Revert "') and pr["merged"]]
    assert reverts and all(re.fullmatch(r"Reverts northwind/\w+#\d+", pr["body"]) for pr in reverts)
    states = Counter(p["deployment_status"]["state"] for p in payloads if "deployment_status" in p)
    assert states["success"] > states["failure"] > 0
    reviews = Counter(p["review"]["state"] for p in payloads if "review" in p)
    assert reviews["approved"] > reviews["changes_requested"] > 0
    merge_pushes = [p for p in payloads if "pusher" in p and p["ref"] == "refs/heads/main"]
    assert all(p["head_commit"]["committer"]["username"] == "web-flow" for p in merge_pushes)
    labels = {label["name"] for p in payloads if "issue" in p for label in p["issue"]["labels"]}
    assert "incident" in labels and any(name.startswith("points: ") for name in labels)
    assert all(p["installation"]["id"] == INSTALLATION_ID for p in payloads)


def test_jsonl_lines_are_whole_deliveries() -> None:
    deliveries = generate_org(seed=2, scale=0.05, now=NOW, weeks=1)
    lines = write_jsonl(deliveries).splitlines()
    assert len(lines) == len(deliveries)
    first = json.loads(lines[0])
    assert set(first) == {"event", "delivery_id", "payload"}
    assert first["payload"] == deliveries[0].payload


async def test_the_real_app_processes_every_delivery(client, pool, worker) -> None:
    deliveries = generate_org(seed=3, scale=0.1, now=datetime.now(UTC), weeks=2)
    for delivery in deliveries:
        response = await post_webhook(client, delivery.event, delivery.payload,
                                      delivery_id=delivery.delivery_id)
        assert response.status == 202, await response.text()

    async def settled() -> bool:
        left = await pool.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'received'")
        return left == 0

    await wait_for(settled, timeout=180)
    counts = dict(await pool.fetch("SELECT status, count(*) FROM webhook_deliveries GROUP BY status"))
    assert counts.get("failed", 0) == 0 and sum(counts.values()) == len(deliveries)
    errors = await pool.fetch("SELECT event, last_error FROM webhook_deliveries WHERE last_error IS NOT NULL")
    assert not errors, errors[:3]
    merged = await pool.fetchval("SELECT count(*) FROM pull_requests WHERE merged_at IS NOT NULL")
    deployed = await pool.fetchval("SELECT count(*) FROM deployments")
    assert merged > 0 and deployed > 0
    assert orjson.loads(orjson.dumps(deliveries[0].payload))  # plain JSON all the way


def _when(payload: dict) -> datetime | None:
    """The moment a delivery reports, where its payload says it unambiguously."""
    for key, field in (("review", "submitted_at"), ("deployment_status", "created_at"),
                       ("workflow_run", "updated_at"), ("pull_request", "updated_at")):
        if (payload.get(key) or {}).get(field):
            return datetime.fromisoformat(payload[key][field].replace("Z", "+00:00"))
    return None
