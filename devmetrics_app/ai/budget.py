"""Fit the diff into a token budget, and say exactly what was reviewed, clipped and skipped.

Files go in whole, riskiest first (sensitive paths, then size); then files that did not fit are
clipped hunk by hunk into what is left, riskiest first; the rest are listed by name only. Deletion-only hunks
are dropped before anything is counted: removed code cannot introduce a bug that reading it would
catch, and the floor already scores deleted tests. The share of changed lines that reached the
model decides PARTIAL.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .files import SKIP_NO_PATCH, PrFile
from .risk_floor import file_risk

# Code tokenises denser than prose; 3.2 ASCII characters per token keeps estimates on the safe
# side of Claude's tokenizer. Non-ASCII characters cost about one token each.
CHARS_PER_TOKEN = 3.2
DEFAULT_BUDGET_TOKENS = 30_000
DEFAULT_MIN_SHARE = 0.8
MIN_CLIP_TOKENS = 300  # below this a clipped file is more confusing than useful
NAME_LIST_SHARE = 0.1  # at most this much of the budget lists files that did not fit

SKIP_OVER_BUDGET = "over token budget (listed by name)"
SKIP_DELETION_ONLY = "deletion only"
SKIP_NO_CHANGES = "no content changes"


def estimate_tokens(text: str) -> int:
    if not text:
        return 0
    non_ascii = sum(1 for ch in text if ord(ch) > 127) if not text.isascii() else 0
    return math.ceil((len(text) - non_ascii) / CHARS_PER_TOKEN + non_ascii)


def split_hunks(patch: str) -> list[str]:
    hunks: list[list[str]] = []
    for line in patch.splitlines():
        if line.startswith("@@") or not hunks:
            hunks.append([line])
        else:
            hunks[-1].append(line)
    return ["\n".join(h) for h in hunks]


def _changed_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line[:1] in {"+", "-"} and not line.startswith("@@"))


def drop_deletion_only_hunks(patch: str) -> tuple[str, int]:
    """The patch without hunks that only delete; returns (patch, deleted lines dropped)."""
    kept: list[str] = []
    dropped = 0
    for hunk in split_hunks(patch):
        body = hunk.splitlines()[1:] if hunk.startswith("@@") else hunk.splitlines()
        if any(line.startswith("+") for line in body):
            kept.append(hunk)
        else:
            dropped += sum(1 for line in body if line.startswith("-"))
    return "\n".join(kept), dropped


@dataclass(frozen=True)
class ReviewPart:
    filename: str
    status: str
    previous_filename: str | None
    text: str
    clipped: bool
    tokens: int


@dataclass(frozen=True)
class Coverage:
    reviewed: tuple[str, ...]
    clipped: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    share_reviewed: float
    partial: bool
    input_tokens_estimate: int = 0
    budget_tokens: int = 0

    def describe(self) -> str:
        label = "PARTIAL review" if self.partial else "Review"
        return (f"{label}: {len(self.reviewed)} file(s) reviewed, {len(self.clipped)} clipped, "
                f"{len(self.skipped)} skipped; {self.share_reviewed:.0%} of changed lines reviewed.")


@dataclass(frozen=True)
class Selection:
    parts: tuple[ReviewPart, ...]
    listed: tuple[str, ...]  # files that did not fit, named in the prompt
    unlisted: int  # files that did not fit and for whose names there was no room either
    coverage: Coverage


@dataclass(frozen=True)
class Candidate:
    """A reviewable file with its patch already redacted and made safe to send."""

    file: PrFile
    patch: str


def _header(file: PrFile) -> str:
    moved = f" (renamed from {file.previous_filename})" if file.previous_filename else ""
    return f"### {file.filename} [{file.status}]{moved}\n"


def _clip(header: str, text: str, room: int) -> tuple[str, int]:
    """As many whole hunks as fit in `room` tokens (or a prefix of the first); (text, tokens)."""
    used = estimate_tokens(header)
    kept: list[str] = []
    for hunk in split_hunks(text):
        cost = estimate_tokens(hunk) + 1
        if used + cost <= room:
            kept.append(hunk)
            used += cost
    if not kept:
        lines: list[str] = []
        for line in text.splitlines():
            cost = estimate_tokens(line) + 1
            if used + cost > room:
                break
            lines.append(line)
            used += cost
        kept = ["\n".join(lines)] if lines else []
    return "\n".join(kept), used


def select_diff(
    candidates: Sequence[Candidate],
    excluded: Sequence[tuple[PrFile, str]] = (),
    *,
    budget_tokens: int = DEFAULT_BUDGET_TOKENS,
    min_share: float = DEFAULT_MIN_SHARE,
    priority: Callable[[PrFile], float] = file_risk,
) -> Selection:
    """`budget_tokens` is for the diff part of the prompt alone (the caller subtracts the rest)."""
    budget_tokens = max(0, budget_tokens)
    skipped: list[tuple[str, str]] = [(f.filename, reason) for f, reason in excluded]
    # Lockfiles, generated and vendored files are left out on purpose and do not count; a file
    # GitHub sent no diff for (too large) is change nobody read, so it does.
    total_lines = sum(f.additions + f.deletions for f, reason in excluded if reason == SKIP_NO_PATCH)
    prepared: list[tuple[PrFile, str, int]] = []
    for cand in candidates:
        text, dropped = drop_deletion_only_hunks(cand.patch)
        lines = max(0, cand.file.additions + cand.file.deletions - dropped)
        if not text.strip():
            reason = SKIP_DELETION_ONLY if dropped else SKIP_NO_CHANGES
            skipped.append((cand.file.filename, reason))
            continue
        total_lines += lines
        prepared.append((cand.file, text, lines))
    prepared.sort(key=lambda p: (-priority(p[0]), -p[2], p[0].filename))

    name_costs = [estimate_tokens(f.filename) + 2 for f, _, _ in prepared]
    reserve = min(sum(name_costs), int(budget_tokens * NAME_LIST_SHARE))
    room = budget_tokens - reserve
    parts: list[ReviewPart] = []
    deferred: list[tuple[PrFile, str, int]] = []
    reviewed_lines = 0
    # Pass 1: whole files, riskiest first. Pass 2: clip what did not fit, riskiest first, into
    # what is left; so a big file never crowds out several small whole ones.
    for file, text, lines in prepared:
        cost = estimate_tokens(_header(file)) + estimate_tokens(text) + 1
        if cost <= room:
            parts.append(ReviewPart(file.filename, file.status, file.previous_filename, text, False, cost))
            room -= cost
            reviewed_lines += lines
        else:
            deferred.append((file, text, lines))
    left_out: list[PrFile] = []
    for file, text, lines in deferred:
        clipped_text, used = _clip(_header(file), text, room) if room >= MIN_CLIP_TOKENS else ("", 0)
        if clipped_text:
            parts.append(ReviewPart(file.filename, file.status, file.previous_filename, clipped_text,
                                    True, used))
            room -= used
            reviewed_lines += min(lines, _changed_lines(clipped_text))
        else:
            left_out.append(file)

    room += reserve
    listed: list[str] = []
    for file in left_out:
        cost = estimate_tokens(file.filename) + 2
        if cost > room:
            break
        listed.append(file.filename)
        room -= cost
    skipped.extend((f.filename, SKIP_OVER_BUDGET) for f in left_out)

    share = 1.0 if total_lines == 0 else reviewed_lines / total_lines
    used_tokens = budget_tokens - room
    coverage = Coverage(
        reviewed=tuple(p.filename for p in parts if not p.clipped),
        clipped=tuple(p.filename for p in parts if p.clipped),
        skipped=tuple(skipped),
        share_reviewed=round(share, 4),
        partial=share < min_share,
        input_tokens_estimate=used_tokens,
        budget_tokens=budget_tokens,
    )
    return Selection(tuple(parts), tuple(listed), len(left_out) - len(listed), coverage)

