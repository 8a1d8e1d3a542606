"""The write side: recomputes the metric fact tables, daily rollups and rank histograms from raw
rows (see `orchestrate`)."""

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
