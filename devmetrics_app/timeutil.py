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
