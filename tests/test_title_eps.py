"""The title question across eps: the ``title_eps`` experiment's units, and the report's verdict
per eps with its one-line answer (synthetic summaries: no training)."""
import copy
import json

import pytest

from test_suite import FakeContext
from nprelu.experiments import EXPERIMENTS, OUTPUTS, PROFILES
from nprelu.experiments import title_eps as exp_mod
from nprelu.outcomes import Outcome
from nprelu.report import build_report
from nprelu.report import title_eps as rep
from nprelu.runner.schema import SCHEMAS, check

CAPPED = (0.01, "none")


def test_one_unit_per_network_and_eps_with_eps_01_left_to_the_suite():
    ctx = FakeContext(3)                                   # the quick profile: eps 0.2 alone
    units = EXPERIMENTS["title_eps"].run.units(ctx)
    assert len(units) == len(set(units)) == 12 * len(exp_mod.QUICK_EPS)
    assert all(u.startswith("title_eps/s3/") for u in units)
    assert sorted({exp_mod._units(3)[u][1] for u in units}) == [0.2]
    paper = exp_mod._units(3, PROFILES["paper"])
    assert len(paper) == 36 and sorted({eps for _, eps in paper.values()}) == [0.05, 0.15, 0.2]
    assert list(EXPERIMENTS)[-1] == "title_eps"


def test_a_unit_records_the_suite_rows_measures_as_outcomes_at_its_eps():
    ctx = FakeContext(0)
    unit = next(u for u, (spec, eps) in exp_mod._units(0).items()
                if eps == 0.15 and spec.caps[1] == 0.1 and spec.adv is None)
    part = exp_mod.run_unit(ctx, unit)
    assert part["eps"] == 0.15 and part["beta"] == 0.1 and part["adv_training"] == "none"
    for field in ("clean", "worst_case", "worst_case_common"):
        assert isinstance(part[field], Outcome) and part[field].n == part["n"] == 10
    assert part["worst_case"].value <= part["worst_case_common"].value <= part["clean"].value
    assert part["n_attacks"] == 2 and all(o.n == 2 for o in part["attacks"].values())
    blocks, settings = exp_mod.combine(ctx, {u: part for u in exp_mod._units(0)})
    as_json = json.loads(json.dumps(blocks, default=lambda o: o.value))
    check(as_json["title_eps"], SCHEMAS["title_eps"], "title_eps")
    assert settings["eps"] == [0.2]                       # the quick profile's


def _summary_where(summary, diff: float, eps: float = 0.15) -> dict:
    """A copy of the synthetic ``summary`` in which, at ``eps``, β=0.01 without adversarial
    training beats its uncapped twin by ``diff`` on every measure in every seed, every other
    pair being equal."""
    s = copy.deepcopy(summary)
    for blocks in [s] + list(s["runs"].values()):
        for key in ("suite", "title_eps"):
            for r in blocks[key]["rows"]:
                r["worst_case"] = r["worst_case_common"] = 0.3
                r["attacks"] = {a: 0.4 for a in r["attacks"]}
                if (r["beta"], r["adv_training"]) == CAPPED and r.get("eps", 0.1) == eps:
                    r["worst_case"] = r["worst_case_common"] = 0.3 + diff
                    r["attacks"] = {a: 0.4 + diff for a in r["attacks"]}
    return s


def _without_block(summary) -> dict:
    s = copy.deepcopy(summary)
    del s["title_eps"]
    for blocks in s["runs"].values():
        del blocks["title_eps"]
    del s["intervals"]["title_eps"], s["interval_methods"]["title_eps"]
    s["meta"]["done"] = [k for k in s["meta"]["done"] if k != "title_eps"]
    return s


def test_eps_01_comes_from_the_suite_and_the_others_from_title_eps(summary):
    s = summary
    rows = rep.eps_rows(s)
    assert list(rows) == [0.05, 0.1, 0.15, 0.2]
    assert rows[0.1][0] is s["suite"]["rows"]
    assert all(r["eps"] == 0.2 for r in rows[0.2][0]) and len(rows[0.2][0]) == 12
    assert len(rows[0.15][1]) == 3


def test_each_eps_is_its_own_family_of_nine_per_measure(summary):
    found = rep.per_eps(summary)
    for verdicts in found.values():
        assert len(verdicts) == 9
        assert {m["family"] for v in verdicts for m in v["measures"].values()} == {9}


def test_a_network_that_capping_helps_at_one_eps_is_named_with_that_eps(summary):
    line = rep.one_line(_summary_where(summary, 0.2, eps=0.15))
    assert line.startswith("**Across eps 0.05–0.2 (0.05, 0.1, 0.15, 0.2):**")
    assert "capping helps 1 at eps 0.15 (β=0.01 without adversarial training)" in line
    assert "none at the other eps" in line


def test_with_no_difference_anywhere_capping_helps_at_no_eps_of_the_range(summary):
    line = rep.one_line(_summary_where(summary, 0.0))
    assert "capping helps no capped network at any of these eps" in line
    assert "shows no difference in 9, 9, 9, 9" in line


def test_a_network_that_capping_hurts_is_counted_at_its_eps_only(summary):
    line = rep.one_line(_summary_where(summary, -0.2, eps=0.05))
    assert "capping hurts 1, 0, 0, 0" in line and "helps no capped network" in line


def test_without_the_block_the_answer_names_eps_01_alone_and_says_what_is_missing(summary):
    s = _without_block(summary)
    assert rep.one_line(s).startswith("**At eps 0.1 alone:**")
    assert "no `title_eps` block" in rep.missing_note(s)
    assert rep.missing_note(summary) == ""


def test_the_report_gives_the_answer_across_eps_and_builds_without_the_block(summary, tmp_path):
    text = build_report(summary, tmp_path, strict=True)
    assert rep.one_line(summary) in text and "eps 0.2: capped − uncapped" in text
    text = build_report(_without_block(summary), tmp_path, strict=True)
    assert "no `title_eps` block" in text and "At eps 0.1 alone" in text


def test_the_figure_reads_the_suites_eps_from_its_block(summary):
    assert OUTPUTS["title_eps"].reads == ("suite",)
    from nprelu.plots.title_eps import points
    s = summary
    pts = points(s["title_eps"], s["intervals"]["title_eps"], {"suite": (s["suite"], None)})
    assert [p[0] for p in pts[CAPPED]] == [0.05, 0.1, 0.15, 0.2]
    at_01 = next(r for r in s["suite"]["rows"] if (r["beta"], r["adv_training"]) == CAPPED)
    assert pts[CAPPED][1][1] == pytest.approx(at_01["worst_case"])
