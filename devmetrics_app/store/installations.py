"""Installations, the accounts that own them, their members and teams, and marketplace plans.

Installation state (suspended, permissions, deleted) is versioned by `state_changed_at`: the
newest of the payload's installation.updated_at / suspended_at. A NULL stored stamp (a row the
install callback wrote before any webhook) never blocks a webhook, which is why these upserts
are written out here instead of going through `store.upsert.upsert` (its `stored <= incoming`
test is NULL, i.e. false, for such rows).

Deletions are terminal: GitHub never reuses an installation, repository or team id, so once
`deleted_at` / `removed_at` is set, nothing older can clear it and a replay leaves it as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from devmetrics_app.store.upsert import upsert
from devmetrics_app.timeutil import parse_ts

ACCOUNT_TYPES = frozenset({"Organization", "User", "Enterprise"})

# --------------------------------------------------------------------------- organizations

UPSERT_ORGANIZATION = """
INSERT INTO organizations (id, login, node_id, account_type, avatar_url, html_url)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO UPDATE SET
    login = EXCLUDED.login,
    node_id = COALESCE(EXCLUDED.node_id, organizations.node_id),
    account_type = EXCLUDED.account_type,
    avatar_url = COALESCE(EXCLUDED.avatar_url, organizations.avatar_url),
    html_url = COALESCE(EXCLUDED.html_url, organizations.html_url),
    updated_at = now()
"""

INSERT_ORGANIZATION = """
INSERT INTO organizations (id, login, node_id, account_type, avatar_url, html_url)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO NOTHING
"""


def account_type(account: Mapping[str, Any]) -> str:
    """An account's type as the organizations table knows it (a personal account is 'User')."""
    kind = account.get("type") or "Organization"
    return kind if kind in ACCOUNT_TYPES else "User"


async def upsert_organization(
    conn: asyncpg.Connection, account: Mapping[str, Any], *, refresh: bool = True
) -> int:
    """Store an installation's account (or a payload's `organization`) as an organisation.

    Accounts carry no version stamp, so callers refresh login etc. only when the surrounding
    write was not stale (`refresh=False` then only fills in a missing row).
    """
    args = (
        account["id"], account["login"], account.get("node_id"), account_type(account),
        account.get("avatar_url"), account.get("html_url"),
    )
    await conn.execute(UPSERT_ORGANIZATION if refresh else INSERT_ORGANIZATION, *args)
    return int(account["id"])


# --------------------------------------------------------------------------- installations

UPSERT_INSTALLATION = """
INSERT INTO installations
    (id, account_id, account_login, account_type, app_id, app_slug, target_type,
     repository_selection, permissions, events, installed_by_id, suspended_at, suspended_by_id,
     github_created_at, github_updated_at, state_changed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
ON CONFLICT (id) DO UPDATE SET
    account_id = EXCLUDED.account_id,
    account_login = EXCLUDED.account_login,
    account_type = EXCLUDED.account_type,
    app_id = COALESCE(EXCLUDED.app_id, installations.app_id),
    app_slug = COALESCE(EXCLUDED.app_slug, installations.app_slug),
    target_type = COALESCE(EXCLUDED.target_type, installations.target_type),
    repository_selection = COALESCE(EXCLUDED.repository_selection, installations.repository_selection),
    permissions = EXCLUDED.permissions,
    events = EXCLUDED.events,
    installed_by_id = COALESCE(installations.installed_by_id, EXCLUDED.installed_by_id),
    suspended_at = EXCLUDED.suspended_at,
    suspended_by_id = EXCLUDED.suspended_by_id,
    github_created_at = COALESCE(EXCLUDED.github_created_at, installations.github_created_at),
    github_updated_at = EXCLUDED.github_updated_at,
    state_changed_at = EXCLUDED.state_changed_at,
    updated_at = now()
WHERE installations.state_changed_at IS NULL
   OR installations.state_changed_at <= EXCLUDED.state_changed_at
RETURNING (xmax = 0) AS inserted
"""


def state_stamp(installation: Mapping[str, Any]) -> datetime | None:
    """The installation object's version: the newest of updated_at and suspended_at.

    GitHub sends these as ISO strings or as unix seconds; both parse. A suspension moves
    suspended_at even where updated_at lags, so a late `suspend` carries its own moment.
    """
    stamps = [parse_ts(installation.get(key)) for key in ("updated_at", "suspended_at")]
    present = [stamp for stamp in stamps if stamp is not None]
    return max(present) if present else parse_ts(installation.get("created_at"))


