"""Markdown for the check run and the sticky comment, from Jinja2 templates in templates/review/.

The model's words arrive already sanitised (`ai/sanitize.py`). Everything else a user wrote that
we print — file names, branch names, our floor's reasons (which quote paths), config notes — goes
through `code` (an inline code span GitHub renders literally: no mentions, links or HTML) or
`md` (escaped prose). Autoescape is off because the output is Markdown, not HTML; escaping is
per value, on purpose, in the templates.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

import jinja2

from devmetrics_app.project_files import project_path

TEMPLATE_DIR = "review"
CHECK_TEMPLATE = "check_summary.md"
COMMENT_TEMPLATE = "comment.md"
COMMENT_BELOW_TEMPLATE = "comment_below.md"
SKIPPED_TEMPLATE = "skipped.md"
GITHUB_TEXT_LIMIT = 65_535
TRUNCATION_NOTE = "\n\n*… truncated: GitHub shows at most 65,535 characters here.*\n"
LIST_LIMIT = 60  # file names shown per coverage list; the rest are counted

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")


def md(value: Any) -> str:
    """User-written text as inert Markdown prose: no HTML, links, mentions or formatting."""
    text = " ".join(str(value or "").split())
    text = html.escape(text, quote=False)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = text.replace("://", ":&#47;&#47;").replace("www.", "www&#46;")
    return _MENTION.sub("@<!-- -->", text)


def code(value: Any) -> str:
    """An inline code span that holds any text: the fence is longer than any backtick run in it."""
    text = " ".join(str(value or "").split())
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fit(text: str, limit: int = GITHUB_TEXT_LIMIT) -> str:
    """At most `limit` characters, cut at a line boundary, with open <details> closed again."""
    if len(text) <= limit:
        return text
    room = limit - len(TRUNCATION_NOTE) - 20
    cut = text.rfind("\n", 0, room)
    body = text[: cut if cut > 0 else room]
    unclosed = body.count("<details>") - body.count("</details>")
    return body + TRUNCATION_NOTE + "\n</details>" * max(0, unclosed)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(project_path("templates") / TEMPLATE_DIR),
        autoescape=False,  # noqa: S701 - Markdown, escaped per value with `md` and `code`
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)
    env.filters["md"] = md
    env.filters["code"] = code
    env.globals["LIST_LIMIT"] = LIST_LIMIT
    return env


def render(template: str, **context: Any) -> str:
    text = environment().get_template(template).render(**context)
    return fit(re.sub(r"\n{3,}", "\n\n", text).strip() + "\n")
