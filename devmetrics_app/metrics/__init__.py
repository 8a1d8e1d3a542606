"""The metrics engine, in layers the folders show.

- `calc/`      pure calculators over plain, frozen facts (no database, no I/O): `cycle_time`,
               `dora`, `velocity`, `burndown`, `throughput`, `builds`, `bots`, `stats`. Each module
               documents its definitions and returns `explain.Figure`s.
- `materialize/` the write side (SQL): recomputes the derived tables from raw rows, one module
               per table or step: `releases` (+ `release_commits`), `cycles`
               (`pull_request_cycle`), `sprints` (`sprint_facts`), `daily` (`repository_stats`,
               `installation_stats`, `developer_metrics`, `team_metrics`, `developer_totals`),
               `open_work_counts`, `histograms` (`metric_histograms`); `orchestrate` runs them in
               order (`recompute`, `recompute_pending`, `recompute_installation`, under
               `lock_installation`), running the calculators where a stored value is theirs.
- `read/`      the read side (SQL): one async module per figure family (`cycle_time`, `dora`,
               `sprints`, `builds`, `throughput`, `open_work`, `people`, `repository`, `trends`) over
               the fact tables and rollups, plus `scope`, `percentiles` and `paging`. `service`
               re-exports its public functions, which is what the web handlers call.
- `facts`      loads the calculators' input facts from raw rows (SQL), for small ranges and as the
               tests' reference; `open_work` counts today's open work in PostgreSQL (live, or summed
               from what `materialize/open_work_counts` stored).
- `explain`    the results every layer returns (Figure, Item, Exclusion, Period);
  `settings`   an organisation's metric settings.
"""

from .explain import Exclusion, Figure, Item, Period
from .settings import MetricsSettings, SettingsError

__all__ = ["Exclusion", "Figure", "Item", "MetricsSettings", "Period", "SettingsError"]
