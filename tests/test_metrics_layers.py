"""The metrics package's layers hold what their names say: `calc/` stays pure (no database, no
I/O), so the calculators can be run and tested on plain facts."""

from __future__ import annotations

import ast
from pathlib import Path

import devmetrics_app.metrics.calc as calc

IMPURE = {"asyncpg", "redis", "aiohttp", "dramatiq", "httpx", "gidgethub"}
# Modules of metrics/ that reach the database; a calculator never imports them.
DATABASE_MODULES = {"facts", "materialize", "open_work", "read", "service"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.add((node.module or "").split(".")[0])
            elif node.level == 2:  # `from ..x import y` / `from .. import x`: metrics/x
                names |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
    return names


def test_calculators_import_no_database_or_io():
    modules = sorted(Path(calc.__file__).parent.glob("*.py"))
    assert len(modules) > 5
    for path in modules:
        found = _imports(path)
        assert not found & IMPURE, (path.name, found & IMPURE)
        assert not found & DATABASE_MODULES, (path.name, found & DATABASE_MODULES)


def test_the_write_side_numbers_no_fragment_parameters_by_hand():
    """materialize/ is one module per derived table or step; a query built from fragments (the bot
    test) names its parameters (store/sql.bind), and no query mixes `$n` with `:name`."""
    import importlib
    import re

    import devmetrics_app.metrics.materialize as materialize
    from devmetrics_app.store.sql import PLACEHOLDER

    folder = Path(materialize.__file__).parent
    assert {p.stem for p in folder.glob("*.py")} >= {
        "releases", "cycles", "sprints", "daily", "open_work_counts", "histograms", "orchestrate"
    }
    assert not (folder.parent / "rollups.py").exists()
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "bot_sql":
                assert all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args[2:]), (
                    path.name, node.lineno)
        module = importlib.import_module(f"{materialize.__name__}.{path.stem}")
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, str):
                assert not (re.search(r"\$\d", value) and PLACEHOLDER.search(value)), (path.stem, name)
