"""Notification rules: their types, their shape in the database, and which subjects they cover.

A rule is scoped to its installation's organisation and, optionally, narrowed to repositories,
labels or authors. Scopes are conjunctive; each list is disjunctive ("any of these labels").
Labels only exist on pull requests, so a label scope never matches a build or a deployment --
validation refuses such rules instead of letting them silently never fire.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

PR_TYPES = frozenset({"pr_opened", "pr_review_required", "pr_high_risk", "pr_merged_without_review"})
RULE_TYPES = (
    "pr_opened",
    "pr_review_required",
    "pr_high_risk",
    "pr_merged_without_review",
    "build_failed",
    "deployment_failed",
    "digest",
)
# Which scopes make sense for which type (a digest covers repositories, not people or labels).
SCOPES_BY_TYPE: dict[str, frozenset[str]] = {
    **{t: frozenset({"repository_ids", "labels", "authors"}) for t in PR_TYPES},
    "build_failed": frozenset({"repository_ids", "authors"}),
    "deployment_failed": frozenset({"repository_ids", "authors"}),
    "digest": frozenset({"repository_ids"}),
}
TIME_BASED_TYPES = frozenset({"pr_review_required", "digest"})
CHANNELS = ("slack", "discord", "email", "in_app")

RULE_COLUMNS = """id, installation_id, organization_id, name, type, conditions, channels, slack_channel,
    discord_webhook_url_enc, email_recipients, repository_ids, labels, authors, enabled, flagged_at,
    flag_reason, created_by_id, created_at, updated_at"""


@dataclass(frozen=True)
class Rule:
    id: int
    installation_id: int
    organization_id: int
    name: str
    type: str
    conditions: dict[str, Any]
    channels: list[str]
    slack_channel: str | None = None
    discord_webhook_url_enc: bytes | None = None
    email_recipients: list[str] = field(default_factory=list)
    repository_ids: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    enabled: bool = True
    flagged_at: datetime | None = None
    flag_reason: str | None = None
    created_by_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Rule:
        values = dict(row)
        for key in ("channels", "email_recipients", "repository_ids", "labels", "authors"):
            values[key] = list(values.get(key) or [])
        values["conditions"] = dict(values.get("conditions") or {})
        if values.get("discord_webhook_url_enc") is not None:
            values["discord_webhook_url_enc"] = bytes(values["discord_webhook_url_enc"])
        return cls(**values)

    @property
    def active(self) -> bool:
        """A flagged rule waits for a person (an edit clears the flag) instead of failing again."""
        return self.enabled and self.flagged_at is None


@dataclass(frozen=True)
class Subject:
    """What a rule is asked about: a PR, a workflow run, a deployment or a digest period."""

    key: str
    repository_id: int | None
    labels: Sequence[str] | None = None  # None: the subject has no labels (not a PR)
    author: str | None = None


def matches_scope(rule: Rule, subject: Subject) -> bool:
    if rule.repository_ids and subject.repository_id not in rule.repository_ids:
        return False
    if rule.labels:
        have = {label.lower() for label in subject.labels or ()}
        if not have & {label.lower() for label in rule.labels}:
            return False
    if rule.authors:
        if subject.author is None or subject.author.lower() not in {a.lower() for a in rule.authors}:
            return False
    return True


async def active_rules(conn: asyncpg.Connection | asyncpg.Pool, installation_id: int,
                       types: Sequence[str]) -> list[Rule]:
    rows = await conn.fetch(
        f"""SELECT {RULE_COLUMNS} FROM notification_rules"""  # noqa: S608 - constant column list
        """ WHERE installation_id = $1 AND type = ANY($2::text[])
              AND enabled AND flagged_at IS NULL ORDER BY id""",
        installation_id, list(types))
    return [Rule.from_row(r) for r in rows]


async def active_rules_of_type(conn: asyncpg.Connection | asyncpg.Pool, rule_type: str) -> list[Rule]:
    """Every installation's active rules of one type (the scheduler's view)."""
    rows = await conn.fetch(
        f"""SELECT {RULE_COLUMNS} FROM notification_rules r"""  # noqa: S608 - constant column list
        """ WHERE type = $1 AND enabled AND flagged_at IS NULL
              AND EXISTS (SELECT 1 FROM installations i WHERE i.id = r.installation_id
                          AND i.deleted_at IS NULL AND i.suspended_at IS NULL)
            ORDER BY installation_id, id""",
        rule_type)
    return [Rule.from_row(r) for r in rows]


async def load_rule(conn: asyncpg.Connection | asyncpg.Pool, rule_id: int) -> Rule | None:
    row = await conn.fetchrow(
        f"SELECT {RULE_COLUMNS} FROM notification_rules WHERE id = $1", rule_id)  # noqa: S608 - constant columns
    return Rule.from_row(row) if row else None


async def flag_rule(conn: asyncpg.Connection | asyncpg.Pool, rule_id: int, reason: str) -> None:
    """Keep the first reason: it is the one that explains the rest."""
    await conn.execute(
        """UPDATE notification_rules SET flagged_at = now(), flag_reason = $2, updated_at = now()
           WHERE id = $1 AND flagged_at IS NULL""",
        rule_id, reason[:500])
