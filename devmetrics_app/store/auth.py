"""Users' GitHub OAuth tokens (encrypted) and named API tokens (hashed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from devmetrics_app.crypto import SecretBox, random_token, token_hash
from devmetrics_app.timeutil import utcnow

API_TOKEN_PREFIX = "dm_"  # noqa: S105 - a prefix, not a secret
# Writing last_used_at on every request would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=5)


@dataclass(frozen=True)
class OAuthTokens:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    refresh_expires_at: datetime | None

    def __repr__(self) -> str:
        return f"OAuthTokens(expires_at={self.expires_at!r}, secrets=***)"


async def save_oauth_tokens(conn: asyncpg.Connection | asyncpg.Pool, box: SecretBox, user_id: int,
                            tokens: OAuthTokens) -> None:
    await conn.execute(
        """INSERT INTO user_tokens (user_id, access_token_enc, refresh_token_enc, expires_at,
                                    refresh_expires_at, revoked_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, NULL, now())
           ON CONFLICT (user_id) DO UPDATE SET
               access_token_enc = EXCLUDED.access_token_enc,
               refresh_token_enc = EXCLUDED.refresh_token_enc,
               expires_at = EXCLUDED.expires_at,
               refresh_expires_at = EXCLUDED.refresh_expires_at,
               revoked_at = NULL, updated_at = now()""",
        user_id, box.encrypt(tokens.access_token),
        box.encrypt(tokens.refresh_token) if tokens.refresh_token else None,
        tokens.expires_at, tokens.refresh_expires_at,
    )


async def load_oauth_tokens(conn: asyncpg.Connection | asyncpg.Pool, box: SecretBox,
                            user_id: int) -> OAuthTokens | None:
    row = await conn.fetchrow(
        "SELECT * FROM user_tokens WHERE user_id = $1 AND revoked_at IS NULL", user_id)
    if row is None:
        return None
    return OAuthTokens(
        access_token=box.decrypt(row["access_token_enc"]),
        refresh_token=box.decrypt(row["refresh_token_enc"]) if row["refresh_token_enc"] else None,
        expires_at=row["expires_at"], refresh_expires_at=row["refresh_expires_at"],
    )


@dataclass(frozen=True)
class ApiToken:
    id: str
    user_id: int
    installation_id: int | None
    name: str
    role: str | None
    grants_access: bool
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def public(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "installation": self.installation_id,
                "role": self.role, "created_at": self.created_at, "expires_at": self.expires_at,
                "last_used_at": self.last_used_at, "revoked": self.revoked_at is not None}


API_TOKEN_COLUMNS = ", ".join((
    "id", "user_id", "installation_id", "name", "role", "grants_access", "created_at",
    "expires_at", "last_used_at", "revoked_at"))


async def create_api_token(conn: asyncpg.Connection | asyncpg.Pool, *, user_id: int, name: str,
                           installation_id: int | None, role: str | None,
                           expires_at: datetime | None, grants_access: bool = False,
                           ) -> tuple[ApiToken, str]:
    """Create a token; the secret is returned once and only its hash is kept."""
    secret = random_token(API_TOKEN_PREFIX)
    row = await conn.fetchrow(
        f"""INSERT INTO api_tokens (id, user_id, installation_id, name, token_hash, role, expires_at,
                                    grants_access)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {API_TOKEN_COLUMNS}""",  # noqa: S608
        random_token(nbytes=9), user_id, installation_id, name, token_hash(secret), role, expires_at,
        grants_access,
    )
    return ApiToken(**dict(row)), secret


async def list_api_tokens(conn: asyncpg.Connection | asyncpg.Pool, user_id: int) -> list[ApiToken]:
    rows = await conn.fetch(
        f"SELECT {API_TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at",  # noqa: S608
        user_id)
    return [ApiToken(**dict(r)) for r in rows]


async def revoke_api_token(conn: asyncpg.Connection | asyncpg.Pool, user_id: int, token_id: str) -> bool:
    status = await conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        token_id, user_id)
    return status.endswith(" 1")


async def authenticate_api_token(conn: asyncpg.Connection | asyncpg.Pool, secret: str) -> ApiToken | None:
    """The live token for `secret`: not revoked, not expired, and its user has not revoked the app."""
    row = await conn.fetchrow(
        f"""SELECT {", ".join("t." + c for c in API_TOKEN_COLUMNS.split(", "))}
            FROM api_tokens t JOIN users u ON u.id = t.user_id
            WHERE t.token_hash = $1 AND t.revoked_at IS NULL
              AND (t.expires_at IS NULL OR t.expires_at > now())
              AND (u.app_revoked_at IS NULL OR u.app_revoked_at < t.created_at)""",  # noqa: S608
        token_hash(secret))
    if row is None:
        return None
    token = ApiToken(**dict(row))
    if token.last_used_at is None or utcnow() - token.last_used_at > LAST_USED_RESOLUTION:
        await conn.execute("UPDATE api_tokens SET last_used_at = now() WHERE id = $1", token.id)
    return token
