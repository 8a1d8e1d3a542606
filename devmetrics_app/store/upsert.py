"""Newest-wins upserts.

Every GitHub entity is written with `INSERT ... ON CONFLICT DO UPDATE ... WHERE stored.version <=
incoming.version`, so replays are harmless and a late, older delivery never overwrites newer data.
The SQL is built with pypika once per column set and cached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

import asyncpg
from pypika import Field, Parameter, PostgreSQLQuery, Table
from pypika.functions import Coalesce, Now
from pypika.terms import Function, Tuple

EXCLUDED = Table("excluded")


class Greatest(Function):
    def __init__(self, *terms: object) -> None:
        super().__init__("GREATEST", *terms)


@lru_cache(maxsize=512)
def upsert_sql(
    table: str,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    version: str | tuple[str, ...] | None,
    keep_existing: frozenset[str],
    touch: bool,
    greatest: frozenset[str] = frozenset(),
) -> str:
    target = Table(table)
    query = (
        PostgreSQLQuery.into(target)
        .columns(*columns)
        .insert(*(Parameter(f"${i}") for i in range(1, len(columns) + 1)))
        .on_conflict(*key)
    )
    updatable = [c for c in columns if c not in key]
    if not updatable and not touch:
        return query.do_nothing().get_sql()
    for column in updatable:
        incoming = Field(column, table=EXCLUDED)
        if column in greatest:
            # Monotonic facts (a repository's pushed_at) only move forward.
            query = query.do_update(column, Greatest(incoming, Field(column, table=target)))
        elif column in keep_existing:
            # Partial payloads (a repository in installation_repositories has no default_branch)
            # must not blank out what a fuller payload stored earlier.
            query = query.do_update(column, Coalesce(incoming, Field(column, table=target)))
        else:
            query = query.do_update(column, incoming)
    if touch:
        query = query.do_update("updated_at", Now())
    if isinstance(version, str):
        stored = Field(version, table=target)
        query = query.where(stored.isnull() | (stored <= Field(version, table=EXCLUDED)))
    elif version:
        # Several columns compare as a row: (version_at, rank) breaks ties between actions.
        stored_row = Tuple(*(Field(c, table=target) for c in version))
        incoming_row = Tuple(*(Field(c, table=EXCLUDED) for c in version))
        query = query.where(Field(version[0], table=target).isnull() | (stored_row <= incoming_row))
    return query.get_sql() + " RETURNING (xmax = 0) AS inserted"


async def upsert(
    conn: asyncpg.Connection,
    table: str,
    row: Mapping[str, object],
    *,
    key: Iterable[str] = ("id",),
    version: str | tuple[str, ...] | None = None,
    keep_existing: Iterable[str] = (),
    greatest: Iterable[str] = (),
    touch: bool = True,
) -> str:
    """Insert or update `row`; return 'inserted', 'updated' or 'stale' (older than stored)."""
    columns = tuple(row)
    sql = upsert_sql(table, columns, tuple(key), version, frozenset(keep_existing), touch,
                     frozenset(greatest))
    if "RETURNING" not in sql:
        status = await conn.execute(sql, *row.values())
        return "inserted" if status.endswith(" 1") else "stale"
    result = await conn.fetchrow(sql, *row.values())
    if result is None:
        return "stale"
    return "inserted" if result["inserted"] else "updated"
