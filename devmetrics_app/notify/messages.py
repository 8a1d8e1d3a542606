"""Message text from templates, and the escaping that keeps user text from speaking for us.

A PR title is written by whoever opened the PR. Sent raw, `<!channel>` pings a whole Slack channel
and `@everyone` a whole Discord server, and `<https://evil|Review PR>` disguises a link. So the
stored message is plain text, and each channel's template escapes every value for its own syntax:
Slack's `&`, `<`, `>` entities (which is all Slack's control syntax is made of), Discord's markdown
plus a zero-width break in mentions (and `allowed_mentions` refusing all pings besides), HTML via
Jinja's autoescape for email.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

import jinja2

from devmetrics_app.project_files import project_path

TEMPLATE_DIR = "notifications"
ZERO_WIDTH_SPACE = "\u200b"
DISCORD_MARKDOWN = re.compile(r"([\\*_~`|>\[\]()#])")
DISCORD_MENTION = re.compile(r"@(everyone|here)|<(?=[@#:]|a:|t:)")
PARTIAL_ESCAPE = re.compile(r"(&[a-z]{0,4}|\\+)$")
ELLIPSIS = "\u2026"
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Colours for Discord embeds and the email accent, by how much the message wants attention.
COLORS = {"info": 0x2F81F7, "warning": 0xD29922, "danger": 0xCF222E}


@dataclass(frozen=True)
class Message:
    """A rendered notification, channel-neutral and unescaped (what gets stored in the outbox)."""

    type: str
    title: str
    body: str
    url: str | None = None
    button: str = "Open"
    fields: list[tuple[str, str]] = field(default_factory=list)
    tone: str = "info"

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Message:
        values = dict(payload)
        values["fields"] = [(str(k), str(v)) for k, v in values.get("fields") or []]
        return cls(**values)

    @property
    def color(self) -> int:
        return COLORS.get(self.tone, COLORS["info"])


def slack_escape(value: object) -> str:
    """Slack's three entities; with them escaped no mention, link or command can be formed."""
    text = clean(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def discord_escape(value: object) -> str:
    text = DISCORD_MARKDOWN.sub(r"\\\1", clean(value))
    return DISCORD_MENTION.sub(lambda m: ("@" + ZERO_WIDTH_SPACE + m.group(1)) if m.group(1)
                               else "<" + ZERO_WIDTH_SPACE, text)


def clean(value: object) -> str:
    return CONTROL_CHARS.sub("", "" if value is None else str(value))


def limit(text: str, size: int) -> str:
    """Cut escaped text to a platform limit without leaving half an entity or a dangling escape."""
    if len(text) <= size:
        return text
    cut = PARTIAL_ESCAPE.sub("", text[: size - 1])
    return cut + ELLIPSIS


def one_line(value: object) -> str:
    """For headers (email Subject): a newline there would start a header of the sender's choosing."""
    return " ".join(clean(value).split())


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(project_path("templates") / TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False,
                                            default=False),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["slack"] = slack_escape
    env.filters["discord"] = discord_escape
    env.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False)
    env.filters["limit"] = limit
    return env


def render(rule_type: str, context: dict[str, Any], *, url: str | None, button: str,
           fields: list[tuple[str, str]] | None = None, tone: str = "info") -> Message:
    """`{type}.txt` gives the title (first line) and body (the rest) in plain text."""
    text = environment().get_template(f"{rule_type}.txt").render(**context).strip()
    title, _, body = text.partition("\n")
    safe_url = url if url and url.startswith(("https://", "http://")) else None
    return Message(type=rule_type, title=clean(title).strip(), body=body.strip(), url=safe_url,
                   button=button, fields=[(k, clean(v)) for k, v in fields or []], tone=tone)


def render_json(template: str, message: Message, **extra: Any) -> dict[str, Any]:
    """A channel's JSON template; every value in it passes the channel's escape filter then |json."""
    text = environment().get_template(template).render(m=message, **extra)
    return json.loads(text)


def render_email(message: Message) -> tuple[str, str, str]:
    """(subject, plain text, html)."""
    env = environment()
    text = env.get_template("email.txt").render(m=message)
    html = env.get_template("email.html").render(m=message, color=f"#{message.color:06x}")
    return one_line(message.title)[:200], text, html
