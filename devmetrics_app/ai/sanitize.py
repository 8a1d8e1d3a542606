"""Make model output safe to post on GitHub.

A model that read attacker-written text can be steered into writing things we would then publish
under our name: @mentions (which notify people and teams), raw HTML (hidden comments, fake UI,
tracking images) and links to anywhere. So: mentions lose their `@`, HTML tags are removed, only
links into the pull request's own repository stay links, invisible characters go, and every field
has a length cap. Code spans and fenced blocks are left as they are (GitHub does not ping, link
or render HTML inside them), apart from invisible characters and the length cap.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .unicode import strip_invisible

SUMMARY_MAX_CHARS = 1500
TITLE_MAX_CHARS = 120
TEXT_MAX_CHARS = 1200
EVIDENCE_MAX_CHARS = 300

_CODE = re.compile(r"(```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)|`[^`\n]*`)", re.S)
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_MENTION = re.compile(r"(?<![\w`/.@-])@([A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:/[A-Za-z0-9_.-]+)?)")
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\(([^)\s]*)(?:\s+\"[^\"]*\")?\)")
_MD_LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\s]*)(?:\s+\"[^\"]*\")?\)")
_REF_DEF = re.compile(r"^\s{0,3}\[[^\]\n]+\]:\s*\S+.*$", re.M)
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^>\s]+)>", re.I)
_BARE_URL = re.compile(r"(?<![\w(`/])((?:https?://|www\.)[^\s<>()`]*[^\s<>()`.,;:!?'\"])", re.I)


def cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def _allowed(url: str, repo_url: str) -> bool:
    if not repo_url:
        return False
    try:
        u, r = urlsplit(url), urlsplit(repo_url.rstrip("/"))
    except ValueError:
        return False
    if u.scheme not in {"http", "https"} or u.scheme != r.scheme:
        return False
    if (u.hostname or "").lower() != (r.hostname or "").lower() or u.port != r.port or u.username:
        return False
    path, base = u.path.rstrip("/").lower(), r.path.rstrip("/").lower()
    return path == base or path.startswith(base + "/")


def _prose(text: str, repo_url: str) -> str:
    text = _HTML_COMMENT.sub("", text)
    text = _HTML_TAG.sub("", text)
    text = _REF_DEF.sub("", text)
    text = _IMAGE.sub(lambda m: m.group(1), text)
    text = _MD_LINK.sub(
        lambda m: m.group(0) if _allowed(m.group(2), repo_url) else (m.group(1) or "link"), text)
    text = _AUTOLINK.sub(lambda m: m.group(0) if _allowed(m.group(1), repo_url) else f"`{m.group(1)}`", text)
    text = _BARE_URL.sub(lambda m: m.group(0) if _allowed(m.group(1), repo_url) else f"`{m.group(1)}`", text)
    text = _MENTION.sub(lambda m: m.group(1), text)
    return text.replace("<", "\u2039").replace(">", "\u203a") if _HTML_TAG.search(text) else text


def sanitize_markdown(text: str | None, *, repo_url: str, limit: int = TEXT_MAX_CHARS) -> str:
    """Model text → text safe to post. `repo_url` is the repository's web URL
    (e.g. https://github.com/acme/app); links elsewhere are de-linked."""
    if not text:
        return ""
    text = strip_invisible(text).replace("\r\n", "\n")
    pieces = _CODE.split(text)
    out = [piece if i % 2 else _prose(piece, repo_url) for i, piece in enumerate(pieces)]
    return cap("".join(out).strip(), limit)


def sanitize_plain(text: str | None, *, limit: int) -> str:
    """For single-line fields such as finding titles and file paths: no markup survives at all."""
    if not text:
        return ""
    text = strip_invisible(text)
    text = _HTML_TAG.sub("", text)
    text = _MENTION.sub(lambda m: m.group(1), text)
    text = re.sub(r"[\r\n\t]+", " ", text)
    text = _BARE_URL.sub(lambda m: f"`{m.group(1)}`", text)
    text = text.replace("<", "\u2039").replace(">", "\u203a").replace("](", "] (")
    return cap(text.strip(), limit)
