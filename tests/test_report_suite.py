"""The equal-budget suite in the report: its table, Figure 13's drawer and the title question's
verdicts, from synthetic summaries aggregated over seeds (no training; fast)."""
from __future__ import annotations

import json

import pytest

from nprelu import stats
from nprelu.experiments import Output
from nprelu.runner.aggregate import aggregate
from nprelu.plots import DRAWERS, Extras
from nprelu.report.intervals import marks
from nprelu.report.suite import budget_lines, eps_curve_lines, strongest, suite_table
from nprelu.report.title import (VERDICT_WORDS, title_answer, twin_difference, twin_verdicts,
                                 verdict_counts)

HELPS, HURTS, NONE, MIX = (VERDICT_WORDS[v] for v in ("holds", "fails", "inconclusive", "mixed"))
ADVS = ("none", "fgsm", "pgd")
CAPS = (1.0, 0.1, 0.01)
ATTACKS = ["apgd_ce", "apgd_dlr", "apgd_ce_bpda_relu", "margin_pgd", "square", "transfer_twin"]
EPS = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]
#: Paired per-seed differences capped - uncapped (3 seeds): steady gain, steady loss, noise.
DIFFS = {"helps": [0.20, 0.22, 0.18], "hurts": [-0.15, -0.16, -0.14],   # p < 0.05 / 9
         "overlap": [0.05, -0.04, 0.01]}
#: The uncapped twins' worst case per seed: seed noise larger than the paired differences'.
TWIN = [0.30, 0.40, 0.20]
BUDGET = {"eps": 0.1, "attacks": ATTACKS, "epochs": 20,
          "budget": {"restarts": 3, "steps": 100, "square_queries": 5000},
          "budget_in_words": {"apgd": "8 runs, each 3 restart(s) x 100 steps",
                              "square_queries_per_sample": 5000},
          "curves": {"budget_in_words": {"apgd": "8 runs, each 1 restart(s)"}}}


def _row(beta, adv, worst, seed):
    attacks = {a: min(1.0, worst + 0.02 * (k + 1)) for k, a in enumerate(ATTACKS)}
    attacks["square"] = worst + 0.005 * seed          # the strongest single attack
    return {"beta": beta, "adv_training": adv, "n": 200, "clean": 0.95, "pgd_paper": 0.9,
            "worst_case": worst, "attacks": attacks}


def suite_block(case: dict, seed: int) -> dict:
    """Table 1's 12 rows for one seed; ``case[(beta, adv)]`` names the capped row's DIFFS."""
    rows = []
    for adv in ADVS:
        rows.append(_row(None, adv, TWIN[seed], seed))
        rows += [_row(b, adv, TWIN[seed] + DIFFS[case[(b, adv)]][seed], seed) for b in CAPS]
    return {"eps": 0.1, "attacks": list(ATTACKS), "rows": rows}


def eps_block(seed: int) -> dict:
    nets = []
    for adv in ADVS:
        for beta in (None,) + CAPS:
            masked = beta == 0.01               # PGD stays high where the worst case falls
            worst = [max(0.0, 0.95 - 4 * e) for e in EPS] if masked else \
                [max(0.05, 0.95 - 2 * e) - 0.01 * seed for e in EPS]
            pgd = [0.9] * len(EPS) if masked else [w + (0.1 if beta == 1.0 else 0.01)
                                                    for w in worst]   # β=1: a weaker attack
            nets.append({"beta": beta, "adv_training": adv, "pgd_paper": pgd,
                         "worst_case": worst})
    return {"eps": EPS, "n": 100, "networks": nets}


def curve_block(seed: int) -> dict:
    c = {"pgd": [0.6, 0.5], "worst_case": [0.3 + 0.01 * seed, 0.2], "standard": [0.9, 0.9]}
    return {"network": "general", "sizes": [784, 392, 196, 10], "capped_layer": "HL2",
            "betas_eval": [0.01, 0.02], "initial_betas": [0.1], "n_test": 100, "eps": 0.1,
            "curves": {"0.1": c}}


