"""How fresh a scope's figures are: `as_of` and `pending`, served beside every API figure.

Figures are read from rollups that catch up after deliveries arrive (an install-time burst is
thousands of them), so an answer says whether work that can still change it is outstanding:

- deliveries of the installation stored but not processed yet (`webhook_deliveries`, status
  'received': the partial index of sql/001 makes this one probe), or
- rollup follow-ups of the installation's deliveries committed to the outbox but not yet handed
  to the broker, or coalesced
  rollup work waiting in the installation's pending set (`jobs/pending_rollups.py`), or
- rollup jobs queued, delayed (debounced) or running for one of the scope's repositories or
  for the installation as a whole. Dramatiq's Redis broker keeps every message that is not yet
  acknowledged in `<namespace>:<queue>.msgs` (delayed ones in `<queue>.DQ.msgs`); a message
  naming no repository or installation (the nightly recompute), or more messages than
  `MAX_INSPECTED` (a burst), counts as pending for every scope -- never a false "fresh".

`as_of` is the moment up to which the figures include everything received: the answer's own
time when nothing is pending, else the oldest unprocessed delivery's arrival, else (only rollups
outstanding) the scope's last completed recompute.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import dramatiq
import orjson
import redis.asyncio as aioredis

from devmetrics_app.jobs import pending_rollups
from devmetrics_app.jobs.broker import DEFAULT_NAMESPACE
from devmetrics_app.store.freshness import scope_marks

ROLLUP_QUEUES = ("rollups",)
MAX_INSPECTED = 500
# Rollup actors whose first positional argument is a repository id / an installation id.
REPOSITORY_ACTORS = ("recompute_rollups", "run_rollups")
INSTALLATION_ACTORS = ("recompute_installation_rollups", "run_pending_rollups")

@dataclass(frozen=True)
class Freshness:
    as_of: datetime
    pending: bool

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of, "pending": self.pending}


def message_hits(message: dict[str, Any], installation_id: int, repository_ids: set[int]) -> bool:
    """Whether a rollup job can change this scope's figures (unknown shapes: yes)."""
    kwargs = message.get("kwargs") or {}
    first = (message.get("args") or [None])[0]
    actor = message.get("actor_name")
    if "repository_id" in kwargs or actor in REPOSITORY_ACTORS:
        return kwargs.get("repository_id", first) in repository_ids
    if "installation_id" in kwargs or actor in INSTALLATION_ACTORS:
        return kwargs.get("installation_id", first) == installation_id
    return True


async def rollups_pending(
    redis: aioredis.Redis, installation_id: int, repository_ids: Iterable[int], *,
    namespace: str | None = None, queues: Sequence[str] = ROLLUP_QUEUES,
) -> bool:
    # The configured broker's namespace (tests and operators may choose their own).
    namespace = namespace or getattr(dramatiq.get_broker(), "namespace", DEFAULT_NAMESPACE)
    scope = set(repository_ids)
    if await redis.scard(pending_rollups.PENDING_KEY.format(installation_id=installation_id)):
        return True
    keys = [f"{namespace}:{q}{suffix}.msgs" for q in queues for suffix in ("", ".DQ")]
    sizes = [await redis.hlen(key) for key in keys]
    if not any(sizes):
        return False
    if sum(sizes) > MAX_INSPECTED:
        return True
    for key, size in zip(keys, sizes, strict=True):
        if not size:
            continue
        for raw in await redis.hvals(key):
            try:
                message = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return True
            if message_hits(message, installation_id, scope):
                return True
    return False


async def freshness(
    conn: asyncpg.Connection, redis: aioredis.Redis | None, installation_id: int,
    repository_ids: Sequence[int] | None,
) -> Freshness:
    """`as_of` and `pending` for an installation's figures over `repository_ids` (None: all)."""
    row = await scope_marks(conn, installation_id, repository_ids)
    if row["oldest_unprocessed"] is not None:
        return Freshness(min(row["oldest_unprocessed"], row["answered_at"]), True)
    # Only now ask Redis: with deliveries outstanding its answer would change nothing.
    if row["outbox_rollups"] or (
            redis is not None and await rollups_pending(redis, installation_id, row["repositories"])):
        return Freshness(row["last_recompute"] or row["answered_at"], True)
    return Freshness(row["answered_at"], False)


def stamp(result: Any, fresh: Freshness) -> Any:
    """`as_of`/`pending` on the result and on each figure it holds (a dict with a `value`)."""
    if not isinstance(result, dict):
        return result
    marks = fresh.to_dict()
    out = {**result, **marks}
    for key, figure in result.items():
        if isinstance(figure, dict) and "value" in figure:
            out[key] = {**figure, **marks}
    return out
