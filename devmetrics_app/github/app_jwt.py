"""The app's JSON Web Token (RS256), which authenticates DevMetrics *as the app* (GET /app,
minting installation tokens, redeliveries)."""

from __future__ import annotations

import hashlib
import time

import jwt

ALGORITHM = "RS256"
# GitHub: set `iat` 60 seconds in the past to allow for clock drift.
CLOCK_DRIFT_SECONDS = 60
# GitHub rejects an `exp` more than 10 minutes after `iat`; stay below it.
LIFETIME_SECONDS = 9 * 60
# Reuse a JWT while it still has at least a few minutes to live.
REUSE_SECONDS = 5 * 60


def encode_app_jwt(app_id: int | str, private_key: str, *, now: float | None = None,
                   lifetime: int = LIFETIME_SECONDS) -> str:
    """A fresh app JWT. `iss` must be the app id as a *string*."""
    issued_at = int(time.time() if now is None else now) - CLOCK_DRIFT_SECONDS
    claims = {"iat": issued_at, "exp": issued_at + lifetime, "iss": str(app_id)}
    return jwt.encode(claims, private_key, algorithm=ALGORITHM)


class AppJWTCache:
    """Signing is an RSA operation; one JWT serves every app request for a few minutes."""

    def __init__(self, *, reuse_seconds: float = REUSE_SECONDS) -> None:
        self._reuse_seconds = reuse_seconds
        self._key: tuple[int, str] | None = None
        self._token = ""
        self._minted_at = 0.0

    def get(self, app_id: int, private_key: str) -> str:
        # Keyed on the credentials so a newly registered app is never served a stale identity.
        key = (app_id, hashlib.sha256(private_key.encode()).hexdigest())
        now = time.monotonic()
        if key != self._key or now - self._minted_at >= self._reuse_seconds:
            self._token = encode_app_jwt(app_id, private_key)
            self._key, self._minted_at = key, now
        return self._token

    def clear(self) -> None:
        self._key = None