def summary_of(case: dict, n_seeds: int = 3) -> dict:
    """A summary with the suite's three blocks for ``n_seeds`` seeds, intervals included."""
    runs = {str(s): {"suite": suite_block(case, s), "fig13": eps_block(s), "fig14": curve_block(s)}
            for s in range(n_seeds)}
    meta = {"profile": "paper", "seed": 0, "seeds": list(range(n_seeds)), "backend": "numpy",
            "profile_settings": {}, "started": "2024-01-01T00:00:00", "done": ["suite"],
            "subsets": {"suite": "attacks: 200 test images"}, "settings": {"suite": BUDGET},
            "wall_seconds": {"suite": 10.0}}
    return json.loads(json.dumps({"meta": meta, **aggregate(runs), "runs": runs}))


def _verdicts(summary: dict) -> dict:
    rows = summary["suite"]["rows"]
    seed_rows = [summary["runs"][s]["suite"]["rows"] for s in sorted(summary["runs"], key=int)]
    return {(v["row"]["beta"], v["row"]["adv_training"]): v for v in
            twin_verdicts(rows, seed_rows)}


ALL = {(b, a): "helps" for b in CAPS for a in ADVS}
MIXED = {(1.0, "none"): "helps", (0.1, "none"): "hurts", (0.01, "none"): "overlap",
         (1.0, "fgsm"): "helps", (0.1, "fgsm"): "helps", (0.01, "fgsm"): "overlap",
         (1.0, "pgd"): "overlap", (0.1, "pgd"): "hurts", (0.01, "pgd"): "overlap"}


@pytest.mark.parametrize("case, counts, answer", [
    (ALL, (9, 0, 0, 0), "capping makes these networks more robust"),
    ({k: "hurts" for k in ALL}, (0, 9, 0, 0), "capping makes these networks less robust"),
    ({k: "overlap" for k in ALL}, (0, 0, 9, 0), "do not show that capping changes robustness"),
    (MIXED, (3, 2, 4, 0), "do not show that capping makes these networks more robust in general"),
])
def test_the_title_question_is_answered_from_paired_seed_differences(case, counts, answer):
    summary = summary_of(case)
    verdicts = _verdicts(summary)
    expected = {"helps": HELPS, "hurts": HURTS, "overlap": NONE}
    assert {k: v["verdict"] for k, v in verdicts.items()} == {k: expected[c]
                                                             for k, c in case.items()}
    v = verdicts[next(iter(case))]
    assert v["diff"].method == "t over seeds" and v["diff"].n == 3
    assert v["diffs"] == pytest.approx(DIFFS[case[next(iter(case))]])
    assert tuple(verdict_counts(list(verdicts.values())).values()) == counts
    text = title_answer(list(verdicts.values()), 3)
    assert f"capping helps in {counts[0]}, hurts in {counts[1]}, shows no difference in " \
           f"{counts[2]} and depends on the attack mix in {counts[3]}" in text and answer in text
    assert "on the worst case and the strongest single attack (a verdict only where" in text


def test_the_twin_difference_pointer_quotes_the_paired_verdict_without_a_claim_mark():
    summary = summary_of(MIXED)
    hurt = twin_difference(summary, 0.1, "pgd")          # MIXED: β=0.1, PGD training hurts
    diff = _verdicts(summary)[(0.1, "pgd")]["diff"]
    assert hurt.startswith("; under the suite's worst case, β=0.1 minus the uncapped twin: ")
    assert f"{100 * diff.mean:+.2f} [{100 * diff.lo:+.2f}, {100 * diff.hi:+.2f}]" in hurt
    assert hurt.endswith(f"**{HURTS}**") and not marks([hurt])
    assert twin_difference(summary, 1.0, "fgsm").endswith(f"**{HELPS}**")
    assert twin_difference(summary, 0.01, "none").endswith(f"**{NONE}**")
    assert twin_difference(summary, 0.5, "pgd") == ""    # no such network
    assert twin_difference({"runs": {}}, 0.1, "pgd") == ""   # no suite block


def test_pairing_decides_where_the_seeds_own_intervals_overlap():
    summary = summary_of(ALL)
    iv = summary["intervals"]["suite"]["rows"]
    capped, twin = iv[1]["worst_case"], iv[0]["worst_case"]   # β=1 and its twin, no adv
    assert capped[0] < twin[1]                  # unpaired, the two intervals overlap ...
    assert _verdicts(summary)[(1.0, "none")]["verdict"] == HELPS   # ... paired, a clear gain


