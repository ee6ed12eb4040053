"""Verdicts that are no evidence: a claim holding only through a masked attack, a check that
holds by construction (issue 24)."""
import copy
from collections import Counter

import pytest

from nprelu import stats
from nprelu.experiments import OUTPUTS
from nprelu.report.families import CONSTRUCTION, MASKED, Family, claim_verdict
from nprelu.report.findings import by_construction, drop_at_capped_layer
from nprelu.report.intervals import counts_text, marks
from nprelu.report.masked import is_masked, masked
from nprelu.report.registry import CLAIM_TESTS


def test_a_claim_that_holds_only_through_comparisons_that_are_not_evidence_takes_their_mark():
    assert claim_verdict(Counter({MASKED: 7, "fails": 1, "inconclusive": 1})) == MASKED
    assert claim_verdict(Counter({CONSTRUCTION: 3})) == CONSTRUCTION
    assert claim_verdict(Counter({"holds": 2, CONSTRUCTION: 2})) == "holds"   # 2 of 2 evidence
    assert claim_verdict(Counter({"holds": 1, "inconclusive": 3, MASKED: 1})) == "inconclusive"
    assert claim_verdict(Counter({"fails": 2, MASKED: 1})) == "fails"
    assert counts_text(Counter({MASKED: 7, "fails": 1, "inconclusive": 1})) == (
        "0 hold, 1 fail, 1 inconclusive, 7 masked attack: not evidence (of 9)")
    assert marks([f"x → **{MASKED}** y", f"→ **{CONSTRUCTION}**", "→ **holds**"]) == Counter(
        {MASKED: 1, CONSTRUCTION: 1, "holds": 1})


def test_only_a_holding_comparison_is_replaced_by_its_not_evidence_mark():
    fam = Family("x")
    up = fam.add(stats.paired_test([0.9, 0.91, 0.92], [0.1, 0.1, 0.11]), 1, not_evidence=MASKED)
    down = fam.add(stats.paired_test([0.1, 0.1, 0.11], [0.9, 0.91, 0.92]), 1,
                   not_evidence=MASKED)
    fam.judge()
    assert up["verdict"] == MASKED and down["verdict"] == "fails"
    with pytest.raises(ValueError, match="not_evidence"):
        fam.add(stats.paired_test([1.0, 1.0], [0.0, 0.0]), 1, not_evidence="maybe")


def _set(summary, block, beta, adv, **fields):
    """Per seed, ``fields`` (a value per seed) on the row (beta, adv) of ``block``."""
    for k, seed in enumerate(sorted(summary["runs"], key=int)):
        rows = summary["runs"][seed][block]
        rows = rows["rows"] if isinstance(rows, dict) else rows
        row = next(r for r in rows if r["beta"] == beta and r["adv_training"] == adv)
        for field, vals in fields.items():
            row[field] = vals[k]


@pytest.fixture
def masked_summary(summary):
    """β = 0.01 with PGD training: PGD far above the suite's worst case in every seed; β = 0.1
    with PGD training: PGD 2 points above it (not masked)."""
    s = copy.deepcopy(summary)
    _set(s, "suite", 0.01, "pgd", pgd_paper=[0.90, 0.91, 0.89], worst_case=[0.08, 0.09, 0.07])
    _set(s, "suite", 0.1, "pgd", pgd_paper=[0.62, 0.63, 0.61], worst_case=[0.60, 0.61, 0.59])
    _set(s, "suite", None, "pgd", pgd_paper=[0.90, 0.91, 0.89], worst_case=[0.08, 0.09, 0.07])
    return s


def test_an_attack_far_above_the_suites_worst_case_is_masked_and_a_close_one_is_not(
        masked_summary):
    found = masked(masked_summary, 0.01, "pgd", "pgd")
    assert found["masked"] and found["where"] == "the suite"
    assert found["attack"] == pytest.approx(0.90) and found["worst"] == pytest.approx(0.08)
    assert not is_masked(masked_summary, 0.1, "pgd", "pgd")          # 2 points: below 10
    assert not is_masked(masked_summary, None, "pgd", "pgd")         # uncapped: never
    assert masked({"table1": []}, 0.01, "pgd", "pgd") is None        # no suite: cannot tell


def test_a_table1_claim_resting_on_a_masked_pgd_is_not_counted_as_a_hold(masked_summary):
    s = masked_summary
    for k, seed in enumerate(sorted(s["runs"], key=int)):     # PGD training: 0.01 best, +5
        for r in s["runs"][seed]["table1"]:
            if r["adv_training"] == "pgd":
                r["pgd"] = {None: 0.85, 1.0: 0.86, 0.1: 0.87, 0.01: 0.90}[r["beta"]] + 0.002 * k
    for r in s["table1"]:
        if r["adv_training"] == "pgd":
            r["pgd"] = {None: 0.85, 1.0: 0.86, 0.1: 0.87, 0.01: 0.90}[r["beta"]] + 0.002
    claim = next(c for c in OUTPUTS["table1"].claims if c.test == "beyond_adv_training")
    line = next(l for l in CLAIM_TESTS[claim.test](claim, OUTPUTS["table1"], s)
                if l.startswith("**PGD adversarial training"))
    assert f"→ **{MASKED}**" in line and "→ **holds**" not in line
    assert "Masked attacks (the suite's per-sample worst case more than 10 points below" in line
    assert "PGD on β=0.01/PGD 90.0% (the suite) vs worst case 8.0%" in line


def test_the_distance_at_a_capped_layer_holds_by_construction(summary):
    s = copy.deepcopy(summary)
    assert by_construction(s, "HL3", 0.01, "linf", 2, [1.0, 2.0]) == CONSTRUCTION
    assert by_construction(s, "HL123", 0.01, "linf", 2, [1.0]) == CONSTRUCTION
    assert by_construction(s, "HL1", 0.01, "linf", 2, [1.0]) is None      # HL3 not capped
    assert by_construction(s, "HL3", 0.01, "linf", 2, [0.005]) is None    # below the bound
    s["meta"]["settings"]["fig01-02"] = {"network": [784, 392, 196, 100, 10]}
    assert by_construction(s, "HL3", 0.01, "l2", 2, [0.2]) == CONSTRUCTION   # bound 0.1
    assert by_construction(s, "HL3", 0.01, "l2", 2, [0.05]) is None
    claim = next(c for c in OUTPUTS["fig01"].claims if c.test == "drop_at_capped_layer")
    line = drop_at_capped_layer(claim, OUTPUTS["fig01"], s)[0]
    assert "→ **holds**" not in line and "holds by construction" in line
