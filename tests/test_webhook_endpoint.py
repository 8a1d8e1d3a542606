"""POST /api/webhooks/github over real HTTP against a real database."""

from __future__ import annotations

import asyncio
import gzip
import uuid
import zlib
from urllib.parse import urlencode

import asyncpg
import orjson
from conftest import WEBHOOK_SECRET, post_webhook, signed_headers, wait_for

from devmetrics_app.store import body_codec, delivery_writer, wakeup
from devmetrics_app.store.deliveries import DELIVERY_CHANNEL, IncomingDelivery
from devmetrics_app.store.delivery_writer import DeliveryWriter
from devmetrics_app.web import body_reader

PR_PAYLOAD = {
    "action": "opened",
    "number": 1,
    "installation": {"id": 4242, "node_id": "MDIz"},
    "repository": {"id": 501, "name": "api", "full_name": "acme/api", "owner": {"login": "acme", "id": 9001}},
    "pull_request": {"id": 1, "number": 1},
}


def _delivery(delivery_id: str | None = None, *, installation_id: int = 4242) -> IncomingDelivery:
    return IncomingDelivery(delivery_id=delivery_id or str(uuid.uuid4()), event="push", action=None,
                            installation_id=installation_id, hook_id=1,
                            content_type="application/json", body=b"{}")


