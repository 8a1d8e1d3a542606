"""GitHub timestamps: ISO-8601 strings almost everywhere, unix seconds in `push` payloads."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_ts(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"not a timestamp: {value!r}")


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_days(*moments: object) -> list[str]:
    """The distinct UTC days (ISO dates, sorted) of the given timestamps; None is skipped."""
    days = set()
    for moment in moments:
        parsed = moment if isinstance(moment, datetime) else parse_ts(moment)
        if parsed is not None:
            days.add((parsed.astimezone(UTC) if parsed.tzinfo else parsed).date().isoformat())
    return sorted(days)
