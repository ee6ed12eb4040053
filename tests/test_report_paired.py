"""The report's per-image paired comparisons (nprelu/report/paired.py), from outcomes.npz."""
import copy

import numpy as np
import pytest

from nprelu import stats
from nprelu.outcomes import Outcome, OutcomeFile
from nprelu.report import paired
from nprelu.report.document import build_report
from summary_helpers import make_summary

N = 300


def _with_outcomes(tmp_path, capped_gain: float):
    """A 3-seed synthetic summary whose suite and control rows are backed by per-image outcomes
    on N images per seed: a capped network is right on an image with its twin's chance plus
    ``capped_gain``; PGD is right wherever the worst case is, and on 30% more."""
    s = copy.deepcopy(make_summary(seeds=3))
    stored = {}
    for seed, blocks in s["runs"].items():
        rng = np.random.default_rng([int(seed), 5])
        images = np.sort(rng.choice(10_000, N, replace=False))
        mine = stored.setdefault(seed, {})
        u = rng.random(N)
        for i, row in enumerate(blocks["suite"]["rows"]):
            worst = u < 0.4 + (capped_gain if row["beta"] is not None else 0.0)
            for field, hits in (("worst_case", worst), ("worst_case_common", worst),
                                ("pgd_paper", worst | (rng.random(N) < 0.3))):
                o = Outcome(hits, images)
                mine[f"suite.rows[{i}].{field}"] = o
                row[field] = o.value
        for i, row in enumerate(blocks["control"]["rows"]):
            o = Outcome(u < 0.45, images)
            mine[f"control.rows[{i}].worst_case"] = o
            row["worst_case"] = o.value
    OutcomeFile(tmp_path).write(stored)
    return s, stored


def test_the_twin_family_finds_a_real_per_image_gain_and_none_where_there_is_none(tmp_path):
    s, stored = _with_outcomes(tmp_path, 0.08)
    fams = {t: r for t, _, r in paired.families(s, stored)}
    title = next(r for t, r in fams.items() if t.startswith("Capped minus uncapped twin, the "
                                                            "worst case, eps 0.1"))
    assert len(title) == 9 and all(r["verdict"] == "holds" for r in title)
    for r in title:   # the same images, the same draws: only gains, 8% of 3 x 300 images
        assert r["c"] == 0 and r["b"] == pytest.approx(0.08 * 3 * N, rel=0.35)
        assert r["diff"].lo <= r["diff"].mean <= r["diff"].hi and r["n"] == 3 * N
    pgd = fams["Table 1's PGD minus the suite's worst case, per network"]
    assert len(pgd) == 12 and all(r["verdict"] == "holds" and r["c"] == 0 for r in pgd)
    none, _ = _with_outcomes(tmp_path / "none", 0.0), None
    title0 = next(r for t, _, r in paired.families(*none) if "eps 0.1 (the title" in t)
    assert all(r["verdict"] == "inconclusive" and r["b"] == r["c"] == 0 for r in title0)


def test_holm_is_applied_within_each_family(tmp_path):
    s, stored = _with_outcomes(tmp_path, 0.01)
    for _, _, results in paired.families(s, stored):
        assert [r["p_holm"] for r in results] == pytest.approx(stats.holm([r["p"] for r in
                                                                           results]))


def test_the_section_renders_tables_and_refuses_outcomes_that_do_not_give_the_numbers(tmp_path):
    s, _ = _with_outcomes(tmp_path, 0.05)
    text = "\n".join(paired.section(s, tmp_path))
    assert "Cochran–Mantel–Haenszel" in text and "family of 9" in text and "family of 12" in text
    assert "Trained through the cap minus trained with the true gradient" in text
    report = build_report(s, tmp_path)
    assert f"## {paired.TITLE}" in report and f"(#{'per-image-paired'})" in report
    s["runs"]["1"]["suite"]["rows"][3]["worst_case"] = 0.123     # another run's number
    text = "\n".join(paired.section(s, tmp_path))
    assert "do not give its numbers" in text and "seed 1: suite.rows[3].worst_case" in text


def test_without_outcomes_the_section_says_why():
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        assert "no per-image outcomes" in "\n".join(paired.section(make_summary(seeds=3), d))
