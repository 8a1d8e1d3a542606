"""GET /metrics over real HTTP: what a scraper sees after a webhook is stored and processed."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace

import payloads
from conftest import post_webhook, wait_for
from prometheus_client.parser import text_string_to_metric_families

from devmetrics_app.config import Secret
from devmetrics_app.web.app import create_app


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in an exposition, 0 when absent (counters start unseen)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


async def scrape(client, **headers: str) -> str:
    response = await client.get("/metrics", headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain")
    return await response.text()


async def test_metrics_after_a_delivery(client, worker, pool) -> None:
    before = await scrape(client)
    payload = payloads.pull_request_event("opened", payloads.pull_request(1, repo=payloads.REPO_API))
    delivery_id = str(uuid.uuid4())
    response = await post_webhook(client, "pull_request", payload, delivery_id=delivery_id)
    assert response.status == 202
    await wait_for(lambda: pool.fetchval(
        "SELECT status = 'processed' FROM webhook_deliveries WHERE delivery_id = $1", delivery_id))
    after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("devmetrics_webhooks_received_total", event="pull_request", outcome="stored") == 1
    assert grew("devmetrics_webhooks_processed_total", event="pull_request", outcome="processed") == 1
    assert grew("devmetrics_delivery_lag_seconds_count", event="pull_request") == 1
    assert grew("devmetrics_http_request_duration_seconds_count", route="/api/webhooks/github",
                method="POST", status="202") == 1
    # Sampled at scrape time: the queue the delivery went through, and nothing left pending.
    assert any(s.labels.get("queue") == "deliveries"
               for f in text_string_to_metric_families(after) for s in f.samples
               if s.name == "devmetrics_queue_depth")
    assert sample(after, "devmetrics_deliveries_pending") == 0


async def test_metrics_route_label_is_the_pattern_not_the_path(client) -> None:
    await client.get("/api/repositories/12345/metrics")  # whatever the answer, one route label
    text = await scrape(client)
    assert 'path="/api/repositories/12345' not in text
    assert "/api/repositories/12345/" not in text


async def test_metrics_token_is_required_when_set(aiohttp_client, settings, pool, broker) -> None:
    app = create_app(replace(settings, metrics_token=Secret("scrape-me-please")),
                     database_url=settings.database_url.get(), redis_url=settings.redis_url.get())
    client = await aiohttp_client(app)
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 401
    text = await scrape(client, Authorization="Bearer scrape-me-please")
    assert "devmetrics_http_request_duration_seconds" in text


async def test_an_unsigned_delivery_cannot_mint_metric_series(client) -> None:
    """A stranger's X-GitHub-Event is not a label value: each one would be a new time series."""
    before = await scrape(client)
    for n in range(3):
        response = await client.post("/api/webhooks/github", data=b"{}", headers={
            "Content-Type": "application/json", "X-GitHub-Event": f"made_up_{n}",
            "X-GitHub-Delivery": str(uuid.uuid4()), "X-Hub-Signature-256": "sha256=" + "0" * 64})
        assert response.status == 401
    after = await scrape(client)
    assert (sample(after, "devmetrics_webhooks_received_total", event="unverified",
                   outcome="rejected")
            - sample(before, "devmetrics_webhooks_received_total", event="unverified",
                     outcome="rejected")) == 3
    assert "made_up_" not in after


class PeerTransport:
    """Just enough of a transport for aiohttp to report the caller's address."""

    def __init__(self, host: str) -> None:
        self.host = host

    def get_extra_info(self, name: str, default=None):
        return (self.host, 40_000) if name == "peername" else default


def test_without_a_token_only_loopback_may_scrape(settings) -> None:
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from devmetrics_app.observability.endpoint import _allowed
    from devmetrics_app.web.keys import SETTINGS

    app = web.Application()
    app[SETTINGS] = settings  # no METRICS_TOKEN

    def from_host(host: str) -> bool:
        return _allowed(make_mocked_request("GET", "/metrics", app=app, transport=PeerTransport(host)))

    assert from_host("127.0.0.1") and from_host("::1")
    assert not from_host("10.0.0.5")


def test_the_prometheus_directory_follows_a_data_dir_set_in_dotenv(monkeypatch, tmp_path) -> None:
    """serve and worker choose the shared directory before anything else reads settings: a
    DEVMETRICS_DATA_DIR given only in `.env` must count there too (it used to be ignored)."""
    import atexit

    from devmetrics_app import cli, config
    from devmetrics_app.observability import MULTIPROC_ENV

    # Set empty (as good as unset) rather than deleted: monkeypatch restores nothing for a
    # variable that was absent, and the directory set below stayed in the environment, so every
    # later scrape in the session read that empty directory and answered nothing.
    monkeypatch.setenv(MULTIPROC_ENV, "")
    monkeypatch.setenv("DEVMETRICS_DATA_DIR", "")
    monkeypatch.setattr(config, "load_dotenv",  # stands for a .env holding DEVMETRICS_DATA_DIR
                        lambda override: monkeypatch.setenv("DEVMETRICS_DATA_DIR", str(tmp_path)))
    monkeypatch.setattr(atexit, "register", lambda *_: None)
    cli._prometheus_multiprocess()
    assert (tmp_path / "prometheus").is_dir()
    assert os.environ[MULTIPROC_ENV] == str(tmp_path / "prometheus")

