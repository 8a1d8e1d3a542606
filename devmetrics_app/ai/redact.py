"""Secrets out of the diff before anything leaves the machine.

Known credential shapes first (precise, named), then assignments to secret-sounding names, then a
Shannon-entropy check for long base64/hex tokens that nothing else recognised. Each match becomes
`[REDACTED:<kind>]`, so the reviewer still sees that a secret sat there (a finding in itself) without
the value. False positives cost a little context; false negatives leak a credential to a third
party, so the thresholds lean towards redacting.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

REDACTED = "[REDACTED:{kind}]"

# Entropy thresholds (bits per character). Random base64 approaches 6, random hex 4; English-like
# identifiers sit near 3-3.5.
ENTROPY_MIN_LENGTH = 32
BASE64_ENTROPY_THRESHOLD = 4.2
HEX_ENTROPY_THRESHOLD = 3.4
GIT_SHA_LENGTH = 40  # commit ids in code and docs are public, not secrets

# A pattern of names, not a password.
SECRET_NAME = (
    r"(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"  # noqa: S105
    r"|client[_-]?secret|auth[_-]?key|credentials?)"
)

PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private_key", re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY"
        r"(?: BLOCK)?-----|\Z)", re.S)),
    ("anthropic_key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    ("openai_key", re.compile(r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{32,}")),
    ("github_token", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,255}\b")),
    ("github_token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b")),
    ("aws_access_key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b")),
    ("aws_secret_key", re.compile(
        r"(?i)aws[\w.-]{0,20}?secret[\w.-]{0,20}?['\"]?\s*[:=]\s*['\"]?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
    )),
    ("slack_token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("slack_webhook", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+")),
    ("google_api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("stripe_key", re.compile(r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}\b")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("url_credentials", re.compile(r"(?<=://)[^/\s:@'\"]{1,64}:([^/\s@'\"]{3,128})(?=@)")),
)

# name = "value" / name: value / "name": "value" / NAME=value
ASSIGNMENT = re.compile(
    rf"(?i)(?P<name>(?<![\w.-])[\w.-]{{0,60}}?{SECRET_NAME}[\w.-]{{0,60}})['\"]?\s*(?::=|=>|[:=])\s*"
    r"(?:(?P<q>['\"`])(?P<qval>[^'\"`\n]{4,200})(?P=q)|(?P<val>[^\s'\"`,;)\]}]{6,200}))"
)
PLACEHOLDER = re.compile(
    r"(?i)^(?:x+|\*+|\.+|<[^>]*>|\{\{.*\}\}|\$\{.*\}|\$[A-Z_]+|%\(.*\)s|changeme|change[_-]?me|example"
    r"|placeholder|dummy|redacted|secret|password|none|null|nil|true|false|undefined|your[_-].*|test)$"
)
DOTTED_NAME = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\(\))?$")
IDENTIFIER = re.compile(r"^[A-Za-z_]\w*(?:\(\))?$")
TOKEN = re.compile(rf"[A-Za-z0-9+/=_-]{{{ENTROPY_MIN_LENGTH},}}")
HEX = re.compile(r"^[0-9a-fA-F]+$")


@dataclass
class Redaction:
    text: str
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return sum(self.kinds.values())


def shannon_entropy(value: str) -> float:
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def looks_random(token: str) -> bool:
    """A long token whose characters are spread like a key's, not like a word's."""
    if len(token) < ENTROPY_MIN_LENGTH or token.startswith("REDACTED"):
        return False
    if HEX.match(token):
        return len(token) != GIT_SHA_LENGTH and shannon_entropy(token) >= HEX_ENTROPY_THRESHOLD
    stripped = token.rstrip("=")
    has_upper = any(c.isupper() for c in stripped)
    has_lower = any(c.islower() for c in stripped)
    has_digit = any(c.isdigit() for c in stripped)
    if not (has_upper and has_lower and has_digit):
        return False
    if "/" in stripped and stripped.count("/") * 8 > len(stripped):
        return False  # a path, not a key
    return shannon_entropy(stripped) >= BASE64_ENTROPY_THRESHOLD


def _is_plausible_secret_value(value: str, *, quoted: bool) -> bool:
    if PLACEHOLDER.match(value) or value.startswith(("$", "{", "%", "<", "[REDACTED")):
        return False
    if quoted:
        return True
    # Unquoted: code (`token = get_token()`, `password: str`) rather than a config value.
    if IDENTIFIER.match(value) or DOTTED_NAME.match(value) or "(" in value or "[" in value:
        return False
    return any(c.isdigit() for c in value) or any(not c.isalnum() and c != "_" for c in value)


# Cheap substring tests that must hold for a pattern to match (lower-cased text); they let a
# 3,000-file pull request skip most regex passes.
HINTS: dict[str, tuple[str, ...]] = {
    "private_key": ("private key",),
    "anthropic_key": ("sk-ant-",),
    "openai_key": ("sk-",),
    "github_token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "aws_access_key": ("akia", "asia", "abia", "acca", "agpa", "aida", "aroa", "anpa"),
    "aws_secret_key": ("aws",),
    "slack_token": ("xox",),
    "slack_webhook": ("hooks.slack.com",),
    "google_api_key": ("aiza",),
    "stripe_key": ("_live_", "_test_"),
    "jwt": ("eyj",),
    "url_credentials": ("://",),
}


def redact(text: str) -> Redaction:
    result = Redaction(text)
    out = text
    lower = text.lower()
    for kind, pattern in PATTERNS:
        if any(hint in lower for hint in HINTS.get(kind, ("",))):
            out = _sub(pattern, out, kind, result.kinds)
    out = _redact_assignments(out, result.kinds)
    out = TOKEN.sub(_entropy_replacer(result.kinds), out)
    result.text = out
    return result


def _sub(pattern: re.Pattern[str], text: str, kind: str, kinds: Counter[str]) -> str:
    def replace(m: re.Match[str]) -> str:
        kinds[kind] += 1
        if m.groups():  # redact only the captured value, keep the context (`AWS_SECRET=`, `user:`)
            start, end = m.span(1)
            whole_start = m.start()
            s = m.group(0)
            return s[: start - whole_start] + REDACTED.format(kind=kind) + s[end - whole_start:]
        return REDACTED.format(kind=kind)

    return pattern.sub(replace, text)


_SECRET_NAME_RE = re.compile(SECRET_NAME)  # used on lower-cased text: case-insensitive regexes are slow


def _redact_assignments(text: str, kinds: Counter[str]) -> str:
    # The assignment pattern is costly; run it only on lines that mention a secret-sounding name.
    if not _SECRET_NAME_RE.search(text.lower()):
        return text
    return "\n".join(
        _redact_assignment_line(line, kinds) if _SECRET_NAME_RE.search(line.lower()) else line
        for line in text.split("\n")
    )


def _redact_assignment_line(text: str, kinds: Counter[str]) -> str:
    def replace(m: re.Match[str]) -> str:
        quoted = m.group("qval") is not None
        value = m.group("qval") if quoted else m.group("val")
        if not _is_plausible_secret_value(value, quoted=quoted):
            return m.group(0)
        kinds["secret_assignment"] += 1
        group = "qval" if quoted else "val"
        start, end = m.span(group)
        s, base = m.group(0), m.start()
        return s[: start - base] + REDACTED.format(kind="secret_assignment") + s[end - base:]

    return ASSIGNMENT.sub(replace, text)


def _entropy_replacer(kinds: Counter[str]) -> Callable[[re.Match[str]], str]:
    def replace(m: re.Match[str]) -> str:
        token = m.group(0)
        if not looks_random(token):
            return token
        kinds["high_entropy"] += 1
        return REDACTED.format(kind="high_entropy")

    return replace
