"""Prometheus metrics for every DevMetrics process, and error tracking (Sentry).

prometheus-client picks its storage when it is first imported: with PROMETHEUS_MULTIPROC_DIR set,
each process writes its samples to memory-mapped files in that directory and any process can
serve the sum of them. So `devmetrics serve` and `devmetrics worker` set the directory before
importing anything that declares a metric (`ensure_multiproc_dir`); this module itself imports
nothing from prometheus-client for that reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def ensure_multiproc_dir(environ: dict[str, str] | os._Environ = os.environ) -> Path:
    """Use PROMETHEUS_MULTIPROC_DIR, or set it to <data dir>/prometheus: one directory shared by
    every process of this host, so the web process's /metrics includes the workers' samples."""
    configured = environ.get(MULTIPROC_ENV, "").strip()
    if configured:
        path = Path(configured)
    else:
        data_dir = environ.get("DEVMETRICS_DATA_DIR", "").strip() or platformdirs.user_data_dir("devmetrics")
        path = Path(data_dir) / "prometheus"
        environ[MULTIPROC_ENV] = str(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def mark_process_dead(pid: int | None = None) -> None:
    """Drop this process's live gauges (queue depth, rate-limit remaining) when it exits."""
    if not os.environ.get(MULTIPROC_ENV):
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid or os.getpid())
