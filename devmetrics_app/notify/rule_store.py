"""Rules in the database, for the API: create, update, list, delete, and the public JSON shape.

The Discord webhook URL is a credential (whoever has it can post as the webhook), so it is
stored encrypted and never returned: the API says only whether one is configured.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from devmetrics_app.crypto import SecretBox
from devmetrics_app.notify.rules import RULE_COLUMNS, Rule
from devmetrics_app.notify.validation import RuleInput

EDITABLE = ("name", "type", "conditions", "channels", "slack_channel", "email_recipients",
            "repository_ids", "labels", "authors", "enabled")

INSERT_SQL = f"""
INSERT INTO notification_rules (installation_id, organization_id, name, type, conditions, channels,
    slack_channel, discord_webhook_url_enc, email_recipients, repository_ids, labels, authors,
    enabled, created_by_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
RETURNING {RULE_COLUMNS}"""  # noqa: S608 - constant column list

# An edit clears the flag: whoever edits a flagged rule has seen it, and the next send tells
# whether their fix worked.
UPDATE_SQL = f"""
UPDATE notification_rules SET name = $2, type = $3, conditions = $4, channels = $5,
    slack_channel = $6, discord_webhook_url_enc = coalesce($7, discord_webhook_url_enc),
    email_recipients = $8, repository_ids = $9, labels = $10, authors = $11, enabled = $12,
    flagged_at = NULL, flag_reason = NULL, updated_at = now()
WHERE id = $1
RETURNING {RULE_COLUMNS}"""  # noqa: S608 - constant column list


def to_json(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id, "installation_id": rule.installation_id, "name": rule.name,
        "type": rule.type, "conditions": rule.conditions, "channels": rule.channels,
        "slack_channel": rule.slack_channel,
        "discord_webhook_configured": rule.discord_webhook_url_enc is not None,
        "email_recipients": rule.email_recipients, "repository_ids": rule.repository_ids,
        "labels": rule.labels, "authors": rule.authors, "enabled": rule.enabled,
        "flagged_at": rule.flagged_at, "flag_reason": rule.flag_reason,
        "created_by_id": rule.created_by_id, "created_at": rule.created_at,
        "updated_at": rule.updated_at,
    }


def current_values(rule: Rule) -> dict[str, Any]:
    """The stored rule as API fields, for validating a PATCH as a whole."""
    return {name: getattr(rule, name) for name in EDITABLE}


def _encrypt(box: SecretBox, url: str | None) -> bytes | None:
    return box.encrypt(url) if url else None


async def create(conn: asyncpg.Connection | asyncpg.Pool, box: SecretBox, *, installation_id: int,
                 organization_id: int, data: RuleInput, created_by_id: int | None) -> Rule:
    row = await conn.fetchrow(
        INSERT_SQL, installation_id, organization_id, data.name, data.type, data.conditions,
        data.channels, data.slack_channel, _encrypt(box, data.discord_webhook_url),
        data.email_recipients, data.repository_ids, data.labels, data.authors, data.enabled,
        created_by_id)
    return Rule.from_row(row)


async def update(conn: asyncpg.Connection | asyncpg.Pool, box: SecretBox, rule_id: int,
                 data: RuleInput) -> Rule:
    row = await conn.fetchrow(
        UPDATE_SQL, rule_id, data.name, data.type, data.conditions, data.channels,
        data.slack_channel, _encrypt(box, data.discord_webhook_url), data.email_recipients,
        data.repository_ids, data.labels, data.authors, data.enabled)
    return Rule.from_row(row)


async def delete(conn: asyncpg.Connection | asyncpg.Pool, rule_id: int) -> None:
    await conn.execute("DELETE FROM notification_rules WHERE id = $1", rule_id)


async def list_rules(conn: asyncpg.Connection | asyncpg.Pool, installation_ids: list[int], *,
                     after_id: int = 0, limit: int | None = None) -> list[Rule]:
    """Oldest first (keyset on id): the rules after `after_id`, at most `limit` (None: all)."""
    rows = await conn.fetch(
        f"SELECT {RULE_COLUMNS} FROM notification_rules "  # noqa: S608 - constant column list
        "WHERE installation_id = ANY($1::bigint[]) AND id > $2 ORDER BY id LIMIT $3",
        installation_ids, after_id, limit)
    return [Rule.from_row(r) for r in rows]


async def unknown_repositories(conn: asyncpg.Connection | asyncpg.Pool, installation_id: int,
                               repository_ids: list[int]) -> list[int]:
    if not repository_ids:
        return []
    known = {r["id"] for r in await conn.fetch(
        "SELECT id FROM repositories WHERE installation_id = $1 AND id = ANY($2::bigint[])",
        installation_id, repository_ids)}
    return [i for i in repository_ids if i not in known]
