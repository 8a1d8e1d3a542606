"""Secrets at rest and signing keys, all derived from SECRET_KEY.

Each purpose gets its own key through HKDF, so a key leaked from one use (say, a session
signature) says nothing about another (the Fernet key that encrypts OAuth tokens).
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HKDF_SALT = b"devmetrics-v1"
PURPOSE_ENCRYPTION = b"secrets-at-rest"
PURPOSE_TOKENS = b"api-bearer-tokens"


class DecryptionError(Exception):
    """A stored secret cannot be decrypted: SECRET_KEY changed, or the value was tampered with."""


def derive_key(secret_key: str, purpose: bytes, *, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=HKDF_SALT,
                info=purpose).derive(secret_key.encode())


class SecretBox:
    """Fernet encryption of short secrets (tokens, keys) for storage in bytea columns."""

    def __init__(self, secret_key: str) -> None:
        key = derive_key(secret_key, PURPOSE_ENCRYPTION)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken:
            raise DecryptionError("stored secret cannot be decrypted (was SECRET_KEY changed?)") \
                from None


def random_token(prefix: str = "", nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """API tokens are stored as hashes: a database leak does not leak usable tokens."""
    return hashlib.sha256(token.encode()).hexdigest()