def test_one_seed_uses_two_wilson_intervals():
    summary = summary_of(ALL, n_seeds=1)
    v = _verdicts(summary)[(1.0, "none")]
    assert v["diff"].method.startswith("Wilson over 200")
    assert v["verdict"] == HELPS                # 0.50 vs 0.30 on 200 images: no overlap
    close = twin_verdicts([_row(None, "none", 0.30, 0), _row(0.1, "none", 0.33, 0)])
    assert close[0]["verdict"] == NONE          # 3 points on 200 images: overlap


def test_strongest_attack_and_budget_come_from_the_block_and_settings():
    row = _row(0.1, "none", 0.3, 0)
    assert strongest(row, ATTACKS) == "square"
    assert strongest(row | {"attacks": {**row["attacks"], "apgd_ce": 0.3}}, ATTACKS) == "apgd_ce"
    lines = budget_lines(BUDGET)
    assert lines[2:6] == [
        "- attacks (6): " + ", ".join(ATTACKS),
        "- budget_in_words: apgd: 8 runs, each 3 restart(s) x 100 steps; square queries per "
        "sample: 5000", "- curves.budget_in_words: apgd: 8 runs, each 1 restart(s)", ""]
    assert budget_lines({"budget": {"steps": 10}, "epochs": 2})[2:] == ["- budget: steps: 10", ""]
    assert "not recorded" in budget_lines(None)[0]
    assert "name no attack budget" in budget_lines({"epochs": 2})[0]


def test_figure13_lines_say_where_the_worst_case_reaches_zero_and_pgd_is_misled():
    lines = eps_curve_lines(eps_block(0))
    masked = [l for l in lines if l.startswith("β = 0.01")]
    assert len(masked) == 3 and all("reaches 0 at eps 0.25" in l and "masked gradient" in l
                                    for l in masked)
    plain = [l for l in lines if l.startswith("β = ∞")]
    assert len(plain) == 3 and all("does not reach 0 by eps 0.3 (35.0% left)" in l
                                   and "within 5 points" in l for l in plain)
    weaker = [l for l in lines if l.startswith("β = 1,")]
    assert len(weaker) == 3 and all("up to 10.0 points above the worst case" in l
                                    and "a weaker attack" in l for l in weaker)


@pytest.mark.parametrize("n_seeds", [3, 1])
def test_the_eps_curve_drawer_writes_a_png(tmp_path, n_seeds):
    summary = summary_of(MIXED, n_seeds)
    output = Output("fig13", "eps_curve", "Figure 13 (ours)", "f13.png", "13")
    extras = Extras(summary["intervals"]["fig13"], "APGD 3 restarts, 100 steps",
                    summary["interval_methods"]["fig13"])
    for name, ex in (("bands.png", extras), ("plain.png", Extras())):
        path = DRAWERS["eps_curve"](output, summary["fig13"], tmp_path / name, ex)
        assert path.stat().st_size > 1000 and path.read_bytes()[:4] == b"\x89PNG"


def _registered():
    from nprelu.experiments import OUTPUTS
    return {k: OUTPUTS[k].kind for k in ("suite", "fig13", "fig14") if k in OUTPUTS}


def test_the_registry_holds_the_suite_blocks_with_these_kinds():
    assert _registered() == {"suite": "suite", "fig13": "eps_curve", "fig14": "adaptive_curve"}


@pytest.mark.parametrize("n_seeds", [3, 1])
def test_the_section_renders_with_its_figures_table_and_verdicts(tmp_path, n_seeds):
    from nprelu.experiments import OUTPUTS
    from nprelu.report import write_all
    summary = summary_of(MIXED, n_seeds)
    write_all(summary, tmp_path, strict=True)
    text = (tmp_path / "REPORT.md").read_text()
    section = text.split(f"## {OUTPUTS['suite'].title}\n")[1].split("\n## ")[0]
    for key in ("fig13", "fig14"):
        assert f"]({OUTPUTS[key].file})" in section and (tmp_path / OUTPUTS[key].file).exists()
    assert "| apgd_ce % |" in section and "square queries per sample: 5000" in section
    assert "The strongest single attack is square on 12 of 12 networks." in section
    assert "symmetric counterpart of the adaptive section" in section
    # the title question's answer and table open the report; the section links to them
    answer = text.split("## The answer: is ReLU adversarially robust?\n")[1].split("\n## ")[0]
    assert "_Is ReLU adversarially robust?_" in answer and text.index(answer) < text.index(section)
    assert "(#the-answer-is-relu-adversarially-robust)" in section
    findings = text.split(f"### {OUTPUTS['suite'].title}\n")[1].split("\n## ")[0]
    assert ("the worst case reaches 0 by eps 0.3 for 3 of 12 networks; PGD as the paper ran it "
            "stays above 5% there (a masked gradient) for 3 and overstates the worst case by "
            "more than 5 points elsewhere for 3.") in findings
    assert "PGD exceeds the suite's worst case by" in findings
    if n_seeds == 3:
        assert "capping helps in 3, hurts in 2, shows no difference in 4 and depends on the " \
               "attack mix in 0" in answer
        assert "95.0 [95.0, 95.0]" not in section and "| +20.0, +22.0, +18.0 |" in answer
    else:   # one seed: Wilson over the 200 images for every accuracy, attacks' included
        assert "on one seed (two-proportion z test" in answer
        w = stats.wilson_interval(0.32, 200)
        assert f"| 32.0 [{100 * w.lo:.1f}, {100 * w.hi:.1f}] |" in section
    assert "the adaptive section (not in this summary)" in section


