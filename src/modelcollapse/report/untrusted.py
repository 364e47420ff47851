"""Untrusted text from a results folder (experiment names, sweep values, workflow labels, metric names) made
safe to draw with matplotlib and to use in file names.

The HTML report escapes its own way (:mod:`modelcollapse.report.html`); these helpers serve the figures.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

TITLE = 160  # characters of a figure title kept; beyond it the layout breaks, the full text is in the CSV
LABEL = 60  # a legend entry, an axis label or a facet's title
STEM = 60  # a file name part; a hash of the whole text keeps shortened names apart
NAME = 160  # a whole file stem: file systems allow 255 bytes, and the suffixes (.png, .pdf, .csv) follow

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def shorten(text: object, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with an ellipsis."""
    s = str(text)
    return s if len(s) <= limit else s[: max(limit - 1, 0)] + "…"


def plain(text: object, limit: int = LABEL) -> str:
    """``text`` as a matplotlib title or label, drawn as written: shortened, control and separator
    characters replaced, ``$`` escaped (an unbalanced ``$...$`` makes mathtext raise when drawn), and a
    leading ``_`` kept visible (legends skip labels that start with one)."""
    s = "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in shorten(text, limit))
    s = s.replace("$", r"\$")
    return " " + s if s.startswith("_") else s


def slug(text: object, limit: int = STEM) -> str:
    """A file name part that stays in its folder: only ``A-Z a-z 0-9 . _ -``, no leading dot, at most
    ``limit`` characters; text that had to change gains a short hash of itself, so two texts stay apart."""
    s = str(text)
    safe = _UNSAFE.sub("_", s).lstrip(".")[:limit]
    if safe == s and safe:
        return s
    return f"{safe}-{digest(s)}" if safe else digest(s)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]


def file_stem(parts: Iterable[object], used: set[str]) -> str:
    """The slugs of ``parts`` joined by ``-``, unique among ``used`` (case-insensitively, for file systems
    that ignore case), which it extends: ``("a-b", "c")`` and ``("a", "b-c")`` would otherwise meet."""
    texts = [str(p) for p in parts if str(p)]
    stem = "-".join(slug(p) for p in texts)
    if len(stem) > NAME or stem.lower() in used:
        stem = f"{stem[: NAME - 11]}-{digest(repr(texts))}"
    used.add(stem.lower())
    return stem
