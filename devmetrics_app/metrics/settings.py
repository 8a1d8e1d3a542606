"""An organisation's metric settings, read from `organizations.settings` (jsonb).

The jsonb is shared with other features (AI budget, notifications), so `from_json` reads only
the keys below and ignores the rest; a key it does read must be valid or it raises
`SettingsError` naming the key (a typo in a regex must not silently change a figure).

Keys (all optional):

- `exclude_bots` (bool, default true) and `bot_patterns` (login globs, case-insensitive, e.g.
  `"renovate-*"`). GitHub `Bot` accounts and `[bot]` logins are always recognised as bots.
- `story_point_labels`: regexes with exactly one capture group holding a number; defaults read
  `points: 3`, `point 1`, `sp/5`, `sp-5`, `story points: 8`.
- `size_label_pattern`: a regex with one group capturing a size name (default `size: L`,
  `size/L`), mapped through `size_points` (default XS=1, S=2, M=3, L=5, XL=8; names matched
  case-insensitively).
- `default_points` (number ≥ 0, default 1): points of an issue with no points label.
- `production_environments` (default production, prod, live; case-insensitive).
- `deploy_workflow_pattern` (glob, default `*deploy*`): the workflow runs that stand in for
  deployments in a repository without any production deployment.
- `incident_labels` (default incident, outage; case-insensitive).
- `revert_detection` (bool, default true) and `revert_title_patterns` (regexes searched in a
  merged PR's title; default matches GitHub's `Revert "..."` button).
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

DEFAULT_STORY_POINT_LABELS: tuple[str, ...] = (
    r"^\s*(?:story[\s_-]*)?(?:points?|sp)\s*[:/=\-]?\s*(\d+(?:\.\d+)?)\s*$",
)
DEFAULT_SIZE_LABEL_PATTERN = r"^\s*size\s*[:/=\-]?\s*([A-Za-z0-9]+)\s*$"
DEFAULT_SIZE_POINTS: Mapping[str, float] = MappingProxyType(
    {"XS": 1.0, "S": 2.0, "M": 3.0, "L": 5.0, "XL": 8.0})
DEFAULT_POINTS = 1.0
DEFAULT_PRODUCTION_ENVIRONMENTS: tuple[str, ...] = ("production", "prod", "live")
DEFAULT_DEPLOY_WORKFLOW_PATTERN = "*deploy*"
DEFAULT_INCIDENT_LABELS: tuple[str, ...] = ("incident", "outage")
DEFAULT_REVERT_TITLE_PATTERNS: tuple[str, ...] = (r'^\s*Revert\s+"',)


class SettingsError(ValueError):
    """An organisation's metric settings are invalid; the message names the key."""