async def count_deliveries(pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM webhook_deliveries")


async def test_signed_json_delivery_is_stored_before_202(client, pool) -> None:
    delivery_id = str(uuid.uuid4())
    response = await post_webhook(client, "pull_request", PR_PAYLOAD, delivery_id=delivery_id)
    assert response.status == 202
    assert await response.json() == {"delivery": delivery_id, "duplicate": False}
    row = await pool.fetchrow("SELECT * FROM webhook_deliveries WHERE delivery_id = $1", delivery_id)
    assert row["event"] == "pull_request"
    assert row["action"] == "opened"
    assert row["installation_id"] == 4242
    assert row["hook_id"] == 424242
    assert row["status"] == "received"
    assert orjson.loads(body_codec.decode(row["body"], row["body_encoding"])) == PR_PAYLOAD


async def test_form_encoded_payload_is_accepted(client, pool) -> None:
    body = urlencode({"payload": orjson.dumps(PR_PAYLOAD).decode()}).encode()
    headers = signed_headers("pull_request", body,
                             content_type="application/x-www-form-urlencoded")
    response = await client.post("/api/webhooks/github", data=body, headers=headers)
    assert response.status == 202
    row = await pool.fetchrow("SELECT content_type, installation_id FROM webhook_deliveries")
    assert row["content_type"] == "application/x-www-form-urlencoded"
    assert row["installation_id"] == 4242


async def test_duplicate_delivery_is_acknowledged_and_stored_once(client, pool) -> None:
    delivery_id = str(uuid.uuid4())
    first = await post_webhook(client, "pull_request", PR_PAYLOAD, delivery_id=delivery_id)
    second = await post_webhook(client, "pull_request", PR_PAYLOAD, delivery_id=delivery_id)
    assert first.status == 202 and second.status == 202
    assert (await second.json())["duplicate"] is True
    assert await count_deliveries(pool) == 1


async def test_missing_or_bad_signature_is_401_and_nothing_stored(client, pool) -> None:
    body = orjson.dumps(PR_PAYLOAD)
    headers = signed_headers("pull_request", body)
    unsigned = {k: v for k, v in headers.items() if k != "X-Hub-Signature-256"}
    assert (await client.post("/api/webhooks/github", data=body, headers=unsigned)).status == 401
    wrong = signed_headers("pull_request", body, secret="not-" + WEBHOOK_SECRET)
    assert (await client.post("/api/webhooks/github", data=body, headers=wrong)).status == 401
    tampered = dict(headers)
    response = await client.post("/api/webhooks/github", data=body + b" ", headers=tampered)
    assert response.status == 401
    sha1 = dict(headers, **{"X-Hub-Signature-256": "sha1=" + "0" * 40})
    assert (await client.post("/api/webhooks/github", data=body, headers=sha1)).status == 401
    assert await count_deliveries(pool) == 0


async def test_unsupported_content_type_is_415(client, pool) -> None:
    body = orjson.dumps(PR_PAYLOAD)
    headers = signed_headers("pull_request", body, content_type="text/plain")
    response = await client.post("/api/webhooks/github", data=body, headers=headers)
    assert response.status == 415
    assert (await response.json())["error"]["code"] == "unsupported_media_type"
    assert await count_deliveries(pool) == 0


async def test_malformed_bodies_are_400(client, pool) -> None:
    for body in (b"{not json", b"[1, 2, 3]", b'"a string"', b"\xff\xfe"):
        headers = signed_headers("pull_request", body)
        response = await client.post("/api/webhooks/github", data=body, headers=headers)
        assert response.status == 400, body
        assert (await response.json())["error"]["code"] == "bad_payload"
    form = urlencode({"not_payload": "{}"}).encode()
    headers = signed_headers("push", form, content_type="application/x-www-form-urlencoded")
    assert (await client.post("/api/webhooks/github", data=form, headers=headers)).status == 400
    assert await count_deliveries(pool) == 0


async def test_missing_or_hostile_headers_are_400(client, pool) -> None:
    body = orjson.dumps(PR_PAYLOAD)
    for header, value in (("X-GitHub-Event", ""), ("X-GitHub-Event", "push'; DROP TABLE x"),
                          ("X-GitHub-Delivery", ""), ("X-GitHub-Delivery", "x" * 500),
                          ("X-GitHub-Delivery", "../../etc/passwd")):
        headers = signed_headers("pull_request", body)
        headers[header] = value
        response = await client.post("/api/webhooks/github", data=body, headers=headers)
        assert response.status == 400, (header, value)
        assert (await response.json())["error"]["field"] == header
    assert await count_deliveries(pool) == 0


async def test_body_over_the_limit_is_413(client, pool, settings) -> None:
    body = b'{"pad": "' + b"x" * settings.webhook_max_bytes + b'"}'
    response = await client.post("/api/webhooks/github", data=body,
                                 headers=signed_headers("push", body))
    assert response.status == 413
    assert await count_deliveries(pool) == 0


async def test_ping_answers_200_without_storing(client, pool) -> None:
    response = await post_webhook(client, "ping", {"zen": "Keep it logically awesome.",
                                                   "hook_id": 1})
    assert response.status == 200
    assert (await response.json())["zen"] == "Keep it logically awesome."
    assert await count_deliveries(pool) == 0


async def test_unknown_event_is_stored(client, pool) -> None:
    response = await post_webhook(client, "star", {"action": "created",
                                                   "installation": {"id": 4242}})
    assert response.status == 202
    assert await pool.fetchval("SELECT event FROM webhook_deliveries") == "star"


async def test_event_names_with_digits_are_stored(client, pool) -> None:
    for event in ("projects_v2", "projects_v2_item", "projects_v2_status_update"):
        response = await post_webhook(client, event, {"action": "edited",
                                                      "installation": {"id": 4242}})
        assert response.status == 202, event
    stored = {r["event"] for r in await pool.fetch("SELECT event FROM webhook_deliveries")}
    assert stored == {"projects_v2", "projects_v2_item", "projects_v2_status_update"}


async def test_health_endpoints(client) -> None:
    health = await client.get("/healthz")
    assert health.status == 200 and (await health.json())["status"] == "ok"
    ready = await client.get("/readyz")
    body = await ready.json()
    assert ready.status == 200, body
    assert body["checks"] == {"database": "ok", "redis": "ok"}


async def test_deep_nesting_and_wide_integers_are_400(client, pool) -> None:
    bodies = (
        b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"action": "opened", "n": 123456789012345678901234567890}',
        b'{"installation": {"id": 123456789012345678901234567890}}',
        b'{"installation": {"id": "123456789012345678901234567890"}}',
        b'{"installation": {"id": 18446744073709551615}}',
        b'{"action": "open\\u0000ed"}',
    )
    for body in bodies:
        response = await client.post("/api/webhooks/github", data=body,
                                     headers=signed_headers("pull_request", body))
        assert response.status == 400, body[:60]
        assert (await response.json())["error"]["code"] == "bad_payload"
    body = orjson.dumps(PR_PAYLOAD)
    headers = dict(signed_headers("pull_request", body), **{"X-GitHub-Hook-ID": "9" * 40})
    response = await client.post("/api/webhooks/github", data=body, headers=headers)
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "X-GitHub-Hook-ID"
    assert await count_deliveries(pool) == 0


