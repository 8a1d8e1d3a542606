"""The read layer's public entry: the figure functions of `metrics/read/`, re-exported.

The code lives in `metrics/read/` (its `__init__` says where each figure's data comes from); this
module keeps the names the web handlers call (`service.cycle_time(conn, scope)` ...):

- `read.scope`       Scope, Resolved, resolve, metrics_settings
- `read.cycle_time`  cycle_time;  `read.sprints` velocity, burndown
- `read.dora`        dora, dora_concurrently, lead_time, deployments
- `read.builds`      build_success;  `read.throughput` throughput
- `read.open_work`   review_load, work_in_progress
- `read.people`      team_analytics, individual_analytics;  `read.repository` repository_analytics
- `read.trends`      trends, TREND_INTERVALS, TREND_METRICS, TEAM_TREND_METRICS
- `read.paging`      EXPLAIN_LIMIT
"""

from .read.builds import build_success
from .read.cycle_time import cycle_time
from .read.dora import deployments, dora, dora_concurrently, lead_time
from .read.open_work import review_load, work_in_progress
from .read.paging import EXPLAIN_LIMIT
from .read.people import individual_analytics, team_analytics
from .read.repository import repository_analytics
from .read.scope import Resolved, Scope, metrics_settings, resolve
from .read.sprints import burndown, velocity
from .read.throughput import throughput
from .read.trends import TEAM_TREND_METRICS, TREND_INTERVALS, TREND_METRICS, trends

__all__ = [
    "EXPLAIN_LIMIT",
    "TEAM_TREND_METRICS",
    "TREND_INTERVALS",
    "TREND_METRICS",
    "Resolved",
    "Scope",
    "build_success",
    "burndown",
    "cycle_time",
    "deployments",
    "dora",
    "dora_concurrently",
    "individual_analytics",
    "lead_time",
    "metrics_settings",
    "repository_analytics",
    "resolve",
    "review_load",
    "team_analytics",
    "throughput",
    "trends",
    "velocity",
    "work_in_progress",
]
