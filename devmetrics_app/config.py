"""Settings from the environment (and a `.env` file).

Every outside endpoint is a setting so that GitHub Enterprise Server works and tests can point
the real clients at fake servers. Secrets are wrapped in `Secret`, whose repr never shows the
value, so a settings object can be logged or printed without leaking anything.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlparse

import platformdirs
from dotenv import load_dotenv

from devmetrics_app.digits import is_decimal

APP_NAME = "devmetrics"
GITHUB_WEBHOOK_MAX_BYTES = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB.
DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-4-6"
# Where `devmetrics serve` listens by default; PUBLIC_URL's default is that same address, so a
# newcomer who opens the logged URL is on the public URL (cookies and OAuth callbacks agree).
SERVE_HOST = "127.0.0.1"
SERVE_PORT = 8000
DEFAULT_PUBLIC_URL = f"http://{SERVE_HOST}:{SERVE_PORT}"
# Credentials that only make sense together: one without the others is a configuration error.
GITHUB_APP_GROUP = ("GITHUB_APP_ID", "GITHUB_PRIVATE_KEY", "GITHUB_WEBHOOK_SECRET")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it."""


class Secret:
    """A string that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and secrets.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir(APP_NAME)))
    database_url: Secret = field(default_factory=lambda: Secret(""))
    redis_url: Secret = field(default_factory=lambda: Secret(""))
    public_url: str = DEFAULT_PUBLIC_URL
    secret_key: Secret = field(default_factory=lambda: Secret(""))

    github_app_id: int | None = None
    github_app_slug: str = ""
    github_private_key: Secret = field(default_factory=lambda: Secret(""))
    github_webhook_secret: Secret = field(default_factory=lambda: Secret(""))
    github_client_id: str = ""
    github_client_secret: Secret = field(default_factory=lambda: Secret(""))
    github_api_url: str = "https://api.github.com"
    github_url: str = "https://github.com"

    anthropic_api_key: Secret = field(default_factory=lambda: Secret(""))
    anthropic_model: str = DEFAULT_ANTHROPIC_MODEL
    anthropic_base_url: str = ""
    ai_budget_tokens: int = 30_000
    ai_partial_share: float = 0.8
    ai_debounce_seconds: float = 5.0

    slack_bot_token: Secret = field(default_factory=lambda: Secret(""))
    slack_api_url: str = "https://slack.com/api"
    discord_webhook_url: Secret = field(default_factory=lambda: Secret(""))
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: Secret = field(default_factory=lambda: Secret(""))
    smtp_from: str = "devmetrics@localhost"
    smtp_starttls: bool = True

    log_level: str = "INFO"
    log_format: str = "console"
    sentry_dsn: Secret = field(default_factory=lambda: Secret(""))

    webhook_max_bytes: int = GITHUB_WEBHOOK_MAX_BYTES
    # Slow or numerous clients (web/server.py): time to send the request head (and idle
    # keep-alive), time to send the body, and open connections per process.
    web_idle_timeout_seconds: float = 15.0
    web_body_timeout_seconds: float = 30.0
    web_max_connections: int = 1000
    worker_threads: int = 8
    outbound_worker_threads: int = 4
    delivery_max_attempts: int = 8
    sweep_interval_seconds: float = 30.0
    sweep_grace_seconds: float = 60.0
    # Set only by `devmetrics demo` (never from the environment): simulated data, and the local
    # browser is let in as the demo organisation's admin (web/demo_access.py).
    demo: bool = False
    # CPU priority (nice, 0-19) of the worker process `serve` starts (worker_child.py).
    worker_child_nice: int = 10
    # Webhooks/s above which serve's workers pace their core jobs (ingest_priority.py);
    # 0: never.
    ingest_priority_rate: int = 200

    # Operating at scale (observability/, ratelimit.py, jobs/broker.py).
    metrics_token: Secret = field(default_factory=lambda: Secret(""))
    api_rate_limit_per_minute: int = 100
    webhook_rate_limit_per_minute: int = 1_000
    broker_url: Secret = field(default_factory=lambda: Secret(""))
    delivery_retention_days: int = 0

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def github_app_configured(self) -> bool:
        return self.github_app_id is not None

    @property
    def github_graphql_url(self) -> str:
        """GraphQL lives at /graphql on github.com and at /api/graphql on GitHub Enterprise Server."""
        base = self.github_api_url.rstrip("/")
        if base.endswith("/api/v3"):
            return base[: -len("/v3")] + "/graphql"
        return base + "/graphql"

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
        return f"Settings({shown})"


def _get(env: dict[str, str], name: str, default: str = "") -> str:
    return env.get(name, default).strip()


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = _get(env, name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _nice(env: dict[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if not 0 <= value <= 19:
        raise ConfigError(f"{name} must be 0-19 (0: the same CPU priority as serve), got {value}")
    return value


def _non_negative(env: dict[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 0:
        raise ConfigError(f"{name} must be 0 or more (0: off), got {value}")
    return value


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = _get(env, name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = _get(env, name).lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _url(env: dict[str, str], name: str, default: str) -> str:
    raw = _get(env, name) or default
    if raw:
        parsed = urlparse(raw)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise ConfigError(f"{name} must be an http(s) URL, got {raw!r}")
    return raw.rstrip("/")


def _private_key(env: dict[str, str]) -> str:
    """GITHUB_PRIVATE_KEY is the PEM text itself (literal \\n allowed) or a path to it."""
    raw = _get(env, "GITHUB_PRIVATE_KEY")
    if not raw:
        return ""
    if "-----BEGIN" in raw:
        return raw.replace("\\n", "\n")
    path = Path(raw).expanduser()
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"GITHUB_PRIVATE_KEY: cannot read key file {str(path)!r}: {exc.strerror}") from None
    if "-----BEGIN" not in text:
        raise ConfigError(f"GITHUB_PRIVATE_KEY: {str(path)!r} is not a PEM private key")
    return text


def _broker_url(env: dict[str, str]) -> str:
    """BROKER_URL picks Dramatiq's broker: amqp(s):// for RabbitMQ; empty means REDIS_URL's Redis."""
    raw = _get(env, "BROKER_URL")
    if raw and urlparse(raw).scheme not in {"amqp", "amqps", "redis", "rediss", "unix"}:
        raise ConfigError(f"BROKER_URL must be an amqp:// or redis:// URL, got scheme "
                          f"{urlparse(raw).scheme!r}")
    return raw


def _check_github_group(env: dict[str, str]) -> None:
    present = [name for name in GITHUB_APP_GROUP if _get(env, name)]
    if present and len(present) != len(GITHUB_APP_GROUP):
        missing = [name for name in GITHUB_APP_GROUP if name not in present]
        raise ConfigError(
            f"{', '.join(missing)} must be set together with {', '.join(present)} "
            "(or leave all unset to register the app from the setup page)"
        )


def _secret_key(env: dict[str, str], *, production: bool, data_dir: Path) -> str:
    """Production must set SECRET_KEY; development keeps a generated one in the data dir."""
    key = _get(env, "SECRET_KEY")
    if key:
        if len(key) < 16:
            raise ConfigError("SECRET_KEY must be at least 16 characters")
        return key
    if production:
        raise ConfigError("SECRET_KEY is required when DEVMETRICS_ENV=production")
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key)
    return key


def load_env_file() -> None:
    """The project's `.env` into the process environment, never over what is already set."""
    load_dotenv(override=False)