async def test_a_bad_row_in_a_group_commit_fails_alone(pool) -> None:
    """A row the database refuses, batched with good ones, fails only itself."""
    writer = DeliveryWriter(pool)
    good = [_delivery() for _ in range(20)]
    bad = _delivery(installation_id=10**30)  # wider than bigint: the whole statement is refused
    results = await asyncio.gather(*(writer.write(d) for d in [*good[:10], bad, *good[10:]]),
                                   return_exceptions=True)
    assert isinstance(results[10], asyncpg.DataError)
    assert results[:10] + results[11:] == [True] * 20
    await writer.close()
    stored = {r["delivery_id"] for r in await pool.fetch("SELECT delivery_id FROM webhook_deliveries")}
    assert stored == {d.delivery_id for d in good}


async def test_any_content_encoding_is_415_and_not_inflated(client, pool) -> None:
    body = orjson.dumps(PR_PAYLOAD)
    for encoding, data in (("gzip", gzip.compress(body)), ("deflate", zlib.compress(body)),
                           ("br", body), ("x-unknown", body)):
        # Signed over the inflated body, as a bomb's sender would: it must never be inflated.
        headers = dict(signed_headers("pull_request", body), **{"Content-Encoding": encoding})
        response = await client.post("/api/webhooks/github", data=data, headers=headers)
        assert response.status == 415, encoding
        assert (await response.json())["error"]["code"] == "unsupported_encoding"
    assert await count_deliveries(pool) == 0


async def test_large_bodies_wait_for_one_of_a_few_slots(client, pool, monkeypatch) -> None:
    monkeypatch.setattr(body_reader, "SLOT_WAIT_SECONDS", 0.05)
    slots = client.server.app[body_reader.LARGE_BODY_SLOTS_KEY]
    for _ in range(body_reader.LARGE_BODY_SLOTS):  # as if that many large bodies were arriving
        await slots.acquire()
    large = orjson.dumps({**PR_PAYLOAD, "pad": "x" * body_reader.LARGE_BODY_BYTES})

    async def chunked():
        yield large[:1000]
        yield large[1000:]

    response = await client.post("/api/webhooks/github", data=large,
                                 headers=signed_headers("pull_request", large))
    assert response.status == 503 and response.headers["Retry-After"]
    response = await client.post("/api/webhooks/github", data=chunked(),
                                 headers=signed_headers("pull_request", large))
    assert response.status == 503
    # Small bodies need no slot.
    assert (await post_webhook(client, "pull_request", PR_PAYLOAD)).status == 202
    slots.release()
    response = await client.post("/api/webhooks/github", data=large,
                                 headers=signed_headers("pull_request", large))
    assert response.status == 202
    assert await count_deliveries(pool) == 2


async def test_a_stream_of_writes_wakes_the_dispatchers_after_committing(pool, database_url) -> None:
    """The writer keeps its connection across batches and notifies once rows are committed:
    every notified row is already visible, and all of them are announced."""
    writer = DeliveryWriter(pool)
    listener = await asyncpg.connect(database_url)
    announced: list[int] = []
    visible_when_told: list[int] = []

    async def on_notify(*args: object) -> None:
        announced.append(int(args[3]))
        visible_when_told.append(await pool.fetchval("SELECT count(*) FROM webhook_deliveries"))

    def heard(*args: object) -> None:
        asyncio.get_running_loop().create_task(on_notify(*args))

    await listener.add_listener(DELIVERY_CHANNEL, heard)
    try:
        ids = [str(uuid.uuid4()) for _ in range(300)]
        results = await asyncio.gather(*(writer.write(_delivery(i)) for i in ids))
        assert results == [True] * 300
        await wait_for(lambda: sum(announced) == 300
                       and len(visible_when_told) == len(announced), timeout=10)
        assert all(seen >= told for seen, told
                   in zip(visible_when_told, _running(announced), strict=True))
        # A duplicate: stored before, not announced.
        assert await writer.write(_delivery(ids[0])) is False
        await asyncio.sleep(0.2)
        assert sum(announced) == 300
    finally:
        await writer.close()
        await listener.close()


def _running(values: list[int]) -> list[int]:
    total, out = 0, []
    for value in values:
        total += value
        out.append(total)
    return out


async def _listen(database_url: str, announced: list[int]) -> asyncpg.Connection:
    listener = await asyncpg.connect(database_url)
    await listener.add_listener(DELIVERY_CHANNEL, lambda *args: announced.append(int(args[3])))
    return listener


