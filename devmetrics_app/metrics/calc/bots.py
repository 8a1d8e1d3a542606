"""Who counts as a bot.

An account is a bot when GitHub says so (account type `Bot`, which the `users.is_bot` column
also derives), when its login ends in `[bot]` (GitHub Apps acting as themselves), or when its
login matches one of the organisation's `bot_patterns` (globs, case-insensitive: service
accounts that are ordinary users, e.g. `deploy-*`). Each rule has its own reason so `explain`
can say why an item was left out.
"""

from __future__ import annotations

import fnmatch

from ..settings import MetricsSettings

REASON_BOT = "bot"
RULE_BOT_ACCOUNT = "GitHub Bot account"
RULE_BOT_LOGIN = "login ends with [bot]"
RULE_BOT_PATTERN = "login matches bot pattern"


def bot_rule(login: str | None, *, is_bot: bool = False, settings: MetricsSettings) -> str | None:
    """The rule that makes this account a bot, or None for a person.

    With `settings.exclude_bots` off, nobody is a bot (the organisation asked to count them)."""
    if not settings.exclude_bots:
        return None
    if is_bot:
        return RULE_BOT_ACCOUNT
    name = (login or "").strip().lower()
    if name.endswith("[bot]"):
        return RULE_BOT_LOGIN
    for pattern in settings.bot_patterns:
        if fnmatch.fnmatchcase(name, pattern.lower()):
            return f"{RULE_BOT_PATTERN} {pattern!r}"
    return None


def is_bot(login: str | None, *, is_bot: bool = False, settings: MetricsSettings) -> bool:
    return bot_rule(login, is_bot=is_bot, settings=settings) is not None
