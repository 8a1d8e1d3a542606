"""The read layer's figures in the shape the API serves them, for tests that assert that shape.

`from served import service` stands in for `devmetrics_app.metrics.service`: each figure function
(not `resolve` nor `metrics_settings`)
returns what `web/api/serialize.to_json` makes of its typed report (explained when the call asks
for `explain=True`); every other name (Scope, TREND_METRICS...) is the service's own.
"""

from __future__ import annotations

import inspect
import types
from typing import Any

from devmetrics_app.metrics import service as typed
from devmetrics_app.web.api.serialize import to_json


def _served(function: Any) -> Any:
    async def call(*args: Any, **kwargs: Any) -> Any:
        return to_json(await function(*args, **kwargs), explain=kwargs.get("explain", False))

    call.__name__ = function.__name__
    return call


NOT_FIGURES = {"resolve", "metrics_settings"}  # coroutines that answer a scope or settings
service = types.SimpleNamespace(**{
    name: _served(value) if inspect.iscoroutinefunction(value) and name not in NOT_FIGURES else value
    for name, value in vars(typed).items() if not name.startswith("_")
})
