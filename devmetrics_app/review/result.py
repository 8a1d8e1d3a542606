"""What a published review says, in one shape whether it was just computed or read back.

A rebase with the same diff re-publishes a stored result without calling anyone, so the check run
and the comment are rendered from this, never from `ai.analysis.Analysis` directly. The row keeps
the coverage block, notices and injection flags in `coverage` (jsonb), beside the scalar columns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from devmetrics_app.ai.analysis import Analysis

HIGH_RISK = 70
MEDIUM_RISK = 40
BUDGET_SOURCE = "floor_budget"
SOURCE_LABELS = {
    "model": "Claude review, floored by deterministic checks",
    "floor": "Deterministic risk floor only (no ANTHROPIC_API_KEY configured)",
    "floor_error": "Deterministic risk floor only (the AI review failed)",
    BUDGET_SOURCE: "Deterministic risk floor only (monthly AI budget reached)",
}


def risk_level(score: int) -> str:
    return "high" if score >= HIGH_RISK else "medium" if score >= MEDIUM_RISK else "low"


@dataclass
class ReviewResult:
    score: int
    floor_score: int
    source: str
    complexity: str
    review_minutes: int
    summary: str
    findings: list[dict[str, Any]]
    floor_reasons: list[dict[str, Any]]
    coverage: dict[str, Any]
    injection: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    unicode_locations: list[str] = field(default_factory=list)
    model: str | None = None
    error: str | None = None
    reused: bool = False  # copied from the review of another head with the same diff, at no cost

    @property
    def level(self) -> str:
        return risk_level(self.score)

    @property
    def partial(self) -> bool:
        return bool(self.coverage.get("partial"))

    @property
    def injection_flagged(self) -> bool:
        return bool(self.injection.get("flagged"))

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS.get(self.source, self.source)

    def coverage_doc(self) -> dict[str, Any]:
        """The `coverage` column: the coverage block plus notices, injection flags and where
        invisible characters sit, so a stored result can be rendered again exactly."""
        return {**self.coverage, "notes": self.notes, "injection": self.injection,
                "unicode_locations": self.unicode_locations, "reused": self.reused}


def from_analysis(analysis: Analysis, *, notes: list[str] | tuple[str, ...] = (),
                  source: str | None = None) -> ReviewResult:
    cov = analysis.coverage
    return ReviewResult(
        score=analysis.score,
        floor_score=analysis.floor.score,
        source=source or analysis.source,
        complexity=analysis.complexity,
        review_minutes=analysis.estimated_review_minutes,
        summary=analysis.summary,
        findings=[asdict(f) for f in analysis.findings],
        floor_reasons=[{"code": r.code, "points": r.points, "detail": r.detail}
                       for r in analysis.floor.reasons],
        coverage={"reviewed": list(cov.reviewed), "clipped": list(cov.clipped),
                  "skipped": [list(s) for s in cov.skipped], "share_reviewed": cov.share_reviewed,
                  "partial": cov.partial, "input_tokens_estimate": cov.input_tokens_estimate,
                  "budget_tokens": cov.budget_tokens},
        injection={"flagged": analysis.injection.flagged, "by_model": analysis.injection.by_model,
                   "signals": list(analysis.injection.signals), "evidence": analysis.injection.evidence},
        notes=[*notes, *analysis.notes],
        unicode_locations=list(analysis.unicode.locations),
        model=analysis.model,
        error=analysis.error,
    )


def _json(value: Any, default: Any) -> Any:
    if value is None:
        return default
    return json.loads(value) if isinstance(value, str) else value


def from_row(row: Mapping[str, Any]) -> ReviewResult:
    coverage = dict(_json(row["coverage"], {}))
    notes = coverage.pop("notes", [])
    injection = coverage.pop("injection", {"flagged": row["injection_flagged"]})
    locations = coverage.pop("unicode_locations", [])
    reused = bool(coverage.pop("reused", False))
    return ReviewResult(
        score=row["risk_score"] or 0, floor_score=row["floor_score"] or 0, source=row["source"] or "floor",
        complexity=row["complexity"] or "low", review_minutes=row["review_minutes"] or 0,
        summary=row["summary"] or "", findings=list(_json(row["findings"], [])),
        floor_reasons=list(_json(row["floor_reasons"], [])), coverage=coverage, injection=injection,
        notes=list(notes), unicode_locations=list(locations), model=row["model"], error=row["error"],
        reused=reused,
    )
