"""The package's layers stay what their folders say: web/ handlers parse, check and render, and
the SQL they need lives in store/ (issue 11). A statement added to a handler fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import devmetrics_app

WEB = Path(devmetrics_app.__file__).parent / "web"
DB_CALLS = {"fetch", "fetchrow", "fetchval", "execute", "executemany", "copy_records_to_table"}
SQL_TEXT = re.compile(r"^\s*(SELECT\b.*\bFROM|INSERT INTO|UPDATE \w+( \w+)? SET|DELETE FROM|WITH \w+ AS)\b",
                      re.DOTALL)
# The health probe asks the database for nothing but an answer.
ALLOWED = {("health.py", "fetchval")}


def _sql_in(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in DB_CALLS and (path.name, node.func.attr) not in ALLOWED:
            found.append(f"{path.relative_to(WEB)}:{node.lineno} .{node.func.attr}(")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_TEXT.match(node.value) \
                and path.name != "health.py":
            found.append(f"{path.relative_to(WEB)}:{node.lineno} SQL text")
    return found


def test_web_handlers_hold_no_sql() -> None:
    found = [hit for path in sorted(WEB.rglob("*.py")) for hit in _sql_in(path)]
    assert found == [], "move these into store/: " + ", ".join(found)
