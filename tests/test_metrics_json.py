"""Typed results in metrics/, JSON only in web/api/serialize.py (issue 11's layout).

The read layer returns dataclasses (reports of Figures); the API and the pages turn them into
JSON with `to_json`. A report that skipped that step must fail, not reach a client in orjson's
own shape of a dataclass (its Figures' `details` and `items` as raw fields)."""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from pathlib import Path

import pytest

import devmetrics_app.metrics as metrics
from devmetrics_app.metrics import service
from devmetrics_app.metrics.explain import Figure, Item, explain_only
from devmetrics_app.web import responses
from devmetrics_app.web.api.serialize import to_json

PACKAGE = Path(metrics.__file__).parent


def test_metrics_builds_no_json():
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {m for m in imported if m.split(".")[0] in {"orjson", "json"}
                    or m.startswith("devmetrics_app.web")}, path
        calls = {n.func.attr for n in ast.walk(tree)
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
        assert "to_dict" not in calls, path


def test_every_figure_function_is_typed_not_a_dict():
    figures = [f for name, f in vars(service).items()
               if inspect.iscoroutinefunction(f) and name not in {"resolve", "metrics_settings"}]
    assert len(figures) >= 12
    for function in figures:
        returned = inspect.signature(function).return_annotation
        assert "dict" not in str(returned).split("[")[0], (function.__name__, returned)


@dataclass(frozen=True)
class _Report:
    figure: Figure
    next_cursor: str | None = explain_only()


def test_to_json_lists_items_and_explain_only_fields_only_when_explained():
    report = _Report(Figure(1.0, "hours", 1, [], [Item("pull_request", 7, "#7", 1.0)],
                            {"median": 1.0}), next_cursor="50")
    plain = to_json(report)
    assert plain == {"figure": {"value": 1.0, "unit": "hours", "count": 1, "excluded": [],
                                "median": 1.0}}
    explained = to_json(report, explain=True)
    assert explained["next_cursor"] == "50"
    assert explained["figure"]["items"] == [
        {"kind": "pull_request", "id": 7, "label": "#7", "value": 1.0, "details": {}}]


def test_a_typed_report_that_skipped_to_json_is_refused():
    report = _Report(Figure(1.0, "hours", 1))
    with pytest.raises(TypeError) as refused:
        responses.json({"result": report})
    assert "use serialize.to_json" in str(refused.value.__cause__)
    assert responses.json({"result": to_json(report)}).status == 200
