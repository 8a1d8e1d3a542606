"""One lock order for the shared rows a delivery writes: repositories, then accounts, by id.

Handlers upsert users in payload order (a PR's author, then its reviewer; an issue's assignees
as listed), and an upsert holds the row until the delivery commits. Two deliveries naming the
same people in opposite roles then wait on each other: PostgreSQL's deadlock detector kills
one. Before the handlers run, `lock_payload_rows` takes a transaction-scoped advisory lock for
every repository and account the payload names, sorted by key; a handler's later row locks on
them can then only wait for a transaction that already holds all of its locks, never in a
cycle. Advisory locks (not early upserts) keep the stored rows exactly what the handlers write,
and they cover rows that do not exist yet, whose concurrent INSERTs deadlock just the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import asyncpg

# Key spaces within the one bigint advisory-lock namespace (GitHub ids stay far below 2**60).
REPOSITORY_SPACE = 1 << 60
ACCOUNT_SPACE = 2 << 60
PERSON_TYPES = frozenset({"User", "Bot"})
MAX_DEPTH = 8  # user objects sit at most a few levels down; do not walk huge nested lists

LOCK_SQL = "SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::bigint[]) WITH ORDINALITY AS t(k, n)"


def _objects(value: Any, depth: int = 0) -> Iterator[Mapping[str, Any]]:
    if depth > MAX_DEPTH:
        return
    if isinstance(value, Mapping):
        yield value
        for child in value.values():
            if isinstance(child, Mapping | list | tuple):
                yield from _objects(child, depth + 1)
    elif isinstance(value, list | tuple):  # imported pages hold (pull request, reviews) pairs
        for child in value:
            if isinstance(child, Mapping | list | tuple):
                yield from _objects(child, depth + 1)


def lock_keys(payload: Mapping[str, Any] | list, repository_ids: Iterable[int] = ()) -> list[int]:
    """The advisory keys for every repository and account object in a payload, in lock order."""
    keys = {REPOSITORY_SPACE + int(r) for r in repository_ids}
    for obj in _objects(payload):
        ident = obj.get("id")
        if not isinstance(ident, int) or isinstance(ident, bool) or not 0 < ident < REPOSITORY_SPACE:
            continue
        if isinstance(obj.get("login"), str):
            # People and bots only: the organisation owning every repository is in every
            # payload, and locking it would serialise the whole organisation's deliveries.
            if obj.get("type") in PERSON_TYPES:
                keys.add(ACCOUNT_SPACE + ident)
        elif isinstance(obj.get("full_name"), str) and "name" in obj:
            keys.add(REPOSITORY_SPACE + ident)
    return sorted(keys)


async def lock_payload_rows(
    conn: asyncpg.Connection, payload: Mapping[str, Any] | list, *, repository_ids: Iterable[int] = ()
) -> int:
    """Take the payload's row locks in the one global order (inside the caller's transaction).
    Every writer of users and repositories does: webhook deliveries and imported pages."""
    keys = lock_keys(payload, repository_ids)
    if keys:
        # unnest WITH ORDINALITY scans the array in order: the locks are taken sorted.
        await conn.fetchval(LOCK_SQL, keys)
    return len(keys)
