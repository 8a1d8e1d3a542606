"""GitHub webhook signatures (X-Hub-Signature-256): HMAC-SHA256 over the raw body."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(secret: str, body: bytes | bytearray) -> str:
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes | bytearray, header: str | None) -> bool:
    """Constant-time check; only sha256 is accepted (no SHA-1 fallback)."""
    if not header or not header.startswith(PREFIX) or not secret:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())
