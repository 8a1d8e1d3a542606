"""Channel senders. Each raises one of three errors so delivery can decide what happens next:
wait and retry (RateLimited, TransientFailure) or stop and flag the rule (PermanentFailure)."""

from __future__ import annotations


class ChannelError(Exception):
    """A send did not go through; the message says why, in the service's own words."""


class TransientFailure(ChannelError):
    """Worth retrying with back-off: a 5xx, a timeout, a dropped connection."""


class RateLimited(TransientFailure):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentFailure(ChannelError):
    """Retrying cannot help (revoked token, deleted channel or webhook): a person must act."""


def retry_after_seconds(value: object, default: float) -> float:
    """Retry-After as seconds (services send a number; be lenient about its form)."""
    try:
        seconds = float(str(value))
    except (TypeError, ValueError):
        return default
    return seconds if seconds >= 0 else default
