"""Members of an installation as the API reads and edits them (webhook writes live in
store/installations.py)."""

from __future__ import annotations

import asyncpg


async def list_members(db: asyncpg.Connection | asyncpg.Pool, installation_id: int) -> list[asyncpg.Record]:
    return await db.fetch(
        """SELECT u.id, u.login, u.avatar_url, m.role, m.source, m.github_role
           FROM memberships m JOIN users u ON u.id = m.user_id
           WHERE m.installation_id = $1 AND m.removed_at IS NULL ORDER BY u.login""",
        installation_id)


async def is_known_user(db: asyncpg.Connection | asyncpg.Pool, installation_id: int, user_id: int) -> bool:
    """A role may go to a current member or to anyone who signed in (holds a user token)."""
    known = await db.fetchval(
        """SELECT 1 FROM users u WHERE u.id = $1 AND (
               EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id
                       AND m.installation_id = $2 AND m.removed_at IS NULL)
               OR EXISTS (SELECT 1 FROM user_tokens t WHERE t.user_id = u.id))""",
        user_id, installation_id)
    return bool(known)


async def set_manual_role(db: asyncpg.Connection | asyncpg.Pool, *, installation_id: int,
                          organization_id: int | None, user_id: int, role: str) -> None:
    """A removed membership stays removed: the update only touches a live row."""
    await db.execute(
        """INSERT INTO memberships (installation_id, organization_id, user_id, role, source)
           VALUES ($1, $2, $3, $4, 'manual')
           ON CONFLICT (installation_id, user_id) DO UPDATE
               SET role = EXCLUDED.role, source = 'manual', updated_at = now()
               WHERE memberships.removed_at IS NULL""",
        installation_id, organization_id, user_id, role)


# Someone belongs to an installation when they are a member or left work in it.
USER_IN_INSTALLATION = """
SELECT EXISTS (SELECT 1 FROM memberships WHERE installation_id = $1 AND user_id = $2
                                           AND removed_at IS NULL)
    OR EXISTS (SELECT 1 FROM pull_requests WHERE installation_id = $1 AND author_id = $2)
    OR EXISTS (SELECT 1 FROM pull_request_reviews WHERE installation_id = $1 AND reviewer_id = $2)
    OR EXISTS (SELECT 1 FROM team_members WHERE installation_id = $1 AND user_id = $2)
"""


async def belongs_to_installation(db: asyncpg.Connection | asyncpg.Pool, installation_id: int,
                                  user_id: int) -> bool:
    return bool(await db.fetchval(USER_IN_INSTALLATION, installation_id, user_id))


async def list_for_settings(db: asyncpg.Connection | asyncpg.Pool,
                            installation_id: int) -> list[asyncpg.Record]:
    """The settings page's table: case-insensitive by login."""
    return await db.fetch(
        """SELECT u.id, u.login, m.role, m.source, m.github_role
           FROM memberships m JOIN users u ON u.id = m.user_id
           WHERE m.installation_id = $1 AND m.removed_at IS NULL ORDER BY lower(u.login)""",
        installation_id)


async def set_role_of_member(db: asyncpg.Connection | asyncpg.Pool, installation_id: int, user_id: int,
                             role: str) -> bool:
    """Only a current member's role changes; False when there is none (the page answers 404)."""
    updated = await db.fetchval(
        """UPDATE memberships SET role = $3, source = 'manual', updated_at = now()
           WHERE installation_id = $1 AND user_id = $2 AND removed_at IS NULL RETURNING user_id""",
        installation_id, user_id, role)
    return updated is not None


# The caller's role in each candidate installation that is live and that they may still use:
# their membership's, else ADMIN for the installer or a personal account's owner, else $3 (the
# default member role); `ask_github` marks organisation roles only GitHub can settle.
ACTIVE_INSTALLATIONS = """
SELECT i.id, i.account_id, i.account_login, i.account_type, u.login,
       m.role IS NULL AND i.account_type = 'Organization' AND i.installed_by_id IS DISTINCT FROM $1
           AS ask_github,
       CASE
           WHEN m.role IS NOT NULL THEN m.role
           WHEN i.installed_by_id = $1 THEN 'ADMIN'
           WHEN i.account_type = 'User' AND i.account_id = $1 THEN 'ADMIN'
           ELSE $3
       END AS role
FROM installations i
JOIN users u ON u.id = $1
LEFT JOIN memberships m ON m.installation_id = i.id AND m.user_id = $1
WHERE i.id = ANY($2::bigint[])
  AND i.deleted_at IS NULL AND i.suspended_at IS NULL
  AND u.app_revoked_at IS NULL
  AND (m.removed_at IS NULL)
"""


async def active_installations(db: asyncpg.Connection | asyncpg.Pool, user_id: int, candidates: list[int], *,
                               default_role: str) -> list[asyncpg.Record]:
    return await db.fetch(ACTIVE_INSTALLATIONS, user_id, candidates, default_role)