def test_the_suites_own_settings_give_figure_captions():
    """plot_all reads Figures 13 and 14's captions from the settings the suite records for its
    curves (the reduced budget), not from the full suite's budget."""
    from nprelu.experiments import PROFILES, suite
    from nprelu.plots import extras_for
    profile = PROFILES["paper"]
    settings = suite.settings(profile)
    full, reduced = suite.budget(profile), suite.curve_budget(profile)
    assert (full.restarts, full.square_queries) != (reduced.restarts, reduced.square_queries)
    summary = {"meta": {"settings": {"suite": settings}}}
    for key in ("fig13", "fig14"):
        caption = extras_for(summary, key).caption
        assert f"each {reduced.restarts} restart(s) x {reduced.steps} steps" in caption
        assert f"square queries per sample {reduced.square_queries}" in caption
        assert f"{full.restarts} restarts" not in caption and "eps / 10" in caption
    assert f"{full.restarts} restarts" in extras_for(summary, "suite").caption


def test_pct_cell_gives_the_interval_clipped_to_0_100_or_wilson_for_one_seed():
    from nprelu.report.intervals import pct_cell
    assert pct_cell(0.5, [0.4, 0.6]) == "50.0 [40.0, 60.0]"
    assert pct_cell(0.99, [0.97, 1.01]) == "99.0 [97.0, 100.0]"
    assert pct_cell(0.5, None) == "50.0" and pct_cell(0.5, [0.5, 0.5]) == "50.0"
    w = stats.wilson_interval(0.5, 100)
    assert pct_cell(0.5, [0.5, 0.5], 100) == f"50.0 [{100 * w.lo:.1f}, {100 * w.hi:.1f}]"
    assert pct_cell(float("nan"), [0.1, 0.2]).startswith("—")


def test_the_adaptive_table_pairs_each_row_with_its_own_interval_after_sorting():
    from nprelu.report.adaptive import ATTACKS, extended_table1
    rows, ivs = [], []
    for k, (beta, adv) in enumerate([(0.01, "pgd"), (None, "none"), (0.1, "none")]):
        v = 0.1 * (k + 1)
        rows.append({"beta": beta, "adv_training": adv, "clean": 0.9,
                     "zero_gradient_fraction": 0.0, **{a: v for a, _ in ATTACKS}})
        ivs.append({"clean": [0.8, 1.0], **{a: [v - 0.01, v + 0.01] for a, _ in ATTACKS}})
    lines = extended_table1(rows, None, ivs).splitlines()[2:]
    assert [line.split(" | ")[:2] for line in lines] == [["| —", "—"], ["| 0.1", "—"],
                                                          ["| 0.01", "PGD"]]
    for line, v in zip(lines, (0.2, 0.3, 0.1)):     # sorted: none ∞, none 0.1, PGD 0.01
        assert f"{100 * v:.1f} [{100 * v - 1:.1f}, {100 * v + 1:.1f}]" in line
    assert "90.0 [80.0, 100.0]" in lines[0]
    assert "[" not in extended_table1(rows, None, None).splitlines()[2]


# --------------------------------------------------------------------------- diversity

def _with(summary_runs: dict, edit) -> dict:
    """A summary aggregated from ``summary_runs`` after ``edit(row, seed)`` on every row."""
    runs = json.loads(json.dumps(summary_runs))
    for s, blocks in runs.items():
        for r in blocks["suite"]["rows"]:
            edit(r, int(s))
    return json.loads(json.dumps({**aggregate(runs), "runs": runs}))


