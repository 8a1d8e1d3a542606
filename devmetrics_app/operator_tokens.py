"""`devmetrics token create`: an operator grants a user an installation, for automation and
first-run checks, without the user signing in through GitHub."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from devmetrics_app.store.auth import create_api_token
from devmetrics_app.timeutil import utcnow

MAX_DAYS = 366


class TokenError(Exception):
    pass


async def mint_operator_token(database_url: str, *, login: str, installation_id: int, role: str,
                              days: int) -> str:
    if not 1 <= days <= MAX_DAYS:
        raise TokenError(f"--days must be between 1 and {MAX_DAYS}")
    conn = await asyncpg.connect(database_url)
    try:
        user_id = await conn.fetchval("SELECT id FROM users WHERE lower(login) = lower($1)", login)
        if user_id is None:
            raise TokenError(f"no GitHub user {login!r} is known yet: users appear once they sign "
                             "in or act in a repository of an installation")
        installation = await conn.fetchrow(
            "SELECT deleted_at, suspended_at FROM installations WHERE id = $1", installation_id)
        if installation is None:
            raise TokenError(f"installation {installation_id} is unknown")
        if installation["deleted_at"] or installation["suspended_at"]:
            raise TokenError(f"installation {installation_id} is uninstalled or suspended")
        _, secret = await create_api_token(
            conn, user_id=user_id, name=f"operator: {role.lower()} on {installation_id}",
            installation_id=installation_id, role=role,
            expires_at=utcnow() + timedelta(days=days), grants_access=True)
        return secret
    finally:
        await conn.close()
