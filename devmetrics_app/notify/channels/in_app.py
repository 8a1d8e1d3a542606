"""In-app notifications: rows in `notifications`, read through GET /api/notifications.

They go to the rule's author and to the installation's active members. The rows are written in
the same transaction that marks the send done, so a retried job can never write them twice.
"""

from __future__ import annotations

import asyncpg

from devmetrics_app.notify.messages import Message
from devmetrics_app.notify.rules import Rule

MAX_BODY = 4000


async def send(conn: asyncpg.Connection, rule: Rule, message: Message) -> int:
    """Insert one row per recipient; return how many."""
    rows = await conn.fetch(
        """INSERT INTO notifications (installation_id, user_id, rule_id, title, body, url)
           SELECT $1, recipient, $2, $3, $4, $5
           FROM (SELECT m.user_id AS recipient FROM memberships m
                 WHERE m.installation_id = $1 AND m.removed_at IS NULL
                 UNION SELECT $6::bigint WHERE $6::bigint IS NOT NULL) recipients
           RETURNING id""",
        rule.installation_id, rule.id, message.title, _body(message), message.url,
        rule.created_by_id)
    return len(rows)


def _body(message: Message) -> str:
    lines = [message.body] + [f"{name}: {value}" for name, value in message.fields]
    return "\n".join(line for line in lines if line)[:MAX_BODY]
