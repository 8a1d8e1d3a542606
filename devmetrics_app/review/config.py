"""A repository's review settings: `.github/devmetrics.yml` on the DEFAULT branch over
organisation defaults over ours.

Read from the default branch, never from the pull request's head: otherwise a pull request could
switch its own review off (or raise its own threshold) by editing the file it is judged by. A
broken file must not silence the review either, so invalid YAML or values fall back to the
defaults and say so in the output instead of failing the analysis.

    enabled: true
    risk_threshold: 70        # sticky comment at or above this score
    blocking: false           # high risk → check run `failure` instead of `neutral`
    budget_tokens: 30000      # input tokens for the diff part of the prompt
    partial_share: 0.8        # below this share of changed lines reviewed → PARTIAL
    exclude:
      paths: ["docs/**", "*.snap"]
      branches: ["release/*"]  # head branch globs
      labels: ["no-ai-review"]

Organisation defaults: the same keys under `organizations.settings.ai_review`; the monthly spend
cap is `organizations.settings.ai_monthly_budget_usd`.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import yaml
from gidgethub import BadRequest
from gidgethub.abc import GitHubAPI

from devmetrics_app.ai.budget import DEFAULT_BUDGET_TOKENS, DEFAULT_MIN_SHARE

CONFIG_PATH = ".github/devmetrics.yml"
DEFAULT_RISK_THRESHOLD = 70
DEFAULT_MONTHLY_BUDGET_USD = 50.0
MIN_BUDGET_TOKENS = 2_000
MAX_BUDGET_TOKENS = 150_000
MAX_CONFIG_BYTES = 64 * 1024
ORG_KEY = "ai_review"
ORG_BUDGET_KEY = "ai_monthly_budget_usd"


@dataclass(frozen=True)
class ReviewConfig:
    enabled: bool = True
    risk_threshold: int = DEFAULT_RISK_THRESHOLD
    blocking: bool = False
    budget_tokens: int = DEFAULT_BUDGET_TOKENS
    partial_share: float = DEFAULT_MIN_SHARE
    exclude_paths: tuple[str, ...] = ()
    exclude_branches: tuple[str, ...] = ()
    exclude_labels: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)  # problems found while reading

    def path_excluded(self, path: str) -> bool:
        return any(_glob_match(path, pattern) for pattern in self.exclude_paths)

    def branch_excluded(self, branch: str) -> bool:
        return any(fnmatch.fnmatchcase(branch, pattern) for pattern in self.exclude_branches)

    def excluded_label(self, labels: list[str]) -> str | None:
        wanted = {label.lower() for label in self.exclude_labels}
        return next((label for label in labels if label.lower() in wanted), None)


def _glob_match(path: str, pattern: str) -> bool:
    """Lenient globs: `dir/` means everything under it; `*` may cross `/` (as fnmatch does);
    a pattern without a slash also matches the basename at any depth."""
    pattern = pattern.strip().lstrip("/")
    if not pattern:
        return False
    if pattern.endswith("/"):
        return path.startswith(pattern)
    if fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, pattern.replace("**/", "")):
        return True
    return "/" not in pattern and fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pattern)


def _strings(value: Any, key: str, notes: list[str]) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    notes.append(f"`{key}` must be a list of strings; ignored")
    return None


def apply(base: ReviewConfig, data: Any, source: str) -> ReviewConfig:
    """`base` with the valid keys of `data` applied; each invalid key is ignored with a note."""
    notes = list(base.notes)
    if data is None:
        return base
    if not isinstance(data, Mapping):
        notes.append(f"{source} is not a mapping; defaults used")
        return replace(base, notes=tuple(notes))
    changes: dict[str, Any] = {}

    def bad(key: str, why: str) -> None:
        notes.append(f"{source}: `{key}` {why}; ignored")

    for key in ("enabled", "blocking"):
        if key in data:
            if isinstance(data[key], bool):
                changes[key] = data[key]
            else:
                bad(key, "must be true or false")
    if "risk_threshold" in data:
        value = data["risk_threshold"]
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100:
            changes["risk_threshold"] = value
        else:
            bad("risk_threshold", "must be an integer from 0 to 100")
    if "budget_tokens" in data:
        value = data["budget_tokens"]
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            changes["budget_tokens"] = max(MIN_BUDGET_TOKENS, min(MAX_BUDGET_TOKENS, value))
        else:
            bad("budget_tokens", "must be a positive integer")
    if "partial_share" in data:
        value = data["partial_share"]
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
            changes["partial_share"] = float(value)
        else:
            bad("partial_share", "must be a number from 0 to 1")
    exclude = data.get("exclude")
    if exclude is not None and not isinstance(exclude, Mapping):
        bad("exclude", "must be a mapping with paths, branches and labels")
        exclude = None
    for key in ("paths", "branches", "labels"):
        if exclude is not None and key in exclude:
            values = _strings(exclude[key], f"exclude.{key}", notes)
            if values is not None:
                changes[f"exclude_{key}"] = values
    unknown = sorted(str(k) for k in data if k not in {"enabled", "blocking", "risk_threshold",
                                                       "budget_tokens", "partial_share", "exclude"})
    if unknown:
        notes.append(f"{source}: unknown key(s) {', '.join(unknown)} ignored")
    return replace(base, **changes, notes=tuple(notes))


def parse_repository_config(text: str | None, base: ReviewConfig) -> ReviewConfig:
    if text is None:
        return base
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        return replace(base, notes=(*base.notes, f"{CONFIG_PATH} is not valid YAML{where}; defaults used"))
    return apply(base, data, CONFIG_PATH)


def organization_defaults(org_settings: Mapping[str, Any] | None,
                          base: ReviewConfig | None = None) -> ReviewConfig:
    return apply(base or ReviewConfig(), (org_settings or {}).get(ORG_KEY), "organisation settings")


def monthly_budget_usd(org_settings: Mapping[str, Any] | None) -> float:
    value = (org_settings or {}).get(ORG_BUDGET_KEY)
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return DEFAULT_MONTHLY_BUDGET_USD


async def read_file(gh: GitHubAPI, repository: str, path: str, ref: str) -> str | None:
    """A text file at `ref` through the contents API; None when it does not exist (or is not a
    readable file: a directory, a submodule, something too large)."""
    try:
        data = await gh.getitem(f"/repos/{repository}/contents/{quote(path)}?ref={quote(ref, safe='')}")
    except BadRequest as exc:
        if exc.status_code in (404, 403):
            return None
        raise
    if not isinstance(data, Mapping) or data.get("type") != "file" or data.get("encoding") != "base64":
        return None
    if int(data.get("size") or 0) > MAX_CONFIG_BYTES:
        return None
    try:
        return base64.b64decode(str(data.get("content") or "")).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return None


async def load_config(gh: GitHubAPI, repository: str, default_branch: str,
                      org_settings: Mapping[str, Any] | None,
                      base: ReviewConfig | None = None) -> ReviewConfig:
    """`base` carries the operator's defaults (AI_BUDGET_TOKENS, AI_PARTIAL_SHARE)."""
    text = await read_file(gh, repository, CONFIG_PATH, default_branch)
    return parse_repository_config(text, organization_defaults(org_settings, base))