async def upsert_installation(
    conn: asyncpg.Connection,
    installation: Mapping[str, Any],
    *,
    installed_by_id: int | None = None,
) -> str:
    """Mirror a full installation object; newest state wins. Returns inserted/updated/stale."""
    account = installation.get("account") or {}
    suspended_by = installation.get("suspended_by") or {}
    row = await conn.fetchrow(
        UPSERT_INSTALLATION,
        installation["id"],
        account["id"],
        account["login"],
        account_type(account),
        installation.get("app_id"),
        installation.get("app_slug"),
        installation.get("target_type"),
        installation.get("repository_selection"),
        dict(installation.get("permissions") or {}),
        list(installation.get("events") or []),
        installed_by_id,
        parse_ts(installation.get("suspended_at")),
        suspended_by.get("id"),
        parse_ts(installation.get("created_at")),
        parse_ts(installation.get("updated_at")),
        state_stamp(installation),
    )
    if row is None:
        if installed_by_id is not None:
            await _fill_installed_by(conn, int(installation["id"]), installed_by_id)
        return "stale"
    return "inserted" if row["inserted"] else "updated"


async def _fill_installed_by(conn: asyncpg.Connection, inst_id: int, user_id: int) -> None:
    """Who installed the app never changes, so a late `created` still supplies it."""
    await conn.execute(
        """UPDATE installations SET installed_by_id = $2, updated_at = now()
           WHERE id = $1 AND installed_by_id IS NULL""",
        inst_id, user_id,
    )


async def mark_installation_deleted(
    conn: asyncpg.Connection, installation_id: int, *, at: datetime
) -> bool:
    """Uninstalled: terminal, so only the first sighting sets the moment. True if it did."""
    status = await conn.execute(
        """UPDATE installations SET deleted_at = $2, updated_at = now()
           WHERE id = $1 AND deleted_at IS NULL""",
        installation_id, at,
    )
    return status.endswith(" 1")


async def is_deleted(conn: asyncpg.Connection, installation_id: int) -> bool:
    return bool(await conn.fetchval(
        "SELECT deleted_at IS NOT NULL FROM installations WHERE id = $1", installation_id))


# --------------------------------------------------------------------------- marketplace

# At the same effective date a definitive action beats a pending one: `changed` on the day a
# `pending_change` takes effect must win whichever is processed last.
ACTION_RANK = {"pending_change": 0, "pending_change_cancelled": 1}
DEFINITIVE_RANK = 2

SET_PLAN = """
UPDATE installations SET plan = $2, plan_effective_at = $3, updated_at = now()
WHERE account_id = $1
  AND (plan_effective_at IS NULL
       OR plan_effective_at < $3
       OR (plan_effective_at = $3
           AND CASE plan->>'action' WHEN 'pending_change' THEN 0
                                    WHEN 'pending_change_cancelled' THEN 1
                                    ELSE 2 END <= $4))
"""


def action_rank(action: str) -> int:
    return ACTION_RANK.get(action, DEFINITIVE_RANK)


async def set_plan(
    conn: asyncpg.Connection,
    account_id: int,
    plan: Mapping[str, Any],
    *,
    effective_at: datetime,
    action: str,
) -> int:
    """Set the plan of every installation of the account unless a newer one is stored.

    Returns how many installations took it (0 when the account has not installed the app yet,
    or the stored plan is newer)."""
    status = await conn.execute(SET_PLAN, account_id, dict(plan), effective_at, action_rank(action))
    return int(status.rsplit(" ", 1)[-1])


# --------------------------------------------------------------------------- memberships

GITHUB_ROLE_TO_ROLE = {"admin": "ADMIN", "member": "DEVELOPER"}

ADD_MEMBERSHIP = """
INSERT INTO memberships (installation_id, organization_id, user_id, role, github_role, source)
VALUES ($1, $2, $3, $4, $5, 'github')
ON CONFLICT (installation_id, user_id) DO UPDATE SET
    github_role = EXCLUDED.github_role,
    role = CASE WHEN memberships.source = 'github' THEN EXCLUDED.role ELSE memberships.role END,
    updated_at = now()
WHERE memberships.removed_at IS NULL
  AND (memberships.github_role IS DISTINCT FROM EXCLUDED.github_role
       OR (memberships.source = 'github' AND memberships.role <> EXCLUDED.role))
"""


def app_role(github_role: str | None) -> str:
    """The app role GitHub's org role implies for a GitHub-derived membership."""
    return GITHUB_ROLE_TO_ROLE.get(github_role or "", "VIEWER")


async def add_membership(
    conn: asyncpg.Connection,
    installation_id: int,
    organization_id: int,
    user_id: int,
    github_role: str | None,
) -> None:
    """organization.member_added. A removed membership is NOT revived: member events carry no
    timestamp, so a late `member_added` cannot be told from a re-add, and removal cuts access
    (fail closed). A re-added member regains access through a membership sync from the API."""
    await conn.execute(ADD_MEMBERSHIP, installation_id, organization_id, user_id,
                       app_role(github_role), github_role)


