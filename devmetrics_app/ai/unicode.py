"""Invisible and direction-changing characters (Trojan Source, CVE-2021-42574) and text normalisation.

Bidirectional controls make code render differently from how it compiles; zero-width and tag
characters hide text from a human while a model still reads it. Both are flagged for the risk
floor and made visible (`<U+202E>`) before anything reaches the model, so the model reviews what
the compiler sees. Titles and bodies are NFKC-normalised (full-width and compatibility forms folded,
so full-width "ignore" reads as "ignore" to our heuristics too); code is not, since NFKC would change it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

BIDI = "bidi"
INVISIBLE = "invisible"
TAG = "tag"

BIDI_CONTROLS = frozenset(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]
)
INVISIBLE_CHARS = frozenset([
    0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD, 0x034F, 0x180E, 0x2061, 0x2062, 0x2063, 0x2064,
    0x115F, 0x1160, 0x3164, 0xFFA0, 0x17B4, 0x17B5, 0xFFF9, 0xFFFA, 0xFFFB,
])
TAG_RANGE = range(0xE0000, 0xE0080)
_SUSPICIOUS = re.compile(
    "[" + "".join(re.escape(chr(cp)) for cp in sorted(BIDI_CONTROLS | INVISIBLE_CHARS))
    + f"{chr(TAG_RANGE.start)}-{chr(TAG_RANGE.stop - 1)}]"
)


def char_kind(ch: str) -> str | None:
    cp = ord(ch)
    if cp in BIDI_CONTROLS:
        return BIDI
    if cp in TAG_RANGE:
        return TAG
    if cp in INVISIBLE_CHARS:
        return INVISIBLE
    return None


def _visible(ch: str) -> str:
    return f"<U+{ord(ch):04X}>"


@dataclass
class UnicodeReport:
    """What was found where. `counts` is by kind (bidi/invisible/tag); `locations` are short
    human-readable places such as "src/a.py:12" or "title"."""

    counts: Counter[str] = field(default_factory=Counter)
    locations: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def bidi(self) -> int:
        return self.counts[BIDI]

    def add(self, kind: str, location: str) -> None:
        self.counts[kind] += 1
        if location not in self.locations and len(self.locations) < 50:
            self.locations.append(location)

    def merge(self, other: UnicodeReport) -> None:
        self.counts.update(other.counts)
        for loc in other.locations:
            if loc not in self.locations and len(self.locations) < 50:
                self.locations.append(loc)


def scan(text: str, location: str, report: UnicodeReport | None = None) -> UnicodeReport:
    report = report if report is not None else UnicodeReport()
    for m in _SUSPICIOUS.finditer(text):
        report.add(char_kind(m.group(0)) or INVISIBLE, location)
    return report


def scan_patch(patch: str, filename: str, report: UnicodeReport | None = None) -> UnicodeReport:
    """Flag suspicious characters on the lines a pull request adds (with their new line numbers)."""
    report = report if report is not None else UnicodeReport()
    if not _SUSPICIOUS.search(patch):
        return report
    new_line = 0
    for line in patch.splitlines():
        if line.startswith("@@"):
            new_line = _hunk_new_start(line)
            continue
        if line.startswith("+"):
            if _SUSPICIOUS.search(line):
                scan(line[1:], f"{filename}:{new_line}", report)
            new_line += 1
        elif line.startswith(" "):
            new_line += 1
    return report


def _hunk_new_start(header: str) -> int:
    # @@ -a,b +c,d @@
    try:
        plus = header.split("+", 1)[1]
        return int(plus.split(",", 1)[0].split(" ", 1)[0])
    except (IndexError, ValueError):
        return 0


def reveal(text: str) -> str:
    """Replace every suspicious character with a visible `<U+XXXX>` marker (code: no NFKC)."""
    return _SUSPICIOUS.sub(lambda m: _visible(m.group(0)), text)


def strip_invisible(text: str) -> str:
    return _SUSPICIOUS.sub("", text)


def _strip_controls(text: str) -> str:
    return "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc"
    )


def normalise_text(text: str | None) -> str:
    """Title/body → NFKC, newlines unified, C0/C1 controls dropped, suspicious characters revealed."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFKC", text)
    return reveal(_strip_controls(text))
