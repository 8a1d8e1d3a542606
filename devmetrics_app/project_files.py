"""Find the project's non-Python files (sql/, templates/, app.yml).

They live beside the package in a checkout (editable install) and in the working directory of
the Docker image; DEVMETRICS_HOME names another place.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_path(name: str) -> Path:
    candidates = [Path(__file__).resolve().parent.parent / name, Path.cwd() / name]
    if home := os.environ.get("DEVMETRICS_HOME"):
        candidates.insert(0, Path(home) / name)
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"cannot find {name!r} (looked in {', '.join(map(str, candidates))}); "
                            "set DEVMETRICS_HOME to the directory that holds it")
