"""One pull request's risk analysis: floor, redaction, budget and (when configured) Claude.

Pure apart from the model call: the caller fetches the files and `.gitattributes` and publishes
the result. The order of operations is the security argument: classify → scan the raw text
(secrets, invisible characters, instructions aimed at the reviewer) → redact and reveal → budget
→ prompt. Nothing unredacted reaches the prompt builder, and the model's score can only raise the
floor, never lower it.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ..config import Settings
from .budget import (
    DEFAULT_BUDGET_TOKENS,
    DEFAULT_MIN_SHARE,
    Candidate,
    Coverage,
    estimate_tokens,
    select_diff,
)
from .claude import CostEstimate, ModelFinding, ModelRequest, ModelResult, TokenUsage
from .files import PrFile, classify, parse_gitattributes
from .prompt import (
    BODY_MAX_CHARS,
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    TITLE_MAX_CHARS,
    build_user_content,
    neutralise_fences,
    new_nonce,
    system_blocks,
)
from .redact import redact
from .risk_floor import RiskFloor, compute_floor
from .sanitize import EVIDENCE_MAX_CHARS, SUMMARY_MAX_CHARS, TEXT_MAX_CHARS, sanitize_markdown, sanitize_plain
from .sanitize import TITLE_MAX_CHARS as FINDING_TITLE_MAX_CHARS
from .unicode import UnicodeReport, normalise_text, reveal, scan, scan_patch, strip_invisible

Source = Literal["model", "floor", "floor_error"]
SOURCE_LABELS: dict[str, str] = {
    "model": "Claude review, floored by deterministic checks",
    "floor": "Deterministic risk floor only (no ANTHROPIC_API_KEY configured)",
    "floor_error": "Deterministic risk floor only (the AI review failed)",
}
PROMPT_OVERHEAD_TOKENS = 600  # fences, headings and instructions around the diff

# Instruction-like text aimed at an automated reviewer. Deliberately narrow: these run over code too.
INJECTION_PATTERNS: dict[str, re.Pattern[str]] = {
    "ignore-instructions": re.compile(
        r"\b(?:ignore|disregard|forget|override)\b[^\n]{0,40}\b(?:previous|prior|above|earlier|all|your|"
        r"system)\b[^\n]{0,20}\b(?:instructions?|prompts?|rules?|directives?|guidelines?)", re.I),
    "score-manipulation": re.compile(
        r"\b(?:give|set|assign|rate|score|report|return|output|make)\b[^\n]{0,40}\brisk(?:[ _-]?score)?\b"
        r"[^\n]{0,20}?(?:\bof\b|\bto\b|\bas\b|=|:|\bbe\b|\bis\b)?\s*(?:0|zero|low|minimal|none)\b", re.I),
    "risk-zero": re.compile(r"\brisk[ _-]?score\b\s*(?:should|must|=|:|is)\s*(?:be\s*)?(?:0|zero)\b", re.I),
    "role-play": re.compile(
        r"\b(?:you are now|act as|pretend to be|new instructions|system prompt|developer mode|jailbreak)\b",
        re.I),
    "addresses-reviewer": re.compile(
        r"\b(?:dear|hey|attention|note to|message to)\s+(?:ai|llm|claude|gpt|assistant|reviewer|bot|model)\b"
        r"|\b(?:ai|llm|claude|assistant|ai reviewer|automated reviewer|language model)\s*[,:]\s*"
        r"(?:please\s+)?(?:ignore|approve|do not|don't|say|report|mark|give|rate|output)", re.I),
    "approve-request": re.compile(
        r"\b(?:approve|lgtm)\s+(?:this|the)\s+(?:pr|pull request|change)\b[^\n]{0,40}\b(?:without|no)\b",
        re.I),
    "fake-role-tag": re.compile(r"</?\s*(?:system|assistant|instructions?)\s*>|^\s*(?:system|assistant)\s*:",
                                re.I | re.M),
}


# Substrings (lower-case) without which a pattern cannot match: a cheap pre-check per file.
INJECTION_HINTS: dict[str, tuple[str, ...]] = {
    "ignore-instructions": ("instruction", "prompt", "rule", "directive", "guideline"),
    "score-manipulation": ("risk",),
    "risk-zero": ("risk",),
    "role-play": ("you are now", "act as", "pretend", "new instructions", "system prompt", "developer mode",
                  "jailbreak"),
    "addresses-reviewer": ("ai", "llm", "claude", "gpt", "assistant", "reviewer", "bot", "model"),
    "approve-request": ("approve", "lgtm"),
    "fake-role-tag": ("system", "assistant", "instruction"),
}


class ModelClient(Protocol):
    async def analyse(self, request: ModelRequest) -> ModelResult: ...


@dataclass(frozen=True)
class PullRequestInput:
    repository: str  # "owner/name"
    number: int
    title: str
    body: str | None
    repo_url: str  # the repository's web URL; the only place output may link to
    head_sha: str = ""


@dataclass(frozen=True)
class AnalysisSettings:
    budget_tokens: int = DEFAULT_BUDGET_TOKENS
    min_review_share: float = DEFAULT_MIN_SHARE
    model: str = ""

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> AnalysisSettings:
        return cls(model=settings.anthropic_model, **overrides)  # type: ignore[arg-type]


# A finding as published: the model's, with its text sanitised (same shape).
Finding = ModelFinding


@dataclass(frozen=True)
class InjectionReport:
    flagged: bool
    by_model: bool
    signals: tuple[str, ...]  # our heuristics: "ignore-instructions in body", "fence-forgery in a.py"
    evidence: str = ""


@dataclass
class Analysis:
    score: int
    floor: RiskFloor
    source: Source
    complexity: str
    estimated_review_minutes: int
    summary: str
    findings: tuple[Finding, ...]
    injection: InjectionReport
    coverage: Coverage
    secrets: Counter[str]
    unicode: UnicodeReport
    prompt_version: str = PROMPT_VERSION
    model: str | None = None
    model_score: int | None = None
    usage: TokenUsage | None = None
    cost: CostEstimate | None = None
    error: str | None = None
    error_kind: str | None = None  # claude.ErrorKind of a failed model call
    notes: list[str] = field(default_factory=list)

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS[self.source]

    @property
    def partial(self) -> bool:
        return self.coverage.partial


_REVEALED = re.compile(r"<U\+[0-9A-F]{4,5}>")


def _injection_signals(text: str, where: str) -> list[str]:
    """Heuristics run on a probe with invisible characters removed and compatibility forms folded,
    so `ig\u200bnore` and full-width letters do not slip past."""
    probe = unicodedata.normalize("NFKC", strip_invisible(_REVEALED.sub("", text)))
    lower = probe.lower()
    return [f"{name} in {where}" for name, rx in INJECTION_PATTERNS.items()
            if any(h in lower for h in INJECTION_HINTS[name]) and rx.search(probe)]


def _reasons(floor: RiskFloor) -> str:
    return "; ".join(r.detail for r in floor.reasons) or "no risk signals"


def _added_lines(patch: str) -> str:
    return "\n".join(line[1:] for line in patch.splitlines() if line.startswith("+"))


def _floor_complexity(lines: int, files: int) -> str:
    if lines <= 100 and files <= 5:
        return "low"
    if lines <= 500 and files <= 20:
        return "medium"
    return "high"


def _floor_minutes(lines: int, files: int) -> int:
    return max(5, min(480, 5 + lines // 25 + files * 2))


async def analyse_pull_request(
    pr: PullRequestInput,
    files: list[PrFile],
    gitattributes: str | None,
    settings: AnalysisSettings,
    model: ModelClient | None,
) -> Analysis:
    attributes = parse_gitattributes(gitattributes)
    unicode = UnicodeReport()
    secrets: Counter[str] = Counter()
    signals: list[str] = []

    raw_title = pr.title or ""
    raw_body = pr.body or ""
    scan(raw_title, "title", unicode)
    scan(raw_body, "body", unicode)
    title = normalise_text(raw_title)
    body = normalise_text(raw_body)
    signals += _injection_signals(title, "title") + _injection_signals(body, "body")

    included: list[PrFile] = []
    excluded: list[tuple[PrFile, str]] = []
    candidates: list[Candidate] = []
    for f in files:
        reason = classify(f, attributes)
        if reason is not None:
            excluded.append((f, reason))
            continue
        included.append(f)
        if not f.patch:
            continue
        scan_patch(f.patch, f.filename, unicode)
        added = _added_lines(f.patch)
        signals += _injection_signals(added, f.filename)
        if neutralise_fences(added)[1]:
            signals.append(f"fence-forgery in {f.filename}")
        red = redact(f.patch)
        secrets.update(red.kinds)
        candidates.append(Candidate(f, reveal(red.text)))
    for text, where in ((title, "title"), (body, "body")):
        if neutralise_fences(text)[1]:
            signals.append(f"fence-forgery in {where}")
    red_title, red_body = redact(title), redact(body)
    secrets.update(red_title.kinds)
    secrets.update(red_body.kinds)
    title, body = red_title.text, red_body.text

    invisible = unicode.counts["invisible"] + unicode.counts["tag"]
    floor = compute_floor(
        included,
        secrets_found=sum(secrets.values()),
        bidi_chars=unicode.bidi,
        invisible_chars=invisible,
        injection_signals=signals,
    )

    overhead = (estimate_tokens(SYSTEM_PROMPT) + PROMPT_OVERHEAD_TOKENS
                + estimate_tokens(title[:TITLE_MAX_CHARS]) + estimate_tokens(body[:BODY_MAX_CHARS]))
    selection = select_diff(candidates, excluded, budget_tokens=settings.budget_tokens - overhead,
                            min_share=settings.min_review_share)
    coverage = selection.coverage
    lines = sum(f.additions + f.deletions for f in included)
    base = Analysis(
        score=floor.score,
        floor=floor,
        source="floor",
        complexity=_floor_complexity(lines, len(included)),
        estimated_review_minutes=_floor_minutes(lines, len(included)),
        summary="",
        findings=(),
        injection=InjectionReport(bool(signals), False, tuple(signals)),
        coverage=coverage,
        secrets=secrets,
        unicode=unicode,
    )
    if model is None:
        base.summary = ("No AI review: ANTHROPIC_API_KEY is not configured. The score is the deterministic "
                        f"risk floor: {_reasons(floor)}.")
        return base

    notes = []
    if unicode.total:
        notes.append(f"Our scanner found {unicode.total} invisible or bidirectional character(s), shown as "
                     "<U+XXXX>.")
    if secrets:
        notes.append(f"{sum(secrets.values())} secret-like value(s) were redacted before sending.")
    request = ModelRequest(
        system=system_blocks(),
        user_content=build_user_content(
            nonce=new_nonce(), repository=pr.repository, title=title, body=body, parts=selection.parts,
            listed=selection.listed, unlisted=selection.unlisted, coverage=coverage, notes=notes,
        ),
        known_files=frozenset(f.filename for f in files),
    )
    result = await model.analyse(request)
    base.model, base.usage, base.cost = result.model, result.usage, result.cost
    if result.cost and result.cost.note:
        base.notes.append(result.cost.note)
    review = result.review
    if review is None:
        base.source = "floor_error"
        base.error, base.error_kind = result.error, result.error_kind
        base.summary = (f"The AI review failed ({result.error_kind}: {result.error}); the score is the "
                        f"deterministic risk floor: {_reasons(floor)}.")
        return base

    base.source = "model"
    base.model_score = review.risk_score
    base.score = max(floor.score, review.risk_score)
    base.complexity = review.complexity
    base.estimated_review_minutes = review.estimated_review_minutes
    base.summary = sanitize_markdown(review.summary, repo_url=pr.repo_url, limit=SUMMARY_MAX_CHARS)
    base.findings = tuple(
        dataclasses.replace(
            f,
            title=sanitize_plain(f.title, limit=FINDING_TITLE_MAX_CHARS),
            explanation=sanitize_markdown(f.explanation, repo_url=pr.repo_url, limit=TEXT_MAX_CHARS),
            suggestion=sanitize_markdown(f.suggestion, repo_url=pr.repo_url, limit=TEXT_MAX_CHARS),
        )
        for f in review.findings
    )
    if review.dropped_findings:
        base.notes.append(f"{review.dropped_findings} finding(s) about files outside this pull request "
                          "were dropped")
    base.injection = InjectionReport(
        flagged=bool(signals) or review.prompt_injection_detected,
        by_model=review.prompt_injection_detected,
        signals=tuple(signals),
        evidence=sanitize_plain(review.prompt_injection_evidence, limit=EVIDENCE_MAX_CHARS),
    )
    return base
