"""The deterministic risk floor: a score no model can lower.

Computed from the file list alone (size, spread, sensitive paths, tests deleted or missing) plus
what our own scanners found (secrets, Trojan Source characters, instructions aimed at the
reviewer). Every point has a named weight and a reason a developer can read, so the floor explains
itself and stands on its own when no model is configured.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .files import PrFile

# Size of the change (added + deleted lines of reviewable files): (upper bound, points).
SIZE_STEPS = ((50, 0), (200, 5), (500, 10), (1000, 15), (math.inf, 20))
# Files touched: (upper bound, points).
SPREAD_STEPS = ((5, 0), (15, 3), (40, 6), (math.inf, 10))

SENSITIVE_WEIGHTS = {
    "auth": 15,
    "crypto": 15,
    "ci": 12,
    "migrations": 10,
    "infrastructure": 10,
    "dependencies": 8,
}
SENSITIVE_CAP = 40
WEIGHT_TESTS_DELETED = 15
WEIGHT_TESTS_MISSING = 8
TESTS_MISSING_MIN_LINES = 30  # below this much source change, no tests is not a signal
WEIGHT_SECRETS = 25
WEIGHT_BIDI = 30
WEIGHT_INVISIBLE = 10
WEIGHT_INJECTION = 20

SENSITIVE_PATTERNS: dict[str, tuple[str, ...]] = {
    "auth": (r"auth", r"login", r"logout", r"session", r"oauth", r"saml", r"sso\b", r"passw",
             r"permission", r"rbac", r"acl\b", r"(^|/)access[_-]?control", r"jwt", r"credential",
             r"middleware/.*(auth|csrf)", r"csrf"),
    "crypto": (r"crypt", r"cipher", r"(^|/|_)tls", r"(^|/|_)ssl", r"(^|/|_)hmac", r"signature",
               r"(^|/)keys?/", r"certificate", r"(^|/)certs?/", r"\.pem$", r"(^|/|_)hash(ing)?[_./]",
               r"(^|/|_)secrets?[_./]", r"kms"),
    "migrations": (r"(^|/)migrations?/", r"(^|/)alembic/", r"(^|/)db/migrate/", r"(^|/)sql/\d+",
                   r"\.sql$", r"(^|/)schema\.(rb|sql|prisma)$", r"flyway", r"liquibase"),
    "ci": (r"^\.github/workflows/", r"^\.github/actions/", r"^\.gitlab-ci", r"^\.circleci/",
           r"(^|/)jenkinsfile$", r"^azure-pipelines", r"^\.travis\.yml$", r"^\.buildkite/",
           r"^\.ci/", r"^\.drone\.yml$", r"^bitbucket-pipelines\.yml$", r"^\.github/codeowners$",
           r"(^|/)codeowners$"),
    "dependencies": (r"(^|/)requirements[^/]*\.(txt|in)$", r"(^|/)pyproject\.toml$", r"(^|/)setup\.(py|cfg)$",
                     r"(^|/)package\.json$", r"(^|/)go\.mod$", r"(^|/)cargo\.toml$", r"(^|/)gemfile$",
                     r"(^|/)pom\.xml$", r"(^|/)build\.gradle(\.kts)?$", r"(^|/)composer\.json$",
                     r"(^|/)pipfile$", r"(^|/)\.npmrc$", r"(^|/)\.pypirc$", r"\.csproj$",
                     r"(^|/)packages\.config$", r"(^|/)mix\.exs$", r"(^|/)pubspec\.yaml$"),
    "infrastructure": (r"(^|/)dockerfile", r"docker-compose", r"\.tf$", r"\.tfvars$", r"(^|/)terraform/",
                       r"(^|/)k8s/", r"(^|/)kubernetes/", r"(^|/)helm/", r"(^|/)charts?/",
                       r"(^|/)ansible/", r"(^|/)deploy", r"(^|/)infra", r"cloudformation",
                       r"(^|/)nginx", r"(^|/)procfile$", r"(^|/)\.env", r"serverless\.ya?ml$",
                       r"(^|/)pulumi", r"(^|/)iam[_./-]"),
}
_SENSITIVE_RE = {cat: re.compile("|".join(pats), re.I) for cat, pats in SENSITIVE_PATTERNS.items()}

TEST_PATH = re.compile(
    r"(^|/)(tests?|__tests__|spec|specs|testing)/|(^|/)test_[^/]+$|_tests?\.\w+$|\.(test|spec)\.\w+$"
    r"|(^|/)conftest\.py$|Tests?\.(java|kt|cs|swift)$|_spec\.rb$",
    re.I,
)
DOC_EXTENSIONS = frozenset({"md", "rst", "txt", "adoc", "svg", "png", "jpg", "gif"})


@dataclass(frozen=True)
class RiskReason:
    code: str  # stable identifier, e.g. "sensitive:auth"
    points: int
    detail: str


@dataclass(frozen=True)
class RiskFloor:
    score: int
    reasons: tuple[RiskReason, ...]


def sensitive_categories(path: str) -> list[str]:
    return [cat for cat, rx in _SENSITIVE_RE.items() if rx.search(path)]


def is_test_path(path: str) -> bool:
    return bool(TEST_PATH.search(path))


def is_source_path(path: str) -> bool:
    ext = posixpath.splitext(path)[1].lstrip(".").lower()
    return bool(ext) and ext not in DOC_EXTENSIONS and not is_test_path(path)


def file_risk(file: PrFile) -> float:
    """Order for the token budget: sensitive paths first, then by size of change."""
    weight = sum(SENSITIVE_WEIGHTS[c] for c in sensitive_categories(file.filename))
    if is_test_path(file.filename):
        weight -= 5  # tests matter, but the code under test matters more
    return weight * 10 + math.log1p(file.additions + file.deletions)


def _step(value: float, steps: tuple[tuple[float, int], ...]) -> int:
    for bound, points in steps:
        if value <= bound:
            return points
    return steps[-1][1]


def compute_floor(
    files: Iterable[PrFile],
    *,
    secrets_found: int = 0,
    bidi_chars: int = 0,
    invisible_chars: int = 0,
    injection_signals: Iterable[str] = (),
) -> RiskFloor:
    """`files` are the files to judge (lockfiles, generated and vendored files already left out)."""
    files = list(files)
    reasons: list[RiskReason] = []
    lines = sum(f.additions + f.deletions for f in files)

    if points := _step(lines, SIZE_STEPS):
        reasons.append(RiskReason("size", points, f"{lines} changed lines"))
    if points := _step(len(files), SPREAD_STEPS):
        reasons.append(RiskReason("spread", points, f"{len(files)} files touched"))

    by_category: dict[str, list[str]] = {}
    for f in files:
        for path in {f.filename, f.previous_filename or f.filename}:
            for cat in sensitive_categories(path):
                by_category.setdefault(cat, [])
                if f.filename not in by_category[cat]:
                    by_category[cat].append(f.filename)
    sensitive_total = 0
    for cat in sorted(by_category, key=lambda c: -SENSITIVE_WEIGHTS[c]):
        points = max(0, min(SENSITIVE_WEIGHTS[cat], SENSITIVE_CAP - sensitive_total))
        sensitive_total += points
        paths = by_category[cat]
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        capped = "" if points == SENSITIVE_WEIGHTS[cat] else " (sensitive-path cap reached)"
        reasons.append(RiskReason(f"sensitive:{cat}", points, f"touches {cat} paths: {shown}{capped}"))

    deleted_tests = [f.filename for f in files if f.status == "removed" and is_test_path(f.filename)]
    if deleted_tests:
        shown = ", ".join(deleted_tests[:3]) + (f" and {len(deleted_tests) - 3} more"
                                                 if len(deleted_tests) > 3 else "")
        reasons.append(RiskReason("tests:deleted", WEIGHT_TESTS_DELETED, f"deletes tests: {shown}"))
    else:
        source_lines = sum(f.additions + f.deletions for f in files if is_source_path(f.filename))
        if source_lines >= TESTS_MISSING_MIN_LINES and not any(is_test_path(f.filename) for f in files):
            reasons.append(RiskReason("tests:missing", WEIGHT_TESTS_MISSING,
                                      f"{source_lines} lines of source changed with no test changes"))

    if secrets_found:
        reasons.append(RiskReason("secrets", WEIGHT_SECRETS,
                                  f"{secrets_found} secret-like string(s) in the diff (redacted)"))
    if bidi_chars:
        reasons.append(RiskReason("unicode:bidi", WEIGHT_BIDI,
                                  f"{bidi_chars} bidirectional control character(s) (Trojan Source)"))
    if invisible_chars:
        reasons.append(RiskReason("unicode:invisible", WEIGHT_INVISIBLE,
                                  f"{invisible_chars} invisible character(s)"))
    signals = list(injection_signals)
    if signals:
        reasons.append(RiskReason("prompt_injection", WEIGHT_INJECTION,
                                  "text aimed at the reviewer: " + ", ".join(signals[:3])))

    score = max(0, min(100, sum(r.points for r in reasons)))
    return RiskFloor(score=score, reasons=tuple(reasons))
