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

EXCLUDED = Table("excluded")


@lru_cache(maxsize=512)
def upsert_sql(
    table: str,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    version: str | None,
    keep_existing: frozenset[str],
    touch: bool,
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
        if column in keep_existing:
            # Partial payloads (a repository in installation_repositories has no default_branch)
            # must not blank out what a fuller payload stored earlier.
            query = query.do_update(column, Coalesce(incoming, Field(column, table=target)))
        else:
            query = query.do_update(column, incoming)
    if touch:
        query = query.do_update("updated_at", Now())
    if version is not None:
        query = query.where(Field(version, table=target) <= Field(version, table=EXCLUDED))
    return query.get_sql() + " RETURNING (xmax = 0) AS inserted"


async def upsert(
    conn: asyncpg.Connection,
    table: str,
    row: Mapping[str, object],
    *,
    key: Iterable[str] = ("id",),
    version: str | None = None,
    keep_existing: Iterable[str] = (),
    touch: bool = True,
) -> str:
    """Insert or update `row`; return 'inserted', 'updated' or 'stale' (older than stored)."""
    columns = tuple(row)
    sql = upsert_sql(table, columns, tuple(key), version, frozenset(keep_existing), touch)
    if "RETURNING" not in sql:
        status = await conn.execute(sql, *row.values())
        return "inserted" if status.endswith(" 1") else "stale"
    result = await conn.fetchrow(sql, *row.values())
    if result is None:
        return "stale"
    return "inserted" if result["inserted"] else "updated"
