"""Discord through discord-webhook's AsyncDiscordWebhook: one embed, no pings.

`allowed_mentions: {"parse": []}` tells Discord to ping nobody whatever the text says; the
template's escaping keeps mentions from even rendering. The library's own 429 loop only runs
behind a proxy (it checks a `Via` header), so it is off: delivery honours Retry-After itself.
"""

from __future__ import annotations

import json

import httpx
from discord_webhook import AsyncDiscordWebhook

from devmetrics_app.notify.channels import (
    PermanentFailure,
    RateLimited,
    TransientFailure,
    retry_after_seconds,
)
from devmetrics_app.notify.messages import Message, limit, render_json

TIMEOUT_SECONDS = 15
USERNAME = "DevMetrics"
DEFAULT_RETRY_AFTER = 5.0
# Discord's embed limits: the template cuts each part, this keeps the sum under the total.
EMBED_TOTAL_LIMIT = 6000
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 413})


def embed(message: Message) -> dict:
    data = render_json("discord.json", message)
    over = _embed_size(data) - EMBED_TOTAL_LIMIT
    if over > 0:
        data["description"] = limit(data["description"], max(len(data["description"]) - over, 1))
    return data


def _embed_size(data: dict) -> int:
    fields = sum(len(f["name"]) + len(f["value"]) for f in data.get("fields", []))
    return len(data.get("title", "")) + len(data.get("description", "")) + fields + \
        len(data.get("footer", {}).get("text", ""))


async def send(url: str, message: Message) -> None:
    hook = AsyncDiscordWebhook(url=url, embeds=[embed(message)], username=USERNAME,
                               allowed_mentions={"parse": []}, rate_limit_retry=False,
                               timeout=TIMEOUT_SECONDS, wait=True)
    try:
        # api_post_request, not execute(): execute() parses every body as JSON and so raises on
        # an empty 204 or an HTML 502 before we could read the status.
        response = await hook.api_post_request()
    except httpx.HTTPError as exc:
        raise TransientFailure(f"discord: {type(exc).__name__}: {exc}") from None
    status = response.status_code
    if status in (200, 204):
        return
    detail = _json(response)
    if status == 429:
        retry = detail.get("retry_after", response.headers.get("Retry-After"))
        raise RateLimited("discord: rate limited", retry_after_seconds(retry, DEFAULT_RETRY_AFTER))
    reason = f"discord: HTTP {status}" + (f" {detail['message']}" if detail.get("message") else "")
    if status in PERMANENT_STATUSES:
        raise PermanentFailure(reason)
    raise TransientFailure(reason)


def _json(response: httpx.Response) -> dict:
    try:
        data = json.loads(response.content or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
