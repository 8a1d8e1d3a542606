"""The daily or weekly digest: when it is due, and the organisation's numbers for the period.

It is due in the hour the rule names, in the rule's time zone; the window (a local date or ISO
week) makes it go out once even though the scheduler looks every minute. The numbers are read
from the entity tables, not the rollups, so a digest is right even before a rollup has run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from devmetrics_app.notify import messages
from devmetrics_app.notify.dedupe import digest_window
from devmetrics_app.notify.messages import Message
from devmetrics_app.notify.rules import Rule

DIGEST_SQL = """
WITH scope AS (
    SELECT id FROM repositories
    WHERE installation_id = $1 AND removed_at IS NULL
      AND (cardinality($2::bigint[]) = 0 OR id = ANY($2::bigint[]))
)
SELECT
  (SELECT account_login FROM installations WHERE id = $1) AS organization,
  (SELECT count(*) FROM pull_requests WHERE installation_id = $1 AND repository_id IN (SELECT id FROM scope)
     AND github_created_at >= $3 AND github_created_at < $4) AS prs_opened,
  (SELECT count(*) FROM pull_requests WHERE installation_id = $1 AND repository_id IN (SELECT id FROM scope)
     AND merged_at >= $3 AND merged_at < $4) AS prs_merged,
  (SELECT percentile_cont(0.5) WITHIN GROUP (
            ORDER BY extract(epoch FROM merged_at - github_created_at) / 3600)
     FROM pull_requests WHERE installation_id = $1 AND repository_id IN (SELECT id FROM scope)
     AND merged_at >= $3 AND merged_at < $4) AS median_cycle_hours,
  (SELECT count(*) FROM pull_request_reviews WHERE installation_id = $1
     AND repository_id IN (SELECT id FROM scope) AND state <> 'PENDING'
     AND submitted_at >= $3 AND submitted_at < $4) AS reviews,
  (SELECT count(*) FROM workflow_runs WHERE installation_id = $1 AND repository_id IN (SELECT id FROM scope)
     AND completed_at >= $3 AND completed_at < $4) AS builds,
  (SELECT count(*) FROM workflow_runs WHERE installation_id = $1 AND repository_id IN (SELECT id FROM scope)
     AND completed_at >= $3 AND completed_at < $4 AND conclusion = 'success') AS builds_ok,
  (SELECT count(*) FROM deployments WHERE installation_id = $1 AND repository_id IN (SELECT id FROM scope)
     AND github_created_at >= $3 AND github_created_at < $4) AS deployments,
  (SELECT count(*) FROM deployments WHERE installation_id = $1 AND repository_id IN (SELECT id FROM scope)
     AND github_created_at >= $3 AND github_created_at < $4
     AND latest_state IN ('failure', 'error')) AS deployments_failed,
  (SELECT count(*) FROM pull_requests p WHERE p.installation_id = $1
     AND p.repository_id IN (SELECT id FROM scope) AND p.state = 'OPEN' AND NOT p.draft
     AND NOT EXISTS (SELECT 1 FROM pull_request_reviews r WHERE r.pull_request_id = p.id
                     AND r.state <> 'PENDING')) AS waiting
"""


@dataclass(frozen=True)
class DueDigest:
    window_key: str
    start: datetime
    end: datetime
    local_day: date


def due(rule: Rule, now: datetime) -> DueDigest | None:
    """The digest this rule owes at `now`, or None outside its hour (or day, for weekly)."""
    conditions = rule.conditions
    tz = ZoneInfo(conditions.get("timezone", "UTC"))
    local = now.astimezone(tz)
    if local.hour != conditions["hour"]:
        return None
    frequency = conditions["frequency"]
    if frequency == "weekly" and local.isoweekday() != conditions.get("weekday", 1):
        return None
    end = datetime.combine(local.date(), time(conditions["hour"]), tzinfo=tz)
    start = end - timedelta(days=7 if frequency == "weekly" else 1)
    return DueDigest(digest_window(frequency, local.date()), start, end, local.date())


async def build(conn: asyncpg.Connection, rule: Rule, digest: DueDigest, *, public_url: str) -> Message:
    row = await conn.fetchrow(DIGEST_SQL, rule.installation_id, rule.repository_ids,
                              digest.start, digest.end)
    frequency = rule.conditions["frequency"]
    span = "7 days" if frequency == "weekly" else "24 hours"
    period = f"{span} to {digest.end:%Y-%m-%d %H:%M %Z}"
    builds, ok = row["builds"], row["builds_ok"]
    median = row["median_cycle_hours"]
    context = {"frequency": frequency, "organization": row["organization"] or "your organisation",
               "period": period, "prs_opened": row["prs_opened"], "prs_merged": row["prs_merged"],
               "waiting": row["waiting"]}
    fields = [
        ("PRs opened", str(row["prs_opened"])),
        ("PRs merged", str(row["prs_merged"])),
        ("Median cycle time", f"{median:.1f} h" if median is not None else "-"),
        ("Reviews", str(row["reviews"])),
        ("Build success", f"{100 * ok / builds:.0f}% of {builds}" if builds else "no builds"),
        ("Deployments", f"{row['deployments']} ({row['deployments_failed']} failed)"),
        ("Waiting for review", str(row["waiting"])),
    ]
    return messages.render("digest", context, url=public_url.rstrip("/") + "/dashboard",
                           button="Open dashboard", fields=fields)
