"""How long a pull request has been waiting for review (pure: no I/O, the clock is an argument).

The clock starts at the latest review request, or -- with none -- when the PR became ready for
review. It stops at the first review submitted after it started (a new request restarts it). Time
spent in draft does not count: converting to draft pauses the clock and ready-for-review resumes
it, so flipping a PR to draft and back does not forgive the wait that came before. With business
hours, only time inside the rule's working window (in the rule's time zone, DST included) counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A clock never looks further back than this: bounds the business-hours walk.
MAX_LOOKBACK = timedelta(days=400)


@dataclass(frozen=True)
class BusinessHours:
    start: time
    end: time
    days: frozenset[int]  # ISO weekdays, 1 = Monday

    @classmethod
    def from_conditions(cls, raw: dict | None) -> BusinessHours | None:
        if not raw:
            return None
        return cls(time.fromisoformat(raw["start"]), time.fromisoformat(raw["end"]),
                   frozenset(raw.get("days") or (1, 2, 3, 4, 5)))


@dataclass(frozen=True)
class Timeline:
    """What the clock needs to know about one PR."""

    open: bool
    draft: bool
    ready_at: datetime | None  # first time it left draft (creation when never a draft)
    opened_as_draft: bool | None  # None when the opened event was never seen
    # (moment, became_draft) for converted_to_draft (True) and ready_for_review (False).
    draft_changes: Sequence[tuple[datetime, bool]] = ()
    review_requests: Sequence[datetime] = ()
    reviews: Sequence[datetime] = ()  # submitted_at of reviews by someone other than the author
    created_at: datetime | None = None


@dataclass(frozen=True)
class Clock:
    started_at: datetime | None
    waited: timedelta
    paused: bool = False
    stopped_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.started_at is not None and self.stopped_at is None and not self.paused


IDLE = Clock(started_at=None, waited=timedelta(0))


def review_clock(timeline: Timeline, now: datetime, *, business_hours: BusinessHours | None = None,
                 tz: ZoneInfo | None = None) -> Clock:
    if not timeline.open:
        return IDLE
    start = max(timeline.review_requests, default=None) or timeline.ready_at
    if start is None:
        return IDLE  # never ready, never asked: nobody is waiting yet
    start = max(start, now - MAX_LOOKBACK)
    stopped = min((r for r in timeline.reviews if r >= start), default=None)
    end = min(stopped, now) if stopped else now
    active = _subtract(start, end, _draft_intervals(timeline, now))
    waited = sum((_overlap(a, b, business_hours, tz or ZoneInfo("UTC")) for a, b in active),
                 timedelta(0))
    return Clock(started_at=start, waited=waited, paused=timeline.draft, stopped_at=stopped)


def _draft_intervals(timeline: Timeline, now: datetime) -> list[tuple[datetime, datetime]]:
    changes = sorted(timeline.draft_changes)
    if timeline.opened_as_draft is None and not changes:
        # Nothing recorded: if it is a draft now we cannot say since when, so all of it is draft.
        return [(datetime.min.replace(tzinfo=UTC), now)] if timeline.draft else []
    intervals: list[tuple[datetime, datetime]] = []
    since = timeline.created_at if timeline.opened_as_draft else None
    if since is None and timeline.opened_as_draft:
        since = datetime.min.replace(tzinfo=UTC)
    for moment, became_draft in changes:
        if became_draft and since is None:
            since = moment
        elif not became_draft and since is not None:
            intervals.append((since, moment))
            since = None
    if since is not None:
        intervals.append((since, now))
    return intervals


def _subtract(start: datetime, end: datetime,
              holes: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """[start, end) minus the holes, as sorted disjoint intervals."""
    pieces = [(start, end)] if end > start else []
    for h_start, h_end in holes:
        next_pieces = []
        for a, b in pieces:
            if h_end <= a or h_start >= b:
                next_pieces.append((a, b))
                continue
            if h_start > a:
                next_pieces.append((a, h_start))
            if h_end < b:
                next_pieces.append((h_end, b))
        pieces = next_pieces
    return pieces


def _overlap(a: datetime, b: datetime, hours: BusinessHours | None, tz: ZoneInfo) -> timedelta:
    if hours is None:
        return b - a
    total = timedelta(0)
    day = a.astimezone(tz).date() - timedelta(days=1)  # an overnight window may start the day before
    last = b.astimezone(tz).date()
    while day <= last:
        if day.isoweekday() in hours.days:
            # Convert to UTC at once: same-zone aware arithmetic is wall-clock, wrong across DST.
            w_start = datetime.combine(day, hours.start, tzinfo=tz).astimezone(UTC)
            w_end_day = day if hours.end > hours.start else day + timedelta(days=1)
            w_end = datetime.combine(w_end_day, hours.end, tzinfo=tz).astimezone(UTC)
            lo, hi = max(a, w_start), min(b, w_end)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total


def format_wait(waited: timedelta) -> str:
    """'3d 4h', '5h 12m', '42m': short enough for a Slack context line."""
    minutes = int(waited.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"
