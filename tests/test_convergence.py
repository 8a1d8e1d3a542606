"""Every real payload shape is handled, and any delivery order converges to the same rows."""

from __future__ import annotations

import random

import payloads
import pytest
from conftest import deliver

# Our own bookkeeping columns differ between runs by nature.
VOLATILE_COLUMNS = {"created_at", "updated_at"}
# GitHub does not date deletions, removals or revocations: we record when the delivery arrived,
# so compare the fact only.
OBSERVED_AT_COLUMNS = {"deleted_at", "removed_at", "app_revoked_at"}
ENTITY_TABLES = [
    "organizations", "installations", "users", "memberships", "teams", "team_members",
    "repositories", "commits", "pull_requests", "pull_request_events", "pull_request_reviews",
    "pull_request_review_comments", "issues", "milestones", "workflow_runs", "deployments",
    "deployment_statuses", "check_suites", "check_runs",
]


async def snapshot(pool) -> dict[str, list[tuple]]:
    tables = {}
    for table in ENTITY_TABLES:
        rows = await pool.fetch(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
        tables[table] = sorted(
            (tuple((k, v is not None if k in OBSERVED_AT_COLUMNS else v)
                   for k, v in dict(r).items() if k not in VOLATILE_COLUMNS) for r in rows),
            key=repr,
        )
    return tables


async def reset(pool) -> None:
    await pool.execute("TRUNCATE " + ", ".join([*ENTITY_TABLES, "webhook_deliveries"]))


async def deliver_all(pool, samples) -> dict[str, str | None]:
    statuses = {}
    for index, (event, label, payload) in enumerate(samples):
        statuses[f"{event}/{label}"] = await deliver(pool, event, payload,
                                                     delivery_id=f"{event}-{label}-{index}")
    return statuses


async def test_every_sample_is_processed_or_ignored_never_failed(pool) -> None:
    statuses = await deliver_all(pool, [s for s in payloads.ALL_SAMPLES if s[0] != "ping"])
    failed = {k: v for k, v in statuses.items() if v not in {"processed", "ignored"}}
    assert not failed
    errors = await pool.fetch("SELECT delivery_id, last_error FROM webhook_deliveries "
                              "WHERE last_error IS NOT NULL")
    assert not errors


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_shuffled_replay_converges_to_the_same_rows(pool, seed: int) -> None:
    samples = [s for s in payloads.ALL_SAMPLES if s[0] != "ping"]
    await deliver_all(pool, samples)
    in_order = await snapshot(pool)
    assert in_order["pull_requests"] and in_order["commits"]
    await reset(pool)
    shuffled = list(samples)
    random.Random(seed).shuffle(shuffled)
    await deliver_all(pool, shuffled)
    # ...and replaying everything again on top changes nothing.
    await deliver_all(pool, list(reversed(shuffled)))
    after = await snapshot(pool)
    for table in ENTITY_TABLES:
        assert after[table] == in_order[table], describe_difference(table, in_order, after)


def describe_difference(table: str, expected: dict, actual: dict) -> str:
    """Name the rows and columns that differ, instead of two walls of tuples."""
    lines = [table]
    for want, got in zip(expected[table], actual[table], strict=False):
        if want != got:
            changed = [(k, v, dict(got).get(k)) for k, v in want if dict(got).get(k) != v]
            lines.append(f"{want[0]}: " + "; ".join(f"{k}: {v!r} != {g!r}" for k, v, g in changed))
    if len(expected[table]) != len(actual[table]):
        lines.append(f"row count {len(expected[table])} != {len(actual[table])}")
    return "\n".join(lines)
