"""The report's first screen (the answer, the agreement, the open settings, the contents), its
links, the settings tables and the compute appendix; from synthetic summaries, no figures."""
from __future__ import annotations

import re

import pytest

from nprelu import paper
from nprelu.experiments import OUTPUTS
from nprelu.report import build_report
from nprelu.report.anchors import anchor, heading_anchors, headings, links
from nprelu.report.front import ANSWER, AGREEMENT, CONTENTS, order, short_title
from nprelu.report.intervals import seed_blocks
from nprelu.report.registry import sections
from nprelu.report.settings import SettingsWriter, settings_table, value_text
from nprelu.report.title import title_answer, twin_verdicts, verdict_table

FIRST_SCREEN = 60


@pytest.fixture(scope="module")
def report(summary, tmp_path_factory):
    return build_report(summary, tmp_path_factory.mktemp("front"), strict=True)


def _part(text: str, title: str) -> str:
    return text.split(f"## {title}\n")[1].split("\n## ")[0]


def test_the_first_60_lines_hold_the_answer_its_table_the_agreement_settings_and_contents(
        report, summary):
    head = "\n".join(report.splitlines()[:FIRST_SCREEN])
    verdicts = twin_verdicts(summary["suite"]["rows"],
                             [b["rows"] for b in seed_blocks(summary, "suite")])
    assert f"## {ANSWER}" in head and f"## {CONTENTS}" in head and f"## {AGREEMENT}" in head
    assert title_answer(verdicts, 3) in head
    assert verdict_table(verdicts) in head                 # every row of the title's table
    for setting, choice, why in paper.OPEN_SETTINGS:       # the settings the paper leaves open
        assert f"| {setting} | {choice} | {why} |" in head
    contents = _part(report, CONTENTS)
    for group in sections():                                # every section in the contents
        assert f"(#{anchor(group[0].title)})" in contents, group[0].key
    for title in ("How this was produced", "Where we agree and where we differ",
                  "Appendix: compute"):
        assert f"[{title}](#{anchor(title)})" in contents


def test_the_answer_table_is_moved_from_the_suite_section_not_repeated(report, summary):
    verdicts = twin_verdicts(summary["suite"]["rows"],
                             [b["rows"] for b in seed_blocks(summary, "suite")])
    assert report.count(verdict_table(verdicts)) == 1
    suite = _part(report, OUTPUTS["suite"].title)
    assert f"[{ANSWER}](#{anchor(ANSWER)})" in suite and verdict_table(verdicts) not in suite


def test_each_agreement_line_counts_the_sections_verdicts_and_quotes_what_fails(report):
    agreement = _part(report, AGREEMENT)
    full = _part(report, "Where we agree and where we differ")
    table = full.split("Claim verdicts per section:")[1].split("\n### ")[0]
    lines = [l for l in agreement.splitlines() if l.startswith("- [")]
    claimed = [g for g in sections() if g[0].claims or g[0].partner]
    assert len(lines) == len(claimed)
    for group, line in zip(order(claimed), lines):
        title = group[0].title
        assert line.startswith(f"- [{short_title(group)}](#{anchor(title)}): "), line
        row = next(l for l in table.splitlines() if l.startswith(f"| {title} |"))
        h, f, i, m, c = (int(c) for c in row.strip("|").split("|")[1:])
        more = (f", {m} masked attack: not evidence" if m else "") + (
            f", {c} holds by construction" if c else "")
        assert f"— {h} hold, {f} fail, {i} inconclusive{more} (of {h + f + i + m + c})" in line
        assert ("we differ" in line) == (f > 0)
        assert line.split(": ", 1)[1].startswith(("we agree —", "we agree;")) == (
            f == 0 and i == 0 and h > 0)
        assert ("masked (not evidence)" in line) == (m > 0)
        if f:   # each quoted claim is one the section's verdicts mark as failing
            body = full.split(f"### {title}\n")[1].split("\n### ")[0]
            failing = [l for l in body.splitlines() if "→ **fails**" in l]
            for quoted in re.findall(r"“([^”]+)”", line):
                assert any(quoted in l for l in failing), quoted