def _runs(case):
    return {str(s): {"suite": suite_block(case, s)} for s in range(3)}


def _flatten_strongest(r, seed):
    """Every attack at the twins' level: the strongest single attack shows no difference."""
    r["attacks"] = {a: TWIN[seed] + 0.01 for a in ATTACKS}


def test_a_worst_case_gap_that_the_strongest_single_attack_does_not_show_depends_on_the_mix():
    hurts = {k: "hurts" for k in ALL}
    summary = _with(_runs(hurts), _flatten_strongest)
    verdicts = _verdicts(summary)
    v = verdicts[(0.1, "none")]
    assert v["measures"]["worst_case"]["verdict"] == "fails"          # worst case: hurts ...
    assert v["measures"]["strongest"]["verdict"] == "inconclusive"    # ... single attack: no
    assert v["measures"]["strongest"]["diffs"] == pytest.approx([0, 0, 0])
    assert all(x["verdict"] == MIX for x in verdicts.values())
    assert tuple(verdict_counts(list(verdicts.values())).values()) == (0, 0, 0, 9)
    text = twin_difference(summary, 0.1, "none")
    assert text.endswith(f"**{MIX}**") and "strongest single attack: +0.00" in text
    assert "depends on the attack mix in 9" in title_answer(list(verdicts.values()), 3)


def test_the_common_attack_worst_case_joins_the_measures_where_the_summary_has_it():
    hurts = {k: "hurts" for k in ALL}
    plain = _verdicts(_with(_runs(hurts), lambda r, s: None))
    assert all(set(v["measures"]) == {"worst_case", "strongest"} for v in plain.values())
    assert all(v["verdict"] == HURTS for v in plain.values())
    agree = _verdicts(_with(_runs(hurts), lambda r, s: r.update(
        worst_case_common=r["worst_case"] + 0.01)))
    assert all(v["verdict"] == HURTS and len(v["measures"]) == 3 for v in agree.values())
    split = _verdicts(_with(_runs(hurts), lambda r, s: r.update(
        worst_case_common=TWIN[s] + 0.02)))          # the common attacks: no difference
    assert all(v["measures"]["worst_case_common"]["verdict"] == "inconclusive"
               and v["verdict"] == MIX for v in split.values())


def test_the_suite_table_gives_the_strongest_single_attack_per_seed_with_its_interval():
    summary = _with(_runs(ALL), lambda r, s: r["attacks"].update(square=0.10 + 0.01 * s))
    seed_rows = [summary["runs"][s]["suite"]["rows"] for s in sorted(summary["runs"])]
    table = suite_table(summary["suite"], summary["intervals"]["suite"]["rows"], 3, seed_rows)
    iv = stats.proportion_interval([0.10, 0.11, 0.12], 200)
    cell = f"{100 * iv.mean:.1f} [{100 * iv.lo:.1f}, {100 * iv.hi:.1f}]"
    assert "Strongest single attack (per seed) %" in table.splitlines()[0]
    body = table.splitlines()[2:]
    assert len(body) == 12 and all(f"| {cell} | — | square |" in line for line in body)
    common = _with(_runs(ALL), lambda r, s: r.update(worst_case_common=0.5))
    rows = [common["runs"][s]["suite"]["rows"] for s in sorted(common["runs"])]
    table = suite_table(common["suite"], common["intervals"]["suite"]["rows"], 3, rows)
    col = [c.strip() for c in table.splitlines()[0].split("|")].index(
        "Worst case, attacks common to both twins %")
    cells = [[c.strip() for c in line.split("|")][col] for line in table.splitlines()[2:]]
    assert len(cells) == 12 and all(c.split(" ")[0] == "50.0" for c in cells)


def test_the_section_says_when_the_common_attack_worst_case_is_not_recorded(tmp_path):
    from nprelu.experiments import OUTPUTS
    from nprelu.report import write_all
    summary = summary_of(MIXED)
    write_all(summary, tmp_path, strict=True)
    text = (tmp_path / "REPORT.md").read_text()
    section = text.split(f"## {OUTPUTS['suite'].title}\n")[1].split("\n## ")[0]
    assert "does not record the worst case over the attacks common to both twins" in section
    assert "worst_case_common" in section
