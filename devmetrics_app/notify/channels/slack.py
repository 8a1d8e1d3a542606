"""Slack through slack-sdk's AsyncWebClient: chat.postMessage with Block Kit.

The SDK is pointed at SLACK_API_URL (so tests talk to a fake over real HTTP). Its own retry
handlers are left at the default (connection errors only): a 429 comes back to us, and the
delivery job waits exactly as long as Retry-After says instead of blocking a worker thread.
"""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from devmetrics_app.config import Settings
from devmetrics_app.notify.channels import (
    PermanentFailure,
    RateLimited,
    TransientFailure,
    retry_after_seconds,
)
from devmetrics_app.notify.messages import Message, render_json

TIMEOUT_SECONDS = 15
DEFAULT_RETRY_AFTER = 30.0
# Errors that mean the token, the app or the channel is gone: retrying cannot help.
PERMANENT_ERRORS = frozenset({
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
    "no_permission", "missing_scope", "channel_not_found", "is_archived", "not_in_channel",
    "team_access_not_granted", "org_login_required", "ekm_access_denied", "invalid_blocks",
    "invalid_arguments", "restricted_action", "msg_too_long", "access_denied",
})


def payload(message: Message) -> dict:
    return render_json("slack.json", message)


async def send(settings: Settings, channel: str, message: Message) -> str:
    """Post to `channel`; return the message ts Slack assigned."""
    token = settings.slack_bot_token.get()
    if not token:
        raise PermanentFailure("slack: SLACK_BOT_TOKEN is not set")
    body = payload(message)
    client = AsyncWebClient(token=token, base_url=settings.slack_api_url.rstrip("/") + "/",
                            timeout=TIMEOUT_SECONDS)
    try:
        response = await client.chat_postMessage(
            channel=channel, text=body["text"], blocks=body["blocks"],
            unfurl_links=False, unfurl_media=False, link_names=False)
    except SlackApiError as exc:
        raise _classify(exc) from None
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise TransientFailure(f"slack: {type(exc).__name__}: {exc}") from None
    return str(response.get("ts") or "")


def _classify(exc: SlackApiError) -> Exception:
    response = exc.response
    status = response.status_code
    data = response.data if isinstance(response.data, dict) else {}
    error = str(data.get("error") or f"HTTP {status}")
    if status == 429 or error == "ratelimited":
        headers = {str(k).lower(): v for k, v in (response.headers or {}).items()}
        return RateLimited(f"slack: {error}",
                           retry_after_seconds(headers.get("retry-after"), DEFAULT_RETRY_AFTER))
    if error in PERMANENT_ERRORS:
        return PermanentFailure(f"slack: {error}")
    return TransientFailure(f"slack: {error}")
