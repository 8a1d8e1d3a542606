"""Structured logging: JSON lines in production, readable lines in development.

The delivery id being processed rides in a context variable so every log line a handler writes
carries it without being passed around.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from datetime import UTC, datetime

import orjson

delivery_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("delivery_id", default=None)

# Attributes every LogRecord has; anything else was passed through `extra=` and is printed.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def _extras(record: logging.LogRecord) -> dict[str, object]:
    fields = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}
    delivery_id = delivery_id_var.get()
    if delivery_id and "delivery_id" not in fields:
        fields["delivery_id"] = delivery_id
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        time = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{time} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if extras:
            line += f"  [{extras}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(*, level: str = "INFO", fmt: str = "console") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log is one line per webhook: too chatty above DEBUG.
    logging.getLogger("aiohttp.access").setLevel(max(logging.WARNING, root.level))
    # pika narrates every connection open and close at INFO (each worker thread has its own).
    logging.getLogger("pika").setLevel(max(logging.WARNING, root.level))
