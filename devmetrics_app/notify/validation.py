"""Turn a rule as the API receives it into columns, or say which field is wrong and why.

Every error names one field (`conditions.hours`, `slack_channel`, ...) so a form can point at it.
A PATCH is validated as the merged whole: a rule is never stored half-valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devmetrics_app.notify.rules import CHANNELS, RULE_TYPES, SCOPES_BY_TYPE

MAX_NAME = 100
MAX_LIST = 50
MAX_LABEL = 50
MAX_REVIEW_HOURS = 24 * 30
DISCORD_HOSTS = frozenset({"discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"})
DISCORD_WEBHOOK_PATH = re.compile(r"^/api(/v\d+)?/webhooks/\d+/[A-Za-z0-9_-]+/?$")
SLACK_CHANNEL = re.compile(r"^(#?[a-z0-9][a-z0-9._-]{0,79}|[CGD][A-Z0-9]{8,20})$")
EMAIL = re.compile(r"^[^@\s<>,;\"']{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(\[bot\])?$")
HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
FIELDS = frozenset({"name", "type", "conditions", "channels", "slack_channel", "discord_webhook_url",
                    "email_recipients", "repository_ids", "labels", "authors", "enabled"})
CONDITIONS: dict[str, frozenset[str]] = {
    "pr_opened": frozenset({"include_drafts", "include_bots"}),
    "pr_review_required": frozenset({"hours", "business_hours", "timezone", "include_bots"}),
    "pr_high_risk": frozenset({"min_risk", "include_bots"}),
    "pr_merged_without_review": frozenset({"include_bots"}),
    "build_failed": frozenset({"workflows", "branches"}),
    "deployment_failed": frozenset({"environments"}),
    "digest": frozenset({"frequency", "hour", "weekday", "timezone"}),
}


class RuleError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass
class RuleInput:
    """Validated columns; `discord_webhook_url` is plain text here and encrypted by the store."""

    name: str
    type: str
    conditions: dict[str, Any]
    channels: list[str]
    slack_channel: str | None
    discord_webhook_url: str | None
    email_recipients: list[str] = field(default_factory=list)
    repository_ids: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    enabled: bool = True


def validate_rule(body: dict[str, Any], *, current: dict[str, Any] | None = None,
                  extra_discord_hosts: frozenset[str] = frozenset(),
                  has_stored_discord_url: bool = False) -> RuleInput:
    """`current` holds the stored rule's values (for PATCH); `body` overrides them."""
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise RuleError(unknown[0], "unknown field")
    merged = {**(current or {}), **body}
    name = merged.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise RuleError("name", f"a non-empty string of at most {MAX_NAME} characters")
    rule_type = merged.get("type")
    if rule_type not in RULE_TYPES:
        raise RuleError("type", f"one of {', '.join(RULE_TYPES)}")
    conditions = _conditions(rule_type, merged.get("conditions") or {})
    channels = _channels(merged.get("channels"))
    slack_channel = merged.get("slack_channel") or None
    if "slack" in channels:
        if not isinstance(slack_channel, str) or not SLACK_CHANNEL.match(slack_channel):
            raise RuleError("slack_channel", "a Slack channel (#name or channel id) is required for "
                                             "the slack channel")
    elif slack_channel is not None and not isinstance(slack_channel, str):
        raise RuleError("slack_channel", "must be a string")
    discord_url = body.get("discord_webhook_url") or None
    if discord_url is not None:
        _discord_url(discord_url, extra_discord_hosts)
    if "discord" in channels and discord_url is None and not has_stored_discord_url:
        raise RuleError("discord_webhook_url", "a Discord webhook URL is required for the discord "
                                                "channel")
    recipients = _strings(merged.get("email_recipients"), "email_recipients", EMAIL, "an email address")
    if "email" in channels and not recipients:
        raise RuleError("email_recipients", "at least one address is required for the email channel")
    scopes = {"repository_ids": _ids(merged.get("repository_ids")),
              "labels": _strings(merged.get("labels"), "labels", None, "a label"),
              "authors": _strings(merged.get("authors"), "authors", LOGIN, "a GitHub login")}
    for scope, values in scopes.items():
        if values and scope not in SCOPES_BY_TYPE[rule_type]:
            raise RuleError(scope, f"{rule_type} rules cannot be scoped by {scope}")
    enabled = merged.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RuleError("enabled", "true or false")
    return RuleInput(name=name.strip(), type=rule_type, conditions=conditions, channels=channels,
                     slack_channel=slack_channel,
                     discord_webhook_url=discord_url, email_recipients=recipients,
                     enabled=enabled, **scopes)


