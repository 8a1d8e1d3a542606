"""One pull request as a reader wants it: a single timeline in time order, and the AI review's
coverage in words.

The stored events, the reviews and the pull request row each know some of the same moments
("opened" is an event and `github_created_at`; "merged" is an event and `merged_at`), and a
redelivered webhook may store a moment twice. The page shows each moment once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

ONCE = frozenset({"opened", "merged"})  # a pull request opens and merges at most once
SHA_SHOWN = 7
FILES_SHOWN = 60  # file names per coverage list; the rest are counted


def _event_text(kind: str, subject: str | None) -> str:
    subject = subject or ""
    who = subject.split(":", 1)[-1]
    if kind == "review_requested":
        return f"review requested from {who}" if who else "review requested"
    if kind == "review_request_removed":
        return f"review request for {who} removed" if who else "review request removed"
    if kind == "synchronize":
        return f"new commits pushed (head {subject[:SHA_SHOWN]})" if subject else "new commits pushed"
    if kind == "converted_to_draft":
        return "converted to draft"
    return kind.replace("_", " ")


def timeline(pr: Mapping[str, Any], events: Iterable[Mapping[str, Any]],
             reviews: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every moment once, oldest first: [{"at": datetime, "text": str}]."""
    entries: list[tuple[datetime, str, str]] = []  # (at, kind, text)
    for event in events:
        entries.append((event["occurred_at"], event["kind"], _event_text(event["kind"], event["subject"])))
    for review in reviews:
        if review["submitted_at"]:
            state = str(review["state"] or "").lower().replace("_", " ")
            entries.append((review["submitted_at"], "review", f"{review['reviewer_login']} {state}"))
    kinds = {kind for _, kind, _ in entries}
    # The row's own moments stand in for events that were never delivered.
    if "opened" not in kinds and pr.get("github_created_at"):
        entries.append((pr["github_created_at"], "opened", "opened"))
    if pr.get("merged_at") and "merged" not in kinds:
        entries.append((pr["merged_at"], "merged", "merged"))
    elif not pr.get("merged_at") and pr.get("closed_at") and "closed" not in kinds:
        entries.append((pr["closed_at"], "closed", "closed"))
    seen: set[tuple[Any, ...]] = set()
    out: list[dict[str, Any]] = []
    for at, kind, text in sorted(entries, key=lambda e: (e[0], e[1] != "opened")):
        key: tuple[Any, ...] = (kind,) if kind in ONCE else (kind, at, text)
        if key in seen:
            continue
        seen.add(key)
        out.append({"at": at, "text": text})
    return out


def _names(paths: Any) -> dict[str, Any]:
    if isinstance(paths, int):  # an older row's count without names
        return {"shown": [], "more": 0, "count": paths}
    names = [str(p) for p in paths or ()] if isinstance(paths, list | tuple) else []
    return {"shown": names[:FILES_SHOWN], "more": max(0, len(names) - FILES_SHOWN), "count": len(names)}


def findings(items: Any) -> list[Mapping[str, Any]]:
    """The model's findings; anything that is not a finding object is left out."""
    return [item for item in items or () if isinstance(item, Mapping)] if isinstance(items, list) else []


def coverage(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The stored coverage document as sentences and file lists (never a raw dump).

    Skipped files are stored as [path, reason] pairs; older rows may hold other shapes, so
    anything unexpected is shown as text rather than failing the page."""
    if not isinstance(doc, Mapping) or not doc:
        return None
    skipped = []
    for item in doc.get("skipped") or ():
        if isinstance(item, list | tuple) and item:
            skipped.append({"path": str(item[0]), "reason": " ".join(str(x) for x in item[1:])})
        else:
            skipped.append({"path": str(item), "reason": ""})
    share = doc.get("share_reviewed")
    reviewed = _names(doc.get("reviewed"))
    injection = doc.get("injection") if isinstance(doc.get("injection"), Mapping) else {}
    return {
        "partial": bool(doc.get("partial")),
        "share": f"{float(share):.0%}" if isinstance(share, int | float) else None,
        "reviewed": reviewed, "clipped": _names(doc.get("clipped")),
        "skipped": skipped[:FILES_SHOWN], "skipped_more": max(0, len(skipped) - FILES_SHOWN),
        "notes": [str(n) for n in doc.get("notes") or () if str(n).strip()],
        "injection_flagged": bool(injection.get("flagged")),
    }
