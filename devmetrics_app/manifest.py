"""The GitHub App manifest: app.yml with ${PUBLIC_URL} filled in."""

from __future__ import annotations

from typing import Any

import yaml

from devmetrics_app.project_files import project_path

PLACEHOLDER = "${PUBLIC_URL}"


def _fill(value: Any, public_url: str) -> Any:
    if isinstance(value, str):
        return value.replace(PLACEHOLDER, public_url)
    if isinstance(value, list):
        return [_fill(v, public_url) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, public_url) for k, v in value.items()}
    return value


def build_manifest(public_url: str, *, name: str | None = None) -> dict[str, Any]:
    manifest = yaml.safe_load(project_path("app.yml").read_text())
    filled = _fill(manifest, public_url.rstrip("/"))
    if name:
        filled["name"] = name
    return filled
