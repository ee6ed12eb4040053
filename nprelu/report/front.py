"""The report's first screen: the contents, the title question answered, and where we agree
and where we differ with the paper, one line per section.

Nothing here is a new number: the answer is the suite section's table and paragraph
(:mod:`.title`), moved to the top; each agreement line counts the claim-level verdicts
(``→ **holds**`` ...) that the section's findings already write, and quotes the paper's claims
whose verdict there is "fails"; claims marked "masked attack: not evidence" or "holds by
construction" (:mod:`.families`) are named apart, never counted as agreement.

Sections come in the paper's order (:func:`order`): its figures by number (Figure 7 among them,
though ours is drawn from data), then its tables, then our studies beyond the paper in registry
order.
"""
from __future__ import annotations

import re

from ..experiments import OUTPUTS
from . import control
from .families import CONSTRUCTION, MASKED
from .intervals import counts_text, marks, seed_blocks
from .title import title_answer, twin_verdicts, verdict_table
from .title_eps import answer_lines

ANSWER = "The answer: is ReLU adversarially robust?"
AGREEMENT = "Agreement with the paper, section by section"
CONTENTS = "Contents"
_NUMBERED = re.compile(r"^(Figure|Table) (\d+)")


def order(groups: list) -> list:
    """``groups`` (report sections) in the paper's order (module doc); a stable sort."""
    def key(item):
        i, group = item
        m = _NUMBERED.match(group[0].title)
        if m is None:
            return (2, i)
        return (0 if m.group(1) == "Figure" else 1, int(m.group(2)))
    return [g for _, g in sorted(enumerate(groups), key=key)]


def short_title(group) -> str:
    """"Figure 4", "Table 1", "Figure 7 (ours, from data)"; for our studies the topic ("the
    CW-L2 gap") with their figures' numbers."""
    title = group[0].title
    if _NUMBERED.match(title):
        return title.split(" — ")[0]
    topic = title.split(" — ", 1)[-1].split(":")[0]
    numbers = [re.match(r"\d+", o.number).group(0) for o in group
               if o.file and re.match(r"\d+", o.number or "")]
    if not numbers:
        return topic
    return f"{topic} (Figure{'s' if len(numbers) > 1 else ''} {', '.join(numbers)})"


def contents(groups: list, anchors: dict, others: list) -> list[str]:
    """The table of contents: the paper's sections, ours, then ``others`` (heading titles)."""
    def link(label, title):
        return f"[{label}]({'#' + anchors[title][0]})"
    paper_ = [g for g in groups if _NUMBERED.match(g[0].title)]
    ours = [g for g in groups if not _NUMBERED.match(g[0].title)]
    lines = []
    if paper_:
        lines.append("- The paper's figures and table: "
                     + " · ".join(link(short_title(g), g[0].title) for g in paper_))
    if ours:
        lines.append("- Beyond the paper: "
                     + " · ".join(link(short_title(g), g[0].title) for g in ours))
    lines.append("- " + " · ".join(link(t, t) for t in others if t in anchors))
    return [f"## {CONTENTS}", ""] + lines + [""]


def answer(summary: dict, anchors: dict) -> list[str]:
    """The title question answered from the suite's worst case, with its table."""
    head = [f"## {ANSWER}", ""]
    block = summary.get("suite")
    suite_title = OUTPUTS["suite"].title
    if not (block and block["rows"]):
        return head + ["Not in this summary: the answer comes from the experiment `suite` "
                       "(`run_all.py --only suite`).", ""] + answer_lines(summary)
    seed_rows = [b["rows"] for b in seed_blocks(summary, "suite")]
    verdicts = twin_verdicts(block["rows"], seed_rows)
    where = (f"[{short_title((OUTPUTS['suite'],))}](#{anchors[suite_title][0]})"
             if suite_title in anchors else "the suite section")
    lines = head + [title_answer(verdicts, len(seed_rows)) + " Network by network (the "
                    "attacks and their budget: " + where + "), each capped network's worst "
                    "case against its uncapped twin's (same adversarial training), the "
                    "difference taken per seed:", ""]
    if verdicts:
        lines += [verdict_table(verdicts), ""]
    # across eps and the control in one paragraph: the first screen stays within 60 lines
    return lines + [" ".join(t for t in (answer_lines(summary)[0],
                                         control.pointer(summary, anchors)) if t), ""]


def failing_claims(group, items: list) -> list[str]:
    """The paper's claims (the section's own, then its partner's, as "Figure 4's “...”") that
    an item with the verdict "fails" quotes, in the order of the items."""
    host = group[0]
    claims = [(c.text, f"“{c.text}”") for c in host.claims]
    if host.partner:
        partner = OUTPUTS[host.partner]
        claims += [(c.text, f"{short_title((partner,))}'s “{c.text}”") for c in partner.claims]
    found = []
    for item in items:
        if "→ **fails**" in str(item):
            found += [q for t, q in claims if t in str(item) and q not in found]
    return found


def agreement_line(group, items: list, anchors: dict) -> str:
    """One section: we agree (every claim-level verdict holds), we differ (one fails: the
    claims quoted) or not settled; the counts, a link to the section and to its verdicts."""
    title = group[0].title
    c = marks(items)
    where = anchors.get(title, [])
    label = f"[{short_title(group)}](#{where[0]})" if where else short_title(group)
    detail = f"; [claim by claim](#{where[1]})" if len(where) > 1 else ""
    if c.get("fails"):
        quoted = "; ".join(failing_claims(group, items))
        verdict = f"we differ{' on ' + quoted if quoted else ''}"
    elif c.get("holds") and not c.get("inconclusive"):
        verdict = "we agree"
    elif c.get("holds"):
        verdict = "we agree in part, the rest is inconclusive"
    else:
        verdict = "not settled by our numbers"
    if c.get(MASKED):
        verdict += (f"; {c[MASKED]} of its claims hold only through an attack shown to be "
                    "masked (not evidence)")
    if c.get(CONSTRUCTION):
        verdict += f"; {c[CONSTRUCTION]} holds by construction (not evidence)"
    return f"- {label}: {verdict} — {counts_text(c)}{detail}."


def agreement(groups: list, findings: dict, anchors: dict) -> list[str]:
    """One line per section that tests claims of the paper (``findings``: its items by the
    host's key)."""
    lines = [agreement_line(g, findings[g[0].key], anchors) for g in groups
             if (g[0].claims or g[0].partner) and g[0].key in findings
             and sum(marks(findings[g[0].key]).values())]
    if not lines:
        return []
    return ([f"## {AGREEMENT}", "",
             "Each claim of the paper tested on our numbers (holds, fails or inconclusive, "
             "counted over the comparisons it takes):", ""] + lines + [""])
