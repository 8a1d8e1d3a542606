"""A simulated webhook delivery, and the JSON Lines form `devmetrics replay` reads."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Delivery:
    """What GitHub would POST: the event name (X-GitHub-Event), its GUID (X-GitHub-Delivery)
    and the JSON payload."""

    event: str
    delivery_id: str
    payload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.event, "delivery_id": self.delivery_id, "payload": self.payload}

    def to_jsonl(self) -> str:
        """One line of JSON Lines (no trailing newline)."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    def body(self) -> bytes:
        """The raw request body a signature is computed over."""
        return json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False).encode()


def delivery_guid(*parts: object) -> str:
    """A GUID shaped like GitHub's (a v4 UUID), derived from `parts` so runs repeat exactly."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def write_jsonl(deliveries: Iterable[Delivery]) -> str:
    """The deliveries as JSON Lines text, one per line, newline-terminated."""
    return "".join(d.to_jsonl() + "\n" for d in deliveries)
