"""What a webhook handler gets besides the event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from gidgethub.sansio import Event

from devmetrics_app.store.repositories import upsert_repository
from devmetrics_app.timeutil import utc_days

ROLLUP_ACTOR = "recompute_rollups"
INSTALLATION_ROLLUP_ACTOR = "recompute_installation_rollups"
FULL_RECOMPUTE_DAYS = 730
NOTIFY_ACTOR = "notify_event"


class Unprocessable(Exception):
    """The delivery can never be processed (say, it names no installation): do not retry it."""


@dataclass
class Context:
    """Handlers write through `conn`, inside the transaction that marks the delivery processed,
    so a delivery's rows and its 'processed' mark commit together or not at all."""

    conn: asyncpg.Connection
    delivery_id: str
    # When GitHub's delivery reached us: the best clock for facts a payload does not date
    # (a deletion, say).
    received_at: datetime
    # Jobs to enqueue once the transaction has committed: (actor name, keyword arguments).
    followups: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def request_rollup(self, repository_id: int, *moments: object) -> None:
        """Recompute the repository's daily rollups for the days these moments fall on (the job
        is debounced: a burst of events about one repository-day is one recompute)."""
        days = utc_days(*moments)
        if days:
            self.followups.append((ROLLUP_ACTOR, {"repository_id": repository_id, "days": days}))

    def request_notifications(self, installation_id: int, event: str, subject_id: int) -> None:
        """Evaluate the event-driven notification rules once this delivery is committed."""
        self.followups.append((NOTIFY_ACTOR, {"installation_id": installation_id, "event": event,
                                              "subject_id": subject_id}))

    def request_installation_rollup(self, installation_id: int) -> None:
        """The set of repositories changed: recompute the installation's rollups."""
        self.followups.append((INSTALLATION_ROLLUP_ACTOR, {"installation_id": installation_id,
                                                           "days": FULL_RECOMPUTE_DAYS}))


def installation_id(event: Event) -> int:
    installation = event.data.get("installation")
    if not isinstance(installation, Mapping) or installation.get("id") is None:
        raise Unprocessable(f"{event.event} delivery names no installation")
    return int(installation["id"])


def required_object(event: Event, key: str) -> Mapping[str, Any]:
    """A top-level object the handler cannot do without (it must have an id)."""
    value = event.data.get(key)
    if not isinstance(value, Mapping) or value.get("id") is None:
        raise Unprocessable(f"{event.event} delivery has no {key}")
    return value


async def store_repository(event: Event, ctx: Context) -> tuple[int, int]:
    """(installation id, repository id) after upserting the event's top-level repository."""
    inst = installation_id(event)
    return inst, await upsert_repository(ctx.conn, inst, required_object(event, "repository"))
