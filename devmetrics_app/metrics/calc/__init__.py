"""Metric calculators: pure functions over plain, frozen facts (no database, no I/O).

Each calculator module documents its definitions; each returns `explain.Figure`s (value, unit,
count, exclusions with reasons, and the items behind the figure for `?explain=true`).

- `cycle_time`  PR cycle time and stages (coding, pickup, review, merge, deploy)
- `velocity`    sprint velocity from story-point labels; `burndown` per milestone
- `dora`        the four keys with 2023 benchmark buckets
- `builds`      build success rate; `throughput` throughput, review load, WIP
- `bots`        bot detection; `stats` statistics
"""
