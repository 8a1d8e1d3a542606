"""The GitHub App's own credentials when registered through the setup page (encrypted)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from devmetrics_app.crypto import SecretBox


@dataclass(frozen=True)
class StoredAppCredentials:
    app_id: int
    slug: str
    html_url: str | None
    client_id: str
    client_secret: str
    private_key: str
    webhook_secret: str

    def __repr__(self) -> str:
        return f"StoredAppCredentials(app_id={self.app_id}, slug={self.slug!r}, secrets=***)"


async def save(conn: asyncpg.Connection, box: SecretBox, creds: StoredAppCredentials) -> bool:
    """Store the credentials unless some are stored already; True when these were stored.

    One deployment serves one app: a second registration must not silently replace the first
    (that would hand the deployment to whoever finished the setup flow last)."""
    status = await conn.execute(
        """INSERT INTO app_credentials (id, app_id, slug, html_url, client_id, client_secret_enc,
                                        private_key_enc, webhook_secret_enc)
           VALUES (1, $1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING""",
        creds.app_id, creds.slug, creds.html_url, creds.client_id,
        box.encrypt(creds.client_secret), box.encrypt(creds.private_key),
        box.encrypt(creds.webhook_secret),
    )
    return status.endswith(" 1")


async def load(conn: asyncpg.Connection | asyncpg.Pool, box: SecretBox) -> StoredAppCredentials | None:
    row = await conn.fetchrow("SELECT * FROM app_credentials WHERE id = 1")
    if row is None:
        return None
    return StoredAppCredentials(
        app_id=row["app_id"], slug=row["slug"], html_url=row["html_url"],
        client_id=row["client_id"], client_secret=box.decrypt(row["client_secret_enc"]),
        private_key=box.decrypt(row["private_key_enc"]),
        webhook_secret=box.decrypt(row["webhook_secret_enc"]),
    )
