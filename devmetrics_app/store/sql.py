"""Named SQL parameters: write `:repositories` instead of counting `$5` by hand.

asyncpg only takes positional `$n` parameters, so a query assembled from optional fragments used
to number its parameters with string arithmetic (`f"... ${len(args) + 1}"`), where one fragment
added or moved silently shifts every later number. `named` numbers them for the caller.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

# `:name`, but not the second colon of a `::type` cast nor a colon inside a word.
PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@functools.lru_cache(maxsize=1024)
def _compile(sql: str) -> tuple[str, tuple[str, ...]]:
    """(text with `$n`, the names in parameter order); cached: a query's text is a constant or
    one of few shapes, so the hot read paths pay the rewrite once."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return PLACEHOLDER.sub(number, sql), tuple(names)


def named(sql: str, /, **params: Any) -> tuple[str, list[Any]]:
    """(sql with `$n`, args) for asyncpg. Each distinct name gets one number, in order of first
    use, and may appear several times. A name without a value raises KeyError; a value the text
    does not name is left out (an optional fragment may be absent). Write no `:word` inside SQL
    string literals; `$n` parameters are not for mixing with names."""
    text, names = _compile(sql)
    return text, [params[name] for name in names]


def bind(sql: str, params: Mapping[str, Any]) -> list[Any]:
    """[sql with `$n`, *args]: `await conn.fetch(*bind(SQL, params))`."""
    text, args = named(sql, **params)
    return [text, *args]