def _channels(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise RuleError("channels", f"a non-empty list of {', '.join(CHANNELS)}")
    for item in value:
        if item not in CHANNELS:
            raise RuleError("channels", f"unknown channel {item!r}; use {', '.join(CHANNELS)}")
    if len(set(value)) != len(value):
        raise RuleError("channels", "each channel once")
    return list(value)


def _discord_url(url: Any, extra_hosts: frozenset[str]) -> None:
    if not isinstance(url, str):
        raise RuleError("discord_webhook_url", "must be a string")
    parts = urlsplit(url)
    # Only Discord (or the operator's configured endpoint): the server POSTs wherever this points.
    allowed = (parts.scheme == "https" and parts.hostname in DISCORD_HOSTS) or \
        (parts.scheme in {"http", "https"} and parts.netloc in extra_hosts)
    if not allowed or not DISCORD_WEBHOOK_PATH.match(parts.path) or parts.query or parts.fragment:
        raise RuleError("discord_webhook_url",
                        "must be a Discord webhook URL like https://discord.com/api/webhooks/ID/TOKEN")


def _ids(value: Any) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_LIST or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        raise RuleError("repository_ids", f"a list of at most {MAX_LIST} repository ids")
    return sorted(set(value))


def _strings(value: Any, name: str, pattern: re.Pattern | None, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise RuleError(name, f"a list of at most {MAX_LIST} items")
    out: list[str] = []
    for item in value:
        ok = isinstance(item, str) and 0 < len(item) <= (254 if pattern is EMAIL else MAX_LABEL)
        if not ok or (pattern is not None and not pattern.match(item)):
            raise RuleError(name, f"{item!r} is not {what}")
        if item not in out:
            out.append(item)
    return out


def _conditions(rule_type: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise RuleError("conditions", "must be an object")
    for key in raw:
        if key not in CONDITIONS[rule_type]:
            raise RuleError(f"conditions.{key}", f"not a condition of {rule_type} rules")
    out: dict[str, Any] = {}
    for flag in ("include_drafts", "include_bots"):
        if flag in raw:
            if not isinstance(raw[flag], bool):
                raise RuleError(f"conditions.{flag}", "true or false")
            out[flag] = raw[flag]
    if rule_type == "pr_review_required":
        hours = raw.get("hours")
        if not isinstance(hours, int | float) or isinstance(hours, bool) or not 0 < hours <= MAX_REVIEW_HOURS:
            raise RuleError("conditions.hours", f"a number of hours above 0 and at most {MAX_REVIEW_HOURS}")
        out["hours"] = hours
        if raw.get("business_hours") is not None:
            out["business_hours"] = _business_hours(raw["business_hours"])
        out["timezone"] = _timezone(raw.get("timezone", "UTC"))
    elif rule_type == "pr_high_risk":
        risk = raw.get("min_risk")
        if not isinstance(risk, int) or isinstance(risk, bool) or not 0 <= risk <= 100:
            raise RuleError("conditions.min_risk", "an integer from 0 to 100")
        out["min_risk"] = risk
    elif rule_type == "build_failed":
        for key in ("workflows", "branches"):
            if key in raw:
                out[key] = _strings(raw[key], f"conditions.{key}", None, "a name")
    elif rule_type == "deployment_failed":
        if "environments" in raw:
            out["environments"] = _strings(raw["environments"], "conditions.environments", None,
                                           "an environment")
    elif rule_type == "digest":
        out.update(_digest(raw))
    return out


def _digest(raw: dict[str, Any]) -> dict[str, Any]:
    frequency = raw.get("frequency")
    if frequency not in {"daily", "weekly"}:
        raise RuleError("conditions.frequency", "daily or weekly")
    hour = raw.get("hour")
    if not isinstance(hour, int) or isinstance(hour, bool) or not 0 <= hour <= 23:
        raise RuleError("conditions.hour", "an integer hour from 0 to 23")
    out: dict[str, Any] = {"frequency": frequency, "hour": hour,
                           "timezone": _timezone(raw.get("timezone", "UTC"))}
    if frequency == "weekly":
        weekday = raw.get("weekday", 1)
        if not isinstance(weekday, int) or isinstance(weekday, bool) or not 1 <= weekday <= 7:
            raise RuleError("conditions.weekday", "an ISO weekday from 1 (Monday) to 7 (Sunday)")
        out["weekday"] = weekday
    elif "weekday" in raw:
        raise RuleError("conditions.weekday", "only for weekly digests")
    return out


def _timezone(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise RuleError("conditions.timezone", "an IANA time zone such as Europe/Berlin")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleError("conditions.timezone", f"unknown time zone {value!r}") from None
    return value


def _business_hours(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or set(raw) - {"start", "end", "days"}:
        raise RuleError("conditions.business_hours", 'an object {"start": "09:00", "end": "17:00", '
                                                     '"days": [1, 2, 3, 4, 5]}')
    for key in ("start", "end"):
        if not isinstance(raw.get(key), str) or not HH_MM.match(raw[key]):
            raise RuleError(f"conditions.business_hours.{key}", "a time as HH:MM")
    if raw["start"] == raw["end"]:
        raise RuleError("conditions.business_hours.end", "must differ from start")
    days = raw.get("days", [1, 2, 3, 4, 5])
    if not isinstance(days, list) or not days or not all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in days):
        raise RuleError("conditions.business_hours.days", "a non-empty list of ISO weekdays (1-7)")
    return {"start": raw["start"], "end": raw["end"], "days": sorted(set(days))}
