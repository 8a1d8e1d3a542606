"""Dispatch, failure bookkeeping, retries, the sweeper's lease, migrations and replay."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path

import asyncpg
import orjson
import payloads
from conftest import deliver, with_database
from gidgethub.routing import Router

from devmetrics_app.db import load_migrations, migrate
from devmetrics_app.events.dispatch import retry_delay
from devmetrics_app.jobs.sweeper import sweep_once
from devmetrics_app.logs import JsonFormatter
from devmetrics_app.replay import ReplayError, load_delivery


def failing_router(exc: Exception) -> Router:
    router = Router()

    @router.register("pull_request")
    async def explode(event, ctx) -> None:
        await ctx.conn.execute("INSERT INTO users (id, login) VALUES (1, 'partial')")
        raise exc

    return router


async def delivery(pool, delivery_id: str):
    return await pool.fetchrow("SELECT * FROM webhook_deliveries WHERE delivery_id = $1",
                               delivery_id)


async def test_handler_failure_is_recorded_and_rolled_back(pool) -> None:
    payload = payloads.pull_request_event("opened", payloads.pull_request(1, repo=payloads.REPO_API))
    status = await deliver(pool, "pull_request", payload, delivery_id="boom",
                           router=failing_router(RuntimeError("database said no")))
    assert status == "retrying"
    row = await delivery(pool, "boom")
    assert row["status"] == "received"
    assert row["attempts"] == 1
    assert "RuntimeError: database said no" in row["last_error"]
    assert row["next_attempt_at"] is not None
    # The handler's partial write was rolled back with it.
    assert await pool.fetchval("SELECT count(*) FROM users") == 0


async def test_gives_up_after_max_attempts_and_a_redelivery_rearms(pool) -> None:
    payload = payloads.pull_request_event("opened", payloads.pull_request(1, repo=payloads.REPO_API))
    router = failing_router(RuntimeError("still broken"))
    statuses = []
    for _ in range(3):  # deliver() processes with max_attempts=3
        await pool.execute("UPDATE webhook_deliveries SET next_attempt_at = NULL")
        statuses.append(await deliver(pool, "pull_request", payload, delivery_id="dead",
                                      router=router))
    assert statuses == ["retrying", "retrying", "failed"]
    assert (await delivery(pool, "dead"))["status"] == "failed"
    # GitHub's "Redeliver" keeps the delivery id: a failed delivery is tried afresh.
    assert await deliver(pool, "pull_request", payload, delivery_id="dead") == "processed"
    assert (await delivery(pool, "dead"))["attempts"] == 1


async def test_unprocessable_payloads_fail_without_retry(pool) -> None:
    no_installation = payloads.pull_request_event("opened", payloads.pull_request(1))
    no_installation.pop("installation")
    assert await deliver(pool, "pull_request", no_installation, delivery_id="orphan") == "failed"
    assert "names no installation" in (await delivery(pool, "orphan"))["last_error"]


async def test_unknown_events_are_ignored(pool) -> None:
    assert await deliver(pool, "star", {"action": "created", "installation": {"id": 1}}) == "ignored"


def test_retry_delay_backs_off_with_a_cap() -> None:
    delays = [retry_delay(n).total_seconds() for n in range(1, 12)]
    assert delays[:3] == [30, 60, 120]
    assert delays == sorted(delays) and max(delays) == 3600


async def test_sweeper_leases_overdue_deliveries_once(pool) -> None:
    await pool.execute(
        """INSERT INTO webhook_deliveries (delivery_id, event, body, received_at, status)
           VALUES ('old', 'push', '{}', now() - interval '10 minutes', 'received'),
                  ('fresh', 'push', '{}', now(), 'received'),
                  ('done', 'push', '{}', now() - interval '10 minutes', 'processed'),
                  ('later', 'push', '{}', now() - interval '10 minutes', 'received')""")
    await pool.execute("UPDATE webhook_deliveries SET next_attempt_at = now() + interval '1 hour' "
                       "WHERE delivery_id = 'later'")
    enqueued: list[list[str]] = []
    assert await sweep_once(pool, enqueued.append, grace_seconds=60) == 1
    assert enqueued == [["old"]]
    # Leased: a second sweep right away (say, by another worker) does not enqueue it again.
    assert await sweep_once(pool, enqueued.append, grace_seconds=60) == 0


async def test_concurrent_processing_of_one_delivery_happens_once(pool) -> None:
    calls = []
    router = Router()

    @router.register("pull_request")
    async def slow(event, ctx) -> None:
        calls.append(1)
        await asyncio.sleep(0.2)

    payload = payloads.pull_request_event("opened", payloads.pull_request(1, repo=payloads.REPO_API))
    await deliver(pool, "push", {}, delivery_id="warmup")
    results = await asyncio.gather(*(deliver(pool, "pull_request", payload, delivery_id="same",
                                             router=router) for _ in range(3)))
    assert sorted(results, key=str) == [None, None, "processed"]
    assert calls == [1]


async def test_migrations_apply_once(pool) -> None:
    async with pool.acquire() as conn:
        assert await migrate(conn) == []
    names = [r["name"] for r in await pool.fetch("SELECT name FROM schema_migrations")]
    assert names == [m.name for m in load_migrations()]


async def test_migrations_on_an_empty_database_then_again(database_url: str) -> None:
    admin = await asyncpg.connect(database_url)
    await admin.execute("DROP DATABASE IF EXISTS devmetrics_migrate_test")
    await admin.execute("CREATE DATABASE devmetrics_migrate_test")
    try:
        conn = await asyncpg.connect(with_database(database_url, "devmetrics_migrate_test"))
        first, second = await migrate(conn), await migrate(conn)
        await conn.close()
        assert first == [m.name for m in load_migrations()] and second == []
    finally:
        await admin.execute("DROP DATABASE devmetrics_migrate_test WITH (FORCE)")
        await admin.close()


def test_replay_file_formats(tmp_path: Path) -> None:
    payload = payloads.pull_request_event("opened", payloads.pull_request(1, repo=payloads.REPO_API))
    bare = tmp_path / "bare.json"
    bare.write_bytes(orjson.dumps(payload))
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_bytes(orjson.dumps({"event": "pull_request", "payload": payload,
                                      "delivery_id": "abc"}))
    api = tmp_path / "api.json"
    api.write_bytes(orjson.dumps({"guid": "g-1", "event": "pull_request",
                                  "request": {"headers": {"X-GitHub-Event": "pull_request"},
                                              "payload": payload}}))
    assert load_delivery(bare, event="pull_request").installation_id == 4242
    assert load_delivery(wrapped).delivery_id == "abc"
    assert load_delivery(api).delivery_id == "g-1"
    # No id in the file: the content names it, so replaying a file twice is a duplicate.
    assert load_delivery(bare, event="pull_request").delivery_id == load_delivery(
        bare, event="pull_request").delivery_id
    for bad, message in ((bare, "pass --event"), (tmp_path / "missing.json", "cannot read")):
        try:
            load_delivery(bad)
        except ReplayError as exc:
            assert message in str(exc)
        else:
            raise AssertionError("expected ReplayError")


def test_json_logs_carry_the_delivery_id() -> None:
    from devmetrics_app.logs import delivery_id_var

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("devmetrics.test.json")
    logger.addHandler(handler)
    logger.propagate = False
    token = delivery_id_var.set("d-42")
    try:
        logger.warning("handled", extra={"event": "push"})
    finally:
        delivery_id_var.reset(token)
    entry = json.loads(stream.getvalue())
    assert entry["delivery_id"] == "d-42"
    assert entry["event"] == "push" and entry["message"] == "handled"


async def test_dispatch_hands_each_fresh_delivery_out_once(pool) -> None:
    import asyncio as aio

    from devmetrics_app.jobs.dispatcher import dispatch_fresh

    for n in range(5):
        await deliver_only(pool, f"fresh-{n}")
    await pool.execute("UPDATE webhook_deliveries SET next_attempt_at = now() + interval '1 h' "
                       "WHERE delivery_id = 'fresh-4'")  # a failed one waiting for its retry
    enqueued: list[str] = []
    async with pool.acquire() as a, pool.acquire() as b:
        counts = await aio.gather(dispatch_fresh(a, enqueued.extend, lease_seconds=60),
                                  dispatch_fresh(b, enqueued.extend, lease_seconds=60))
    assert sum(counts) == 4
    assert sorted(enqueued) == [f"fresh-{n}" for n in range(4)]


async def deliver_only(pool, delivery_id: str) -> None:
    from devmetrics_app.store.deliveries import IncomingDelivery, insert_batch

    async with pool.acquire() as conn:
        await insert_batch(conn, [IncomingDelivery(delivery_id, "push", None, 1, None,
                                                   "application/json", b"{}")])