async def test_a_trickle_of_writes_is_announced_at_most_once_per_interval(pool, database_url) -> None:
    """One delivery at a time (each its own batch, as at 1,000/s): the first is announced at
    once and alone, the rest together at most once per WAKE_INTERVAL_SECONDS, and none is lost."""
    writer = DeliveryWriter(pool)
    announced: list[int] = []
    listener = await _listen(database_url, announced)
    try:
        started = asyncio.get_running_loop().time()
        for _ in range(40):
            assert await writer.write(_delivery()) is True
            await asyncio.sleep(0.005)
        elapsed = asyncio.get_running_loop().time() - started
        await wait_for(lambda: sum(announced) == 40, timeout=10)
        assert announced[0] == 1
        # Wakes are WAKE_INTERVAL_SECONDS apart; one more may follow the last write.
        assert len(announced) <= elapsed / delivery_writer.WAKE_INTERVAL_SECONDS + 2
        assert len(announced) < 40
    finally:
        await writer.close()
        await listener.close()


async def test_closing_the_writer_sends_the_wake_it_was_holding(pool, database_url) -> None:
    writer = DeliveryWriter(pool)
    announced: list[int] = []
    listener = await _listen(database_url, announced)
    try:
        await writer.write(_delivery())  # announced at once
        await writer.write(_delivery())  # within the interval: held for its end
        await writer.write(_delivery())
        await writer.close()
        await wait_for(lambda: sum(announced) == 3, timeout=10)
        assert announced == [1, 2]
    finally:
        await listener.close()


async def test_a_wake_that_cannot_be_sent_loses_no_delivery(pool, monkeypatch) -> None:
    """A held wake whose connection fails is dropped (the dispatchers' fallback poll finds the
    rows); the rows themselves were committed before any wake."""
    writer = DeliveryWriter(pool)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    await writer.write(_delivery(ids[0]))
    await writer.write(_delivery(ids[1]))  # its wake is held for the interval's end

    async def unreachable(*args: object, **kwargs: object) -> None:
        raise ConnectionError("PostgreSQL went away")

    monkeypatch.setattr(wakeup, "wake", unreachable)
    await asyncio.sleep(delivery_writer.WAKE_INTERVAL_SECONDS * 2)
    assert await writer.write(_delivery(ids[2])) is True
    await writer.close()
    stored = {r["delivery_id"] for r in await pool.fetch("SELECT delivery_id FROM webhook_deliveries")}
    assert stored == set(ids)


class CountingPool:
    """The pool, counting the connections given back to it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.released = 0

    async def acquire(self) -> asyncpg.Connection:
        return await self.pool.acquire()

    async def release(self, conn: asyncpg.Connection) -> None:
        self.released += 1
        await self.pool.release(conn)


async def test_the_writer_keeps_its_connections_between_requests(pool, monkeypatch) -> None:
    """The pool resets a connection on each release (a round trip): writes one after another
    give none back; they go back once idle, and at close."""
    monkeypatch.setattr(delivery_writer, "IDLE_RELEASE_SECONDS", 0.3)
    counting = CountingPool(pool)
    writer = DeliveryWriter(counting)  # type: ignore[arg-type]
    for _ in range(10):
        assert await writer.write(_delivery()) is True
    assert counting.released == 0
    # Kept: one per write in flight (a write may still be waking when the next begins) and one
    # for a held wake.
    assert 1 <= pool.get_size() - pool.get_idle_size() <= delivery_writer.MAX_CONCURRENT_WRITES + 1
    await wait_for(lambda: pool.get_size() == pool.get_idle_size(), timeout=5)
    assert counting.released >= 1
    assert await writer.write(_delivery()) is True
    await writer.close()
    assert pool.get_size() == pool.get_idle_size()
    assert await count_deliveries(pool) == 11


async def test_a_kept_connection_the_server_closed_is_replaced(pool, database_url) -> None:
    writer = DeliveryWriter(pool)
    assert await writer.write(_delivery()) is True
    await wait_for(lambda: writer._kept, timeout=5)  # once the write has sent its wake
    [(kept, _)] = writer._kept
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", kept.get_server_pid())
    finally:
        await admin.close()
    await wait_for(lambda: not delivery_writer._open(kept), timeout=5)
    assert await writer.write(_delivery()) is True
    await writer.close()
    assert await count_deliveries(pool) == 2
