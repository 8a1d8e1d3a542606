"""The metrics engine's read side: one async function per figure, scoped, fast, explainable.

Every query is filtered by `installation_id` first (tenancy) and then by the scope's
repositories (connected and not removed) and team. Where the data comes from:

- period figures over PRs, releases, commits and sprints read the compact fact tables of
  `sql/003_metrics.sql` through covering indexes (`pull_request_cycle`, `releases`,
  `release_commits`, `sprint_facts`); medians are PostgreSQL `percentile_cont`, the same
  interpolation as `stats.percentile`;
- counts over whole UTC days (the API's `from`/`to` dates) read the daily rollups
  (`installation_stats` for all repositories, `repository_stats` for a selection,
  `developer_metrics` / `team_metrics` for people); other bounds count from raw rows by index;
- snapshots (review load, work in progress) and one milestone's burndown load their few raw
  rows and run the pure calculators.

`explain=True` adds the items behind a figure, bounded to `EXPLAIN_LIMIT` per list (largest
first) with the total count and a `next_cursor` to page on, so two years stay fast.

One module per figure family:

- `cycle_time`   PR cycle time and stages;  `dora` the four keys (and per-repository deployments)
- `sprints`      velocity and burndown;     `builds` build success rate
- `throughput`   PRs merged, issues closed; `open_work` review load and work in progress
- `people`       team and individual analytics; `repository` one repository's page
- `trends`       series per day, week or month

and their shared helpers: `scope` (a request's scope resolved, rollup sums), `percentiles`
(exact percentiles from the rank histograms), `paging` (figures, `EXPLAIN_LIMIT`, cursors).
`metrics.service` re-exports the public functions for the callers that import them from there.
"""
