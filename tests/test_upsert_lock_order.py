"""Deliveries that name the same people in opposite roles, processed concurrently, never
deadlock: every delivery locks its repositories and people in one global order first."""

from __future__ import annotations

import asyncio

import payloads
from conftest import deliver

from devmetrics_app.store.lock_order import ACCOUNT_SPACE, REPOSITORY_SPACE, lock_keys

PAIRS = 12


def crossed_reviews(index: int) -> list[dict]:
    """Two review deliveries in two repositories: A's PR reviewed by B, and B's by A."""
    first = payloads.user(f"dev{index}a", 50_000 + 2 * index)
    second = payloads.user(f"dev{index}b", 50_001 + 2 * index)
    out = []
    for offset, (author, reviewer) in enumerate(((first, second), (second, first))):
        repo = payloads.repository(id=70_000 + 2 * index + offset, name=f"svc{index}-{offset}")
        pr = payloads.pull_request(index + 1, repo=repo, user=author, created_at=payloads.at(0),
                                   updated_at=payloads.at(60))
        rev = payloads.review(pr, user=reviewer, submitted_at=payloads.at(120))
        out.append(payloads.pull_request_review_event("submitted", pr, rev))
    return out


def test_lock_keys_are_sorted_people_and_repositories_only():
    (event, _) = crossed_reviews(0)
    keys = lock_keys(event)
    assert keys == sorted(keys)
    assert {k for k in keys if k >= ACCOUNT_SPACE} == {ACCOUNT_SPACE + 50_000, ACCOUNT_SPACE + 50_001}
    assert {k - REPOSITORY_SPACE for k in keys if k < ACCOUNT_SPACE} == {70_000}
    assert payloads.ORG_ID + ACCOUNT_SPACE not in keys  # the organisation would serialise everything


async def test_opposite_order_batches_do_not_deadlock(pool):
    events = [event for index in range(PAIRS) for event in crossed_reviews(index)]
    for _ in range(3):  # new rows first, then existing rows: both used to deadlock
        statuses = await asyncio.gather(*(deliver(pool, "pull_request_review", e) for e in events))
        assert statuses == ["processed"] * len(events)
    errors = await pool.fetch("SELECT last_error FROM webhook_deliveries WHERE last_error IS NOT NULL")
    assert errors == []
    assert await pool.fetchval("SELECT count(*) FROM pull_request_reviews") == len(events)


def test_an_imported_page_locks_its_repository_and_people_like_a_delivery():
    (event, _) = crossed_reviews(1)
    page = [(event["pull_request"], [event["review"]])]  # what write_pull_requests gets
    keys = lock_keys(page, [70_002])
    assert keys == sorted(set(keys))
    assert REPOSITORY_SPACE + 70_002 in keys
    assert {k - ACCOUNT_SPACE for k in keys if k >= ACCOUNT_SPACE} == {50_002, 50_003}
