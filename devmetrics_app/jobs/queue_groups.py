"""Which Dramatiq queues share worker threads.

A Dramatiq worker's threads take messages from every queue it consumes, and an async actor
holds its thread until it finishes. Outbound work waits on the outside world for long stretches
(GitHub content writes paced at 80/min, Claude, Slack/Discord/SMTP, history imports): on shared
threads a burst of it occupies them all and delivery processing stops behind it. So the queues
form groups, each consumed by its own `dramatiq.Worker` with its own threads; the core group
(deliveries, rollups, live updates) never waits for an outbound thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

CORE_QUEUES = ("deliveries", "rollups", "live")
# `maintenance`: the nightly pruning of old delivery bodies (long batches; never urgent).
OUTBOUND_QUEUES = ("reviews", "notifications", "imports", "maintenance")
ALL_QUEUES = CORE_QUEUES + OUTBOUND_QUEUES


@dataclass(frozen=True)
class QueueGroup:
    name: str
    queues: frozenset[str]
    threads: int


def parse_queues(text: str | None) -> list[str] | None:
    """`--queues deliveries,rollups` as a list (None: every queue); unknown names are an error."""
    if not text:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(ALL_QUEUES))
    if unknown:
        raise ValueError(f"unknown queue(s) {', '.join(unknown)}; known: {', '.join(ALL_QUEUES)}")
    return names


def queue_groups(
    *, core_threads: int, outbound_threads: int, queues: Iterable[str] | None = None
) -> list[QueueGroup]:
    """The groups this process runs: the selected queues (default all), split core/outbound."""
    selected = set(ALL_QUEUES if queues is None else queues)
    groups = [
        QueueGroup("core", frozenset(selected & set(CORE_QUEUES)), core_threads),
        QueueGroup("outbound", frozenset(selected & set(OUTBOUND_QUEUES)), outbound_threads),
    ]
    return [group for group in groups if group.queues and group.threads > 0]
