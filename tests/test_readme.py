"""The README's result tables say what the committed summary (docs/results/summary.json) says.

The README quotes Table 1 and the suite's answer to the title question by hand; these tests
parse both tables and compare every number and verdict with the summary, so that a new run
(or a hand edit) cannot leave them apart.
"""
import json
import re
from pathlib import Path

import pytest

from nprelu import paper
from nprelu.report.title import twin_verdicts

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SUMMARY = json.loads((ROOT / "docs" / "results" / "summary.json").read_text())

NUMBER = r"[-+]?\d+\.\d+"
CELL = re.compile(rf"^({NUMBER})(?: \[({NUMBER}), ({NUMBER})\])?(?: \(({NUMBER}), ({NUMBER})\))?$")
ADV = {"—": "none", "FGSM": "fgsm", "PGD": "pgd"}


def table_after(heading: str) -> list[list[str]]:
    """The cells of the first Markdown table after the line holding ``heading``."""
    lines = README[README.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def key(beta_cell: str, adv_cell: str) -> tuple:
    return (None if beta_cell == "—" else float(beta_cell), ADV[adv_cell])


def find(rows: list, k: tuple) -> int:
    return next(i for i, r in enumerate(rows) if (r["beta"], r["adv_training"]) == k)


def parse(cell: str) -> tuple:
    m = CELL.match(cell)
    assert m, f"unreadable cell {cell!r}"
    return tuple(None if g is None else float(g) for g in m.groups())


def test_table1_cells_are_the_summary_means_intervals_and_paper_numbers():
    rows, ivs = SUMMARY["table1"], SUMMARY["intervals"]["table1"]
    cells = table_after("### Table 1: our numbers beside the paper's")
    assert len(cells) == len(rows) == len(paper.TABLE1) == 12
    for line in cells:
        i = find(rows, key(line[0], line[1]))
        ref = paper.TABLE1[i]
        assert (ref["beta"], ref["adv_training"]) == key(line[0], line[1])
        for measure, cell in zip(("clean", "fgsm", "pgd", "cw"), line[2:6]):
            mean, lo, hi, ours_paper, gap = parse(cell)
            assert mean == pytest.approx(100 * rows[i][measure], abs=0.006), (line, measure)
            iv = ivs[i][measure]
            if lo is None:      # the same value in every seed: a zero-width interval
                assert iv[0] == pytest.approx(iv[1], abs=1e-9), (line, measure)
            else:
                assert (lo, hi) == pytest.approx((100 * iv[0], 100 * iv[1]), abs=0.006)
            assert ours_paper == pytest.approx(ref[measure], abs=0.006)
            assert gap == pytest.approx(mean - ref[measure], abs=0.011)


def test_title_question_table_is_the_suite_and_its_verdicts():
    rows, ivs = SUMMARY["suite"]["rows"], SUMMARY["intervals"]["suite"]["rows"]
    seed_rows = [SUMMARY["runs"][s]["suite"]["rows"] for s in sorted(SUMMARY["runs"])]
    verdicts = {(v["row"]["beta"], v["row"]["adv_training"]): v
                for v in twin_verdicts(rows, seed_rows)}
    cells = table_after("**The paper's title question, answered")
    assert len(cells) == len(rows) == 12
    for line in cells:
        k = key(line[0], line[1])
        i = find(rows, k)
        for field, cell in (("pgd_paper", line[2]), ("worst_case", line[3])):
            mean, lo, hi, _, _ = parse(cell)
            assert mean == pytest.approx(100 * rows[i][field], abs=0.051), (line, field)
            assert (lo, hi) == pytest.approx((100 * ivs[i][field][0], 100 * ivs[i][field][1]),
                                             abs=0.051), (line, field)
        if k[0] is None:
            assert line[4] == line[5] == "", "an uncapped twin has no difference or verdict"
            continue
        v = verdicts[k]
        mean, lo, hi, _, _ = parse(line[4])
        assert (mean, lo, hi) == pytest.approx(
            (100 * v["diff"].mean, 100 * v["diff"].lo, 100 * v["diff"].hi), abs=0.051), line
        assert line[5] == v["verdict"].replace(" (inconclusive)", ""), line


def test_title_question_counts_match_the_verdicts():
    seed_rows = [SUMMARY["runs"][s]["suite"]["rows"] for s in sorted(SUMMARY["runs"])]
    words = [v["verdict"] for v in twin_verdicts(SUMMARY["suite"]["rows"], seed_rows)]
    helps, hurts = words.count("capping helps"), words.count("capping hurts")
    none_ = len(words) - helps - hurts
    sentence = (f"Capping helps in {helps} of the {len(words)} capped networks, hurts in "
                f"{hurts} and makes no difference we can show in {none_}.")
    assert sentence in " ".join(README.split()), sentence