@dataclass(frozen=True)
class MetricsSettings:
    exclude_bots: bool = True
    bot_patterns: tuple[str, ...] = ()
    story_point_labels: tuple[str, ...] = DEFAULT_STORY_POINT_LABELS
    size_label_pattern: str = DEFAULT_SIZE_LABEL_PATTERN
    size_points: Mapping[str, float] = field(default_factory=lambda: DEFAULT_SIZE_POINTS)
    default_points: float = DEFAULT_POINTS
    production_environments: tuple[str, ...] = DEFAULT_PRODUCTION_ENVIRONMENTS
    deploy_workflow_pattern: str = DEFAULT_DEPLOY_WORKFLOW_PATTERN
    incident_labels: tuple[str, ...] = DEFAULT_INCIDENT_LABELS
    revert_detection: bool = True
    revert_title_patterns: tuple[str, ...] = DEFAULT_REVERT_TITLE_PATTERNS

    # -- derived helpers (cheap; patterns are cached by `re`) --

    def is_production(self, environment: str | None) -> bool:
        return (environment or "").strip().lower() in {e.lower() for e in self.production_environments}

    def is_incident(self, labels: tuple[str, ...] | list[str]) -> bool:
        wanted = {label.lower() for label in self.incident_labels}
        return any(label.strip().lower() in wanted for label in labels)

    def is_deploy_workflow(self, name: str | None) -> bool:
        return fnmatch.fnmatchcase((name or "").lower(), self.deploy_workflow_pattern.lower())

    def is_revert_title(self, title: str | None) -> bool:
        if not self.revert_detection:
            return False
        return any(re.search(p, title or "", re.IGNORECASE) for p in self.revert_title_patterns)

    def size_to_points(self, size: str) -> float | None:
        for name, points in self.size_points.items():
            if name.lower() == size.lower():
                return points
        return None

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> MetricsSettings:
        """Validate the metric keys of an organisation's settings; defaults for absent keys."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise SettingsError("settings must be a JSON object")
        kwargs: dict[str, Any] = {}
        for key in ("exclude_bots", "revert_detection"):
            if key in data:
                if not isinstance(data[key], bool):
                    raise SettingsError(f"{key} must be true or false")
                kwargs[key] = data[key]
        for key in ("bot_patterns", "production_environments", "incident_labels"):
            if key in data:
                kwargs[key] = _strings(key, data[key], allow_empty=key == "bot_patterns")
        if "story_point_labels" in data:
            patterns = _strings("story_point_labels", data["story_point_labels"], allow_empty=True)
            for pattern in patterns:
                _regex("story_point_labels", pattern, groups=1)
            kwargs["story_point_labels"] = patterns
        if "size_label_pattern" in data:
            pattern = data["size_label_pattern"]
            if not isinstance(pattern, str):
                raise SettingsError("size_label_pattern must be a string")
            _regex("size_label_pattern", pattern, groups=1)
            kwargs["size_label_pattern"] = pattern
        if "revert_title_patterns" in data:
            patterns = _strings("revert_title_patterns", data["revert_title_patterns"], allow_empty=True)
            for pattern in patterns:
                _regex("revert_title_patterns", pattern, groups=None)
            kwargs["revert_title_patterns"] = patterns
        if "size_points" in data:
            sizes = data["size_points"]
            if not isinstance(sizes, Mapping) or not sizes:
                raise SettingsError("size_points must be a non-empty object of size name to points")
            mapping: dict[str, float] = {}
            for name, points in sizes.items():
                if not isinstance(name, str) or not name.strip():
                    raise SettingsError("size_points names must be non-empty strings")
                if name.strip().upper() in mapping:
                    raise SettingsError(f"size_points names {name!r} twice (names are case-insensitive)")
                mapping[name.strip().upper()] = _points(f"size_points.{name}", points)
            kwargs["size_points"] = MappingProxyType(mapping)
        if "default_points" in data:
            kwargs["default_points"] = _points("default_points", data["default_points"])
        if "deploy_workflow_pattern" in data:
            pattern = data["deploy_workflow_pattern"]
            if not isinstance(pattern, str) or not pattern.strip():
                raise SettingsError("deploy_workflow_pattern must be a non-empty string")
            kwargs["deploy_workflow_pattern"] = pattern.strip()
        return cls(**kwargs)


def _strings(key: str, value: Any, *, allow_empty: bool) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v.strip() for v in value):
        raise SettingsError(f"{key} must be a list of non-empty strings")
    if not value and not allow_empty:
        raise SettingsError(f"{key} must not be empty")
    return tuple(v.strip() for v in value)


def _regex(key: str, pattern: str, *, groups: int | None) -> None:
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise SettingsError(f"{key}: invalid regular expression {pattern!r}: {exc}") from None
    if groups is not None and compiled.groups != groups:
        raise SettingsError(f"{key}: {pattern!r} must have exactly {groups} capture group")


def _points(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SettingsError(f"{key} must be a number")
    if not math.isfinite(value) or value < 0:
        raise SettingsError(f"{key} must be a finite number ≥ 0")
    return float(value)
