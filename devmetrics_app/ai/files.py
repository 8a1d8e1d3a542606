"""The pull request's files as GitHub lists them, and which of them a review should ignore.

`GET /repos/{owner}/{repo}/pulls/{n}/files` gives each file's `filename`, `status`, `additions`,
`deletions`, `changes`, `patch` (absent for binary files and for diffs GitHub deems too large) and
`previous_filename` (renames). Lockfiles, generated and vendored files are noise to a reviewer:
they are skipped, with the reason said out loud. The repository's `.gitattributes` has the last
word, exactly as for GitHub's own diff view (`linguist-generated`, `linguist-vendored`, `binary`,
`-diff`), including `-linguist-generated` to un-mark a file our defaults would skip.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

SKIP_LOCKFILE = "lockfile"
SKIP_GENERATED = "generated"
SKIP_VENDORED = "vendored"
SKIP_BINARY = "binary"
SKIP_NO_PATCH = "no diff from GitHub (too large)"

LOCKFILE_NAMES = frozenset({
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb", "bun.lock",
    "poetry.lock", "pipfile.lock", "pdm.lock", "uv.lock", "cargo.lock", "gemfile.lock", "composer.lock",
    "go.sum", "go.work.sum", "mix.lock", "pubspec.lock", "podfile.lock", "packages.lock.json",
    "flake.lock", "gradle.lockfile", "package.resolved", "cartfile.resolved", "deno.lock",
    "paket.lock", "shard.lock", "conan.lock", ".terraform.lock.hcl",
})
LOCKFILE_SUFFIXES = (".lockfile",)

GENERATED_PATTERNS = (
    r"\.min\.(js|css|mjs)$", r"\.(js|css)\.map$", r"\.map$", r"_pb2(_grpc)?\.pyi?$", r"\.pb\.(go|cc|h)$",
    r"\.pb\.gw\.go$", r"_generated\.\w+$", r"\.generated\.\w+$", r"\.g\.dart$", r"\.freezed\.dart$",
    r"(^|/)__snapshots__/", r"\.snap$", r"(^|/)dist/", r"(^|/)\.next/", r"(^|/)coverage/",
    r"(^|/)__generated__/", r"(^|/)generated/", r"\.designer\.cs$", r"zz_generated\.\w+\.go$",
)
VENDORED_PATTERNS = (
    r"(^|/)vendor/", r"(^|/)node_modules/", r"(^|/)third[_-]party/", r"(^|/)bower_components/",
    r"(^|/)Godeps/_workspace/", r"(^|/)\.yarn/(releases|plugins|cache)/", r"(^|/)site-packages/",
)
BINARY_EXTENSIONS = frozenset({
    "png", "jpg", "jpeg", "gif", "bmp", "ico", "icns", "webp", "tif", "tiff", "psd", "pdf", "zip", "gz",
    "tgz", "bz2", "xz", "7z", "rar", "tar", "jar", "war", "ear", "class", "pyc", "pyo", "so", "dll",
    "dylib", "exe", "bin", "o", "a", "lib", "wasm", "woff", "woff2", "ttf", "otf", "eot", "mp3", "mp4",
    "m4a", "wav", "ogg", "flac", "mov", "avi", "mkv", "webm", "sqlite", "db", "parquet", "pkl",
    "npy", "npz", "h5", "onnx", "pt", "ckpt", "safetensors", "xlsx", "xls", "docx", "doc", "pptx",
    "keystore", "jks", "p12", "pfx", "der",
})

_GENERATED_RE = re.compile("|".join(GENERATED_PATTERNS))
_VENDORED_RE = re.compile("|".join(VENDORED_PATTERNS))


@dataclass(frozen=True)
class PrFile:
    """One entry of `GET /pulls/{n}/files`."""

    filename: str
    status: str = "modified"  # added | removed | modified | renamed | copied | changed | unchanged
    additions: int = 0
    deletions: int = 0
    changes: int = 0
    patch: str | None = None
    previous_filename: str | None = None

    @classmethod
    def from_github(cls, data: Mapping[str, Any]) -> PrFile:
        additions = int(data.get("additions") or 0)
        deletions = int(data.get("deletions") or 0)
        return cls(
            filename=str(data["filename"]),
            status=str(data.get("status") or "modified"),
            additions=additions,
            deletions=deletions,
            changes=int(data.get("changes") or additions + deletions),
            patch=data.get("patch"),
            previous_filename=data.get("previous_filename"),
        )

    @property
    def extension(self) -> str:
        _, dot, ext = posixpath.basename(self.filename).rpartition(".")
        return ext.lower() if dot else ""


# --- .gitattributes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    attrs: Mapping[str, bool]


def _glob_to_regex(pattern: str) -> re.Pattern[str]:
    """gitattributes patterns: gitignore-style globs. No slash → matches the basename at any depth;
    a slash → anchored at the repository root. A trailing `/` is read as `dir/**` (lenient)."""
    if pattern.endswith("/"):
        pattern += "**"
    anchored = "/" in pattern.rstrip("/")
    pattern = pattern.lstrip("/")
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("/.*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
                i += 1
            else:
                body = pattern[i + 1:end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(f"^{prefix}{''.join(out)}$")


@dataclass(frozen=True)
class GitAttributes:
    rules: tuple[_Rule, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> GitAttributes:
        rules: list[_Rule] = []
        for raw in (text or "").splitlines():
            line = raw.strip()
            if not line or line.startswith("#") or line.startswith("[attr]"):
                continue
            pattern, *attrs = line.split()
            if pattern.startswith("!"):  # negative patterns are forbidden in gitattributes
                continue
            values: dict[str, bool] = {}
            for attr in attrs:
                if attr.startswith(("-", "!")):
                    values[attr[1:]] = False
                elif "=" in attr:
                    name, _, value = attr.partition("=")
                    values[name] = value.lower() not in {"false", "0", "no", "off"}
                else:
                    values[attr] = True
            try:
                rules.append(_Rule(_glob_to_regex(pattern), values))
            except re.error:
                continue
        return cls(tuple(rules))

    def get(self, path: str, attr: str) -> bool | None:
        """The attribute's value for `path`: the last matching line wins; None when unspecified."""
        result: bool | None = None
        for rule in self.rules:
            if attr in rule.attrs and rule.pattern.match(path):
                result = rule.attrs[attr]
        return result