def test_every_link_in_the_report_leads_to_a_heading(report):
    anchors = {a for found in heading_anchors(headings(report.splitlines())).values()
               for a in found}
    targets = links(report)
    assert len(targets) > 40
    assert not [t for t in targets if t not in anchors]


def test_anchors_follow_githubs_rule():
    assert anchor("Figure 1 — perturbation growth through the hidden layers") == \
        "figure-1--perturbation-growth-through-the-hidden-layers"
    assert anchor("Beyond the paper — the CW-L2 gap: which CW setting gives the paper's "
                  "numbers?") == "beyond-the-paper--the-cw-l2-gap-which-cw-setting-gives-the-papers-numbers"
    assert anchor("Figure 7 (ours, from data) — zero-gradient search") == \
        "figure-7-ours-from-data--zero-gradient-search"
    assert anchor("Appendix: compute") == "appendix-compute"
    assert heading_anchors(["A b", "A b", "a-b", "A b"]) == {"A b": ["a-b", "a-b-1", "a-b-3"],
                                                             "a-b": ["a-b-2"]}
    assert headings(["## One", "text", "### Two\nx", "#no"]) == ["One", "Two"]


def test_sections_come_in_the_papers_order_then_ours():
    keys = [g[0].key for g in order(sections())]
    assert keys[:12] == ["fig01", "fig02", "fig03", "fig04", "fig05", "fig06", "fig07", "fig08",
                         "fig09", "fig10", "fig11", "table1"]
    ours = [g[0].key for g in sections() if not re.match(r"(Figure|Table) \d", g[0].title)]
    assert keys[12:] == ours and "masking" in ours and "cw_gap" in ours
    assert short_title((OUTPUTS["suite"], OUTPUTS["fig13"], OUTPUTS["fig14"])) == \
        "one attack suite, one budget (Figures 13, 14)"


def test_compute_statistics_are_only_in_the_appendix(summary, tmp_path):
    tera = 10**12
    s = dict(summary, meta=dict(summary["meta"], flops={"fig03": 2 * tera, "table1": 6 * tera},
                                matmul_capacity={"fig03": 4 * tera, "table1": 8 * tera}))
    text = build_report(s, tmp_path, strict=True)
    before, appendix = text.split("## Appendix: compute\n")
    for word in ("TFLOP", "matrix-product rate", "Compute time"):
        assert word not in before and word in appendix, word
    assert "- Useful work: 8.0 TFLOP" in appendix and "rate: 67%" in appendix
    assert "| table1 | 10.0 s | 6.00 | 75% |" in appendix
    assert "\n## " not in appendix                              # the last section


def test_without_the_suite_the_answer_says_where_it_would_come_from(summary, tmp_path):
    text = build_report({k: v for k, v in summary.items() if k != "suite"}, tmp_path,
                        strict=True)
    assert "Not in this summary: the answer comes from the experiment `suite`" in \
        _part(text, ANSWER)


def test_settings_are_written_in_words_as_a_table():
    assert value_text({"eps": 0.1, "random_start": True, "inner": {"a": [1, 2], "b": None}}) \
        == "eps: 0.1; random start: yes; inner: (a: 1, 2; b: none)"
    assert value_text([0.078125, False]) == "0.078125, no"
    table = settings_table({"pgd_on_uncapped": {"steps": 20}, "note": "a | b\nc"})
    assert table.splitlines() == ["| Setting | Value |", "|---|---|",
                                  "| pgd on uncapped | steps: 20 |", "| note | a \\| b c |"]
    writer = SettingsWriter()
    assert writer.lines("e", {"x": 1}, "Figure 1 — one")[2] == settings_table({"x": 1})
    assert writer.lines("e", {"x": 1}, "Figure 2 — two") == [
        "Settings (experiment `e`): as in [Figure 1 — one](#figure-1--one).", ""]
    assert writer.lines("f", None, "t") == ["Settings (experiment `f`): none recorded.", ""]
