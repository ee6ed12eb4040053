"""Links inside ``REPORT.md``: the anchor a Markdown renderer gives a heading.

GitHub's rule (github-slugger): lowercase the heading's text, drop every character that is not
a letter, a digit, an underscore, a hyphen or a space, and turn each space into a hyphen, so
"Figure 1 — perturbation growth" becomes ``figure-1--perturbation-growth`` (the em dash goes,
both spaces stay). A heading whose anchor is already taken gets ``-1``, ``-2``, ... in document
order: the second "### Figure 1 — ..." is ``figure-1--...-1``.
"""
from __future__ import annotations

import re

_HEADING = re.compile(r"^(#{1,6}) (.+?)\s*$")
_LINK = re.compile(r"\]\(#([^)\s]*)\)")


def anchor(title: str) -> str:
    """The anchor of the first heading with the text ``title`` (module doc)."""
    kept = "".join(c for c in title.strip().lower() if c.isalnum() or c in "_- ")
    return kept.replace(" ", "-")


def headings(lines: list) -> list[str]:
    """The text of every Markdown heading (``#`` to ``######``) in ``lines``, in order."""
    out = []
    for line in lines:
        for part in str(line).split("\n"):
            m = _HEADING.match(part)
            if m:
                out.append(m.group(2))
    return out


def heading_anchors(titles: list) -> dict[str, list[str]]:
    """Per heading text, the anchors of its occurrences in ``titles`` (document order), with
    GitHub's ``-1``, ``-2`` suffixes for repeats."""
    seen: dict[str, int] = {}
    out: dict[str, list[str]] = {}
    for title in titles:
        base = slug = anchor(title)
        while slug in seen:
            seen[base] += 1
            slug = f"{base}-{seen[base]}"
        seen[slug] = 0
        out.setdefault(title, []).append(slug)
    return out


def links(text: str) -> list[str]:
    """The in-document link targets ``(#anchor)`` in ``text``."""
    return _LINK.findall(text)