def load_settings(environ: dict[str, str] | None = None, *, dotenv: bool = True) -> Settings:
    """Build settings from `environ` (default: the process environment plus `.env`)."""
    if environ is None:
        if dotenv:
            load_env_file()
        environ = dict(os.environ)
    env = environ
    app_env = _get(env, "DEVMETRICS_ENV", "development").lower()
    if app_env not in {"development", "production", "test"}:
        raise ConfigError(f"DEVMETRICS_ENV must be development, production or test, got {app_env!r}")
    production = app_env == "production"
    data_dir = Path(_get(env, "DEVMETRICS_DATA_DIR") or platformdirs.user_data_dir(APP_NAME))
    _check_github_group(env)
    app_id_raw = _get(env, "GITHUB_APP_ID")
    if app_id_raw and not is_decimal(app_id_raw):
        raise ConfigError(f"GITHUB_APP_ID must be the numeric app id, got {app_id_raw!r}")
    log_format = _get(env, "LOG_FORMAT", "json" if production else "console").lower()
    if log_format not in {"json", "console"}:
        raise ConfigError(f"LOG_FORMAT must be json or console, got {log_format!r}")
    log_level = _get(env, "LOG_LEVEL", "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {log_level!r}")
    return Settings(
        env=app_env,
        data_dir=data_dir,
        database_url=Secret(_get(env, "DATABASE_URL")),
        redis_url=Secret(_get(env, "REDIS_URL")),
        public_url=_url(env, "PUBLIC_URL", DEFAULT_PUBLIC_URL),
        secret_key=Secret(_secret_key(env, production=production, data_dir=data_dir)),
        github_app_id=int(app_id_raw) if app_id_raw else None,
        github_app_slug=_get(env, "GITHUB_APP_SLUG"),
        github_private_key=Secret(_private_key(env)),
        github_webhook_secret=Secret(_get(env, "GITHUB_WEBHOOK_SECRET")),
        github_client_id=_get(env, "GITHUB_CLIENT_ID"),
        github_client_secret=Secret(_get(env, "GITHUB_CLIENT_SECRET")),
        github_api_url=_url(env, "GITHUB_API_URL", "https://api.github.com"),
        github_url=_url(env, "GITHUB_URL", "https://github.com"),
        anthropic_api_key=Secret(_get(env, "ANTHROPIC_API_KEY")),
        anthropic_model=_get(env, "ANTHROPIC_MODEL") or DEFAULT_ANTHROPIC_MODEL,
        anthropic_base_url=_url(env, "ANTHROPIC_BASE_URL", ""),
        ai_budget_tokens=_int(env, "AI_BUDGET_TOKENS", 30_000),
        ai_partial_share=_float(env, "AI_PARTIAL_SHARE", 0.8),
        ai_debounce_seconds=_float(env, "AI_DEBOUNCE_SECONDS", 5.0),
        slack_bot_token=Secret(_get(env, "SLACK_BOT_TOKEN")),
        slack_api_url=_url(env, "SLACK_API_URL", "https://slack.com/api"),
        discord_webhook_url=Secret(_url(env, "DISCORD_WEBHOOK_URL", "")),
        smtp_host=_get(env, "SMTP_HOST"),
        smtp_port=_int(env, "SMTP_PORT", 587),
        smtp_username=_get(env, "SMTP_USERNAME"),
        smtp_password=Secret(_get(env, "SMTP_PASSWORD")),
        smtp_from=_get(env, "SMTP_FROM") or "devmetrics@localhost",
        smtp_starttls=_bool(env, "SMTP_STARTTLS", True),
        log_level=log_level,
        log_format=log_format,
        sentry_dsn=Secret(_get(env, "SENTRY_DSN")),
        webhook_max_bytes=_int(env, "WEBHOOK_MAX_BYTES", GITHUB_WEBHOOK_MAX_BYTES),
        web_idle_timeout_seconds=_float(env, "WEB_IDLE_TIMEOUT_SECONDS", 15.0),
        web_body_timeout_seconds=_float(env, "WEB_BODY_TIMEOUT_SECONDS", 30.0),
        web_max_connections=_int(env, "WEB_MAX_CONNECTIONS", 1000),
        worker_threads=_int(env, "WORKER_THREADS", 8),
        outbound_worker_threads=_int(env, "OUTBOUND_WORKER_THREADS", 4),
        delivery_max_attempts=_int(env, "DELIVERY_MAX_ATTEMPTS", 8),
        sweep_interval_seconds=_float(env, "SWEEP_INTERVAL_SECONDS", 30.0),
        sweep_grace_seconds=_float(env, "SWEEP_GRACE_SECONDS", 60.0),
        worker_child_nice=_nice(env, "WORKER_CHILD_NICE", 10),
        ingest_priority_rate=_non_negative(env, "INGEST_PRIORITY_RATE", 200),
        metrics_token=Secret(_get(env, "METRICS_TOKEN")),
        api_rate_limit_per_minute=_int(env, "API_RATE_LIMIT_PER_MINUTE", 100),
        webhook_rate_limit_per_minute=_int(env, "WEBHOOK_RATE_LIMIT_PER_MINUTE", 1_000),
        broker_url=Secret(_broker_url(env)),
        delivery_retention_days=_int(env, "DELIVERY_RETENTION_DAYS", 0),
    )
