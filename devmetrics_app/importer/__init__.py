"""History import: the last N days of a repository, through the installation client.

`import_repository` is what the Dramatiq job and `devmetrics import` call; `progress_for` is
what `GET /api/repositories/:id` shows.
"""

from devmetrics_app.importer.runner import (
    DEFAULT_DAYS,
    KINDS,
    ImportConflict,
    ImportIncomplete,
    ImportSummary,
    KindProgress,
    ProgressCallback,
    import_repository,
    progress_for,
)

__all__ = [
    "DEFAULT_DAYS",
    "KINDS",
    "ImportConflict",
    "ImportIncomplete",
    "ImportSummary",
    "KindProgress",
    "ProgressCallback",
    "import_repository",
    "progress_for",
]
