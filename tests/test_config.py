"""Settings: fail fast naming the setting; secrets never printed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from devmetrics_app.config import ConfigError, Secret, load_settings

BASE = {"DEVMETRICS_ENV": "test", "SECRET_KEY": "0123456789abcdef-secret"}


def settings_from(tmp_path: Path, **env: str):
    return load_settings({**BASE, "DEVMETRICS_DATA_DIR": str(tmp_path), **env}, dotenv=False)


def test_defaults_point_at_github_com(tmp_path: Path) -> None:
    settings = settings_from(tmp_path)
    assert settings.github_api_url == "https://api.github.com"
    assert settings.github_graphql_url == "https://api.github.com/graphql"
    assert not settings.github_app_configured


def test_enterprise_server_graphql_url(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, GITHUB_API_URL="https://ghe.example.com/api/v3/")
    assert settings.github_api_url == "https://ghe.example.com/api/v3"
    assert settings.github_graphql_url == "https://ghe.example.com/api/graphql"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"GITHUB_APP_ID": "1"}, "GITHUB_PRIVATE_KEY"),
        ({"GITHUB_APP_ID": "1", "GITHUB_PRIVATE_KEY": "-----BEGIN x"}, "GITHUB_WEBHOOK_SECRET"),
        ({"GITHUB_WEBHOOK_SECRET": "s"}, "GITHUB_APP_ID"),
        ({"GITHUB_APP_ID": "abc", "GITHUB_PRIVATE_KEY": "-----BEGIN x",
          "GITHUB_WEBHOOK_SECRET": "s"}, "GITHUB_APP_ID"),
        ({"GITHUB_APP_ID": "1", "GITHUB_PRIVATE_KEY": "/no/such/key.pem",
          "GITHUB_WEBHOOK_SECRET": "s"}, "GITHUB_PRIVATE_KEY"),
        ({"SMTP_PORT": "twenty-five"}, "SMTP_PORT"),
        ({"PUBLIC_URL": "devmetrics.example.com"}, "PUBLIC_URL"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"DEVMETRICS_ENV": "staging"}, "DEVMETRICS_ENV"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
    ],
)
def test_bad_settings_fail_naming_the_setting(tmp_path: Path, env: dict, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        settings_from(tmp_path, **env)


def test_production_requires_secret_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({"DEVMETRICS_ENV": "production", "DEVMETRICS_DATA_DIR": str(tmp_path)},
                      dotenv=False)


def test_development_generates_and_keeps_a_secret_key(tmp_path: Path) -> None:
    env = {"DEVMETRICS_DATA_DIR": str(tmp_path)}
    first = load_settings(env, dotenv=False).secret_key
    second = load_settings(env, dotenv=False).secret_key
    assert first == second and len(first.get()) > 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_private_key_from_path_or_text(tmp_path: Path, private_key_pem: str) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(private_key_pem)
    common = {"GITHUB_APP_ID": "7", "GITHUB_WEBHOOK_SECRET": "s"}
    from_path = settings_from(tmp_path, GITHUB_PRIVATE_KEY=str(key_file), **common)
    escaped = private_key_pem.replace("\n", "\\n")
    from_text = settings_from(tmp_path, GITHUB_PRIVATE_KEY=escaped, **common)
    assert from_path.github_private_key.get() == private_key_pem == from_text.github_private_key.get()


def test_secrets_never_appear_in_repr_or_logs(tmp_path: Path, private_key_pem: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    secrets = {
        "GITHUB_WEBHOOK_SECRET": "hook-secret-value",
        "GITHUB_CLIENT_SECRET": "client-secret-value",
        "ANTHROPIC_API_KEY": "sk-ant-secret-value",
        "SLACK_BOT_TOKEN": "xoxb-secret-value",
        "SMTP_PASSWORD": "smtp-secret-value",
        "DATABASE_URL": "postgresql://user:db-secret-value@db/devmetrics",
        "SENTRY_DSN": "https://sentry-secret-value@sentry.example.com/1",
    }
    settings = settings_from(tmp_path, GITHUB_APP_ID="7", GITHUB_PRIVATE_KEY=private_key_pem,
                             **secrets)
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings: %s %r", settings, settings)
    printed = repr(settings) + str(settings) + caplog.text
    for value in [*secrets.values(), "0123456789abcdef-secret", "PRIVATE KEY"]:
        assert value not in printed
    assert repr(Secret("x")) == "Secret('**********')"


def test_public_url_defaults_to_where_serve_listens(tmp_path: Path) -> None:
    """The log's "listening on" URL is the public URL a newcomer opens: they must agree."""
    from devmetrics_app.cli import build_parser

    serve = build_parser().parse_args(["serve"])
    assert settings_from(tmp_path).public_url == f"http://{serve.host}:{serve.port}"


def test_scale_settings(tmp_path: Path) -> None:
    defaults = settings_from(tmp_path)
    assert (defaults.api_rate_limit_per_minute, defaults.webhook_rate_limit_per_minute) == (100, 1_000)
    assert not defaults.broker_url and not defaults.metrics_token
    assert defaults.delivery_retention_days == 0  # keep bodies until told otherwise
    rabbit = settings_from(tmp_path, BROKER_URL="amqp://guest:hunter2@rabbit:5672/devmetrics",
                           METRICS_TOKEN="scrape", DELIVERY_RETENTION_DAYS="30")
    assert "hunter2" not in repr(rabbit) and "scrape" not in repr(rabbit)
    assert rabbit.delivery_retention_days == 30
    with pytest.raises(ConfigError, match="BROKER_URL"):
        settings_from(tmp_path, BROKER_URL="kafka://broker:9092")


def test_serve_on_another_port_or_every_interface_names_a_url_this_machine_opens() -> None:
    """Without PUBLIC_URL, `serve` uses where it listens (a redirect to port 8000 from
    `serve --port 9000` would lead nowhere)."""
    from devmetrics_app.cli import listen_url

    assert listen_url("127.0.0.1", 9000) == "http://127.0.0.1:9000"
    assert listen_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"  # noqa: S104
    assert listen_url("::1", 8000) == "http://[::1]:8000"
