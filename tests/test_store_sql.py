"""store/sql.named: names become asyncpg's $n, numbered for the caller (issue 11)."""

from __future__ import annotations

import pytest

from devmetrics_app.store.sql import bind, named


def test_names_are_numbered_in_order_of_first_use_and_reused() -> None:
    sql, args = named("SELECT 1 WHERE a = :b AND c = :a AND d = :b", a=1, b=2)
    assert sql == "SELECT 1 WHERE a = $1 AND c = $2 AND d = $1"
    assert args == [2, 1]


def test_casts_survive_and_unnamed_values_are_left_out() -> None:
    sql, args = named("WHERE id = ANY(:ids::bigint[]) AND day >= :start::date", ids=[1, 2],
                      start="2026-01-01", repositories=[3])
    assert sql == "WHERE id = ANY($1::bigint[]) AND day >= $2::date"
    assert args == [[1, 2], "2026-01-01"]


def test_a_name_without_a_value_is_an_error() -> None:
    with pytest.raises(KeyError):
        named("WHERE a = :missing")


async def test_the_result_runs_on_postgres(pool) -> None:
    row = await pool.fetchrow(*bind("SELECT :x::int + :y::int AS total, :x::int AS again", {"x": 2, "y": 3}))
    assert (row["total"], row["again"]) == (5, 2)
