"""Every metric DevMetrics exports, declared once; the record_* helpers keep label values tidy.

Names follow Prometheus conventions (base units, `_total` counters). Labels stay low in
cardinality: routes are the registered patterns (not raw paths), installations are bounded by
the app's installations.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from devmetrics_app.timeutil import utcnow

NAMESPACE = "devmetrics"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Delivery lag spans milliseconds (idle) to hours (a deferred or retried delivery).
# The children of a labelled metric that hot paths use (each webhook, each request): a label set
# is bounded wherever this is called, and prometheus_client's own `labels()` takes a lock and
# validates on every call.
CHILD_CACHE_SIZE = 2048
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0)

HTTP_DURATION = Histogram(
    "http_request_duration_seconds", "HTTP request duration by route pattern, method and status.",
    ["route", "method", "status"], namespace=NAMESPACE, buckets=LATENCY_BUCKETS)
WEBHOOKS_RECEIVED = Counter(
    "webhooks_received_total",
    "Webhook deliveries answered, by event and outcome (stored, duplicate, deferred, rejected, "
    "error); a rejected one's event is 'unverified' (its headers are not trusted).",
    ["event", "outcome"], namespace=NAMESPACE)
WEBHOOKS_PROCESSED = Counter(
    "webhooks_processed_total",
    "Webhook deliveries processed by a worker, by event and outcome (processed, ignored, retrying, "
    "failed).", ["event", "outcome"], namespace=NAMESPACE)
DELIVERY_LAG = Histogram(
    "delivery_lag_seconds", "Time from a delivery being stored to its processing finishing.",
    ["event"], namespace=NAMESPACE, buckets=LAG_BUCKETS)
QUEUE_DEPTH = Gauge(
    "queue_depth", "Messages waiting in each Dramatiq queue (sampled when /metrics is scraped).",
    ["queue"], namespace=NAMESPACE, multiprocess_mode="mostrecent")
DELIVERIES_PENDING = Gauge(
    "deliveries_pending", "Stored deliveries not processed yet (sampled when /metrics is scraped).",
    namespace=NAMESPACE, multiprocess_mode="mostrecent")
GITHUB_CALLS = Counter(
    "github_api_calls_total", "GitHub API requests by installation ('app'/'user' otherwise) and status.",
    ["installation", "status"], namespace=NAMESPACE)
GITHUB_REMAINING = Gauge(
    "github_rate_limit_remaining", "GitHub's x-ratelimit-remaining, last seen, per installation and "
    "resource.", ["installation", "resource"], namespace=NAMESPACE, multiprocess_mode="mostrecent")
CLAUDE_TOKENS = Counter(
    "claude_tokens_total", "Claude tokens by model and kind (input, output, cache_write, cache_read).",
    ["model", "kind"], namespace=NAMESPACE)
CLAUDE_COST = Counter(
    "claude_cost_usd_total", "Estimated Claude spend in US dollars, by model.", ["model"],
    namespace=NAMESPACE)
NOTIFICATIONS = Counter(
    "notifications_sent_total", "Notification sends by channel and outcome (sent, retrying, failed, "
    "skipped).", ["channel", "outcome"], namespace=NAMESPACE)
RATE_LIMITED = Counter(
    "rate_limited_total", "Requests over a rate limit, by kind (api answered 429; webhook deferred).",
    ["kind"], namespace=NAMESPACE)


def record_github_call(installation: str, status: int, remaining: str | None, resource: str) -> None:
    GITHUB_CALLS.labels(installation, str(status)).inc()
    if remaining is not None and remaining.isdigit():
        GITHUB_REMAINING.labels(installation, resource).set(int(remaining))


def record_claude_usage(model: str, usage, cost_usd: float) -> None:
    """`usage` is ai.claude.TokenUsage (not imported: the AI module imports us)."""
    for kind, value in (("input", usage.input_tokens), ("output", usage.output_tokens),
                        ("cache_write", usage.cache_creation_input_tokens),
                        ("cache_read", usage.cache_read_input_tokens)):
        if value:
            CLAUDE_TOKENS.labels(model, kind).inc(value)
    if cost_usd:
        CLAUDE_COST.labels(model).inc(cost_usd)


def record_processed(event: str, outcome: str, received_at: datetime) -> None:
    WEBHOOKS_PROCESSED.labels(event, outcome).inc()
    if outcome != "retrying":  # lag is to the final answer, not to a failed attempt
        DELIVERY_LAG.labels(event).observe(max((utcnow() - received_at).total_seconds(), 0.0))


@functools.lru_cache(maxsize=CHILD_CACHE_SIZE)
def child(metric: Any, *labels: str) -> Any:
    """`metric.labels(*labels)`, looked up once per label set (see CHILD_CACHE_SIZE)."""
    return metric.labels(*labels)