@lru_cache(maxsize=64)
def parse_gitattributes(text: str | None) -> GitAttributes:
    return GitAttributes.parse(text)


# --- classification ---------------------------------------------------------------------------


def is_lockfile(path: str) -> bool:
    name = posixpath.basename(path).lower()
    return name in LOCKFILE_NAMES or name.endswith(LOCKFILE_SUFFIXES)


def classify(file: PrFile, attributes: GitAttributes | None = None) -> str | None:
    """Why the file is left out of the review (a SKIP_* reason), or None when it is reviewable."""
    attributes = attributes or GitAttributes()
    path = file.filename
    generated = attributes.get(path, "linguist-generated")
    vendored = attributes.get(path, "linguist-vendored")
    if attributes.get(path, "binary") or attributes.get(path, "diff") is False:
        return SKIP_BINARY
    if generated:
        return SKIP_GENERATED
    if vendored:
        return SKIP_VENDORED
    if is_lockfile(path):
        return SKIP_LOCKFILE
    if generated is None and _GENERATED_RE.search(path):
        return SKIP_GENERATED
    if vendored is None and _VENDORED_RE.search(path):
        return SKIP_VENDORED
    if file.extension in BINARY_EXTENSIONS:
        return SKIP_BINARY
    if file.patch is None:
        if file.changes == 0 and file.status in {"renamed", "copied", "unchanged"}:
            return None  # a pure rename: nothing to read, nothing to skip
        return SKIP_BINARY if file.changes == 0 else SKIP_NO_PATCH
    return None
