"""DELIVERY_RETENTION_DAYS: old processed bodies are emptied; rows, and unfinished bodies, stay."""

from __future__ import annotations

import payloads
from conftest import deliver

from devmetrics_app.store.retention import prune_bodies


async def test_prune_empties_only_old_processed_bodies(pool) -> None:
    event = payloads.pull_request_event("opened", payloads.pull_request(1, repo=payloads.REPO_API))
    for delivery_id in ("old", "recent"):
        assert await deliver(pool, "pull_request", event, delivery_id=delivery_id) == "processed"
    assert await deliver(pool, "star", {"action": "created"}, delivery_id="old-ignored") == "ignored"
    await pool.execute("""INSERT INTO webhook_deliveries (delivery_id, event, body, received_at)
                          VALUES ('pending', 'push', '{}', now() - interval '90 days')""")
    await pool.execute("""UPDATE webhook_deliveries SET processed_at = now() - interval '31 days'
                          WHERE delivery_id IN ('old', 'old-ignored')""")

    assert await prune_bodies(pool, days=30, batch=1) == 2  # batches until none is left
    sizes = dict(await pool.fetch(
        "SELECT delivery_id, octet_length(body) FROM webhook_deliveries ORDER BY delivery_id"))
    assert sizes["old"] == sizes["old-ignored"] == 0
    assert sizes["recent"] > 0 and sizes["pending"] > 0
    assert await prune_bodies(pool, days=30) == 0
    # The emptied row still stops a late duplicate from being processed again.
    assert await deliver(pool, "pull_request", event, delivery_id="old") is None
