"""bots: GitHub Bot accounts, [bot] logins and configured patterns, each with its rule."""

from devmetrics_app.metrics.calc.bots import RULE_BOT_ACCOUNT, RULE_BOT_LOGIN, bot_rule, is_bot
from devmetrics_app.metrics.settings import MetricsSettings


def test_rules():
    s = MetricsSettings(bot_patterns=("deploy-*", "*-ci"))
    assert bot_rule("octocat", settings=s) is None
    assert bot_rule("copilot", is_bot=True, settings=s) == RULE_BOT_ACCOUNT
    assert bot_rule("dependabot[bot]", settings=s) == RULE_BOT_LOGIN
    assert bot_rule("Renovate[BOT]", settings=s) == RULE_BOT_LOGIN
    assert bot_rule("Deploy-Prod", settings=s) == "login matches bot pattern 'deploy-*'"
    assert bot_rule("team-ci", settings=s) == "login matches bot pattern '*-ci'"
    assert not is_bot("abbot", settings=s)  # no default patterns: no false positives
    assert not is_bot(None, settings=s)


def test_disabled_counts_everyone():
    s = MetricsSettings(exclude_bots=False)
    assert not is_bot("dependabot[bot]", is_bot=True, settings=s)
