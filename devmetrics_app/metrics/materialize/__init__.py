"""The write side (SQL): recomputes the metric fact tables, the daily rollups and the rank
histograms from raw rows, one module per derived table or step:

- `releases`     `releases` and `release_commits` (which commit each deployment shipped);
- `cycles`       `pull_request_cycle` (the cycle-time calculator's stages per merged PR);
- `sprints`      `sprint_facts` (completed points per milestone);
- `daily`        `repository_stats`, `installation_stats`, `developer_metrics`, `team_metrics`
                 and the cumulative `developer_totals`;
- `open_work_counts` `open_work_counts` and `open_work_builds` (today's open work per repository,
                 counted by `metrics.open_work`);
- `histograms`   `metric_histograms` (cumulative rank histograms; also the series names the read
                 side's percentiles use);
- `orchestrate`  `recompute` / `recompute_pending` / `recompute_installation`: the steps in
                 order, in one transaction, under `lock_installation`;
- `days`         UTC day helpers.

What callers use is exported here.
"""

from .orchestrate import (
    DEPLOY_LOOKBACK_DAYS,
    lock_installation,
    parse_days,
    recompute,
    recompute_installation,
    recompute_pending,
    refresh_installation_days,
)

__all__ = [
    "DEPLOY_LOOKBACK_DAYS",
    "lock_installation",
    "parse_days",
    "recompute",
    "recompute_installation",
    "recompute_pending",
    "refresh_installation_days",
]