async def remove_membership(
    conn: asyncpg.Connection, installation_id: int, organization_id: int, user_id: int,
    *, at: datetime,
) -> None:
    """organization.member_removed: cut access at once; a row is written even for a member we
    never saw added, so a late `member_added` cannot grant access afterwards."""
    await conn.execute(
        """INSERT INTO memberships (installation_id, organization_id, user_id, source, removed_at)
           VALUES ($1, $2, $3, 'github', $4)
           ON CONFLICT (installation_id, user_id) DO UPDATE SET removed_at = $4, updated_at = now()
           WHERE memberships.removed_at IS NULL""",
        installation_id, organization_id, user_id, at,
    )


# --------------------------------------------------------------------------- teams


async def upsert_team(
    conn: asyncpg.Connection, installation_id: int, organization_id: int, team: Mapping[str, Any]
) -> None:
    """Team objects carry no updated_at: last write wins for name/slug, but a deleted team
    stays deleted (deleted_at is only ever set)."""
    await upsert(
        conn,
        "teams",
        {
            "id": team["id"],
            "installation_id": installation_id,
            "organization_id": organization_id,
            "slug": team.get("slug") or str(team["name"]).lower().replace(" ", "-"),
            "name": team["name"],
            "parent_id": (team.get("parent") or {}).get("id"),
        },
    )


async def mark_team_deleted(conn: asyncpg.Connection, team_id: int, *, at: datetime) -> None:
    await conn.execute(
        "UPDATE teams SET deleted_at = $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL",
        team_id, at,
    )
    await conn.execute("DELETE FROM team_members WHERE team_id = $1", team_id)


# --------------------------------------------------------------------------- reads for the API


async def list_by_ids(db: asyncpg.Connection | asyncpg.Pool, ids: list[int]) -> list[asyncpg.Record]:
    return await db.fetch(
        """SELECT id, account_login, account_type, repository_selection, plan, github_created_at
           FROM installations WHERE id = ANY($1::bigint[]) ORDER BY account_login""",
        ids)


async def get_with_repository_count(db: asyncpg.Connection | asyncpg.Pool,
                                    installation_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(
        """SELECT id, account_login, account_type, repository_selection, plan, permissions,
                  github_created_at,
                  (SELECT count(*) FROM repositories r
                   WHERE r.installation_id = i.id AND r.removed_at IS NULL) AS repositories
           FROM installations i WHERE id = $1""", installation_id)


async def organization_id(db: asyncpg.Connection | asyncpg.Pool, installation_id: int) -> int | None:
    return await db.fetchval("SELECT account_id FROM installations WHERE id = $1", installation_id)


async def has_live_team(db: asyncpg.Connection | asyncpg.Pool, installation_id: int, team_id: int) -> bool:
    known = await db.fetchval(
        "SELECT 1 FROM teams WHERE id = $1 AND installation_id = $2 AND deleted_at IS NULL",
        team_id, installation_id)
    return bool(known)


async def account_login(db: asyncpg.Connection | asyncpg.Pool, installation_id: int) -> str | None:
    return await db.fetchval("SELECT account_login FROM installations WHERE id = $1", installation_id)


async def account_of(db: asyncpg.Connection | asyncpg.Pool, installation_id: int) -> asyncpg.Record | None:
    """account_id, account_login, account_type: whose members a sync lists."""
    return await db.fetchrow(
        "SELECT account_id, account_login, account_type FROM installations WHERE id = $1",
        installation_id)


async def live_teams(db: asyncpg.Connection | asyncpg.Pool, installation_id: int) -> list[asyncpg.Record]:
    """id, name of the teams not deleted, by name (at most 200: a select, not a directory)."""
    return await db.fetch(
        """SELECT id, name FROM teams WHERE installation_id = $1 AND deleted_at IS NULL
           ORDER BY lower(name) LIMIT 200""", installation_id)


async def organization_settings(db: asyncpg.Connection | asyncpg.Pool, installation_id: int) -> Any:
    """The owning organization's settings as stored (jsonb: a dict or its text, or None)."""
    return await db.fetchval(
        """SELECT o.settings FROM organizations o JOIN installations i ON i.account_id = o.id
           WHERE i.id = $1""", installation_id)


async def save_organization_settings(db: asyncpg.Connection | asyncpg.Pool, installation_id: int,
                                     settings_json: str) -> None:
    await db.execute(
        """UPDATE organizations o SET settings = $2::jsonb FROM installations i
           WHERE i.id = $1 AND o.id = i.account_id""", installation_id, settings_json)
