"""REPORT.md and table1.md from synthetic summaries (no training; fast)."""
from __future__ import annotations

import copy
import warnings
from collections import Counter
from pathlib import Path

import pytest

import nprelu.report
from nprelu import paper
from nprelu.experiments import EXPERIMENTS, OUTPUTS
from nprelu.runner.schema import SummaryError
from nprelu.report import build_report, write_all, write_report, write_table1
from nprelu.report.adaptive import answer, row_evidence, strongest
from nprelu.report.anchors import anchor, heading_anchors, headings, links
from nprelu.report.registry import CLAIM_TESTS, NUMBERS, sections
from nprelu.report.intervals import compare, overall
from nprelu.report.stats import beta_trend
from nprelu.report.sweeps import pairwise_verdicts
from nprelu.report.table1 import table1_markdown
from summary_helpers import EVAL_BETAS, SIZES, make_summary

REPORT_DIR = Path(nprelu.report.__file__).parent


@pytest.fixture(scope="module")
def full_output(tmp_path_factory, summary):
    out = tmp_path_factory.mktemp("full")
    paths = write_all(summary, out, strict=True)
    return out, paths, (out / "REPORT.md").read_text()


def _section(text: str, title: str) -> str:
    """The text of the report section headed ``## title``, up to the next ``## ``."""
    return text.split(f"## {title}\n")[1].split("\n## ")[0]


def _meta(*keys) -> dict:
    """A run's ``meta`` recording only the experiments ``keys``."""
    return {"profile": "paper", "seed": 1, "backend": "numpy", "profile_settings": {},
            "started": "2024-01-01T00:00:00", "done": list(keys),
            "subsets": {k: f"data of {k}" for k in keys},
            "settings": {k: {"epochs": 20} for k in keys},
            "wall_seconds": {k: 12.0 for k in keys}}


# --------------------------------------------------------------------------- Table 1

def test_paper_table1_values():
    assert len(paper.TABLE1) == 12
    keys = {(r["beta"], r["adv_training"]) for r in paper.TABLE1}
    assert keys == {(b, a) for b in (None, 1.0, 0.1, 0.01) for a in ("none", "fgsm", "pgd")}
    assert paper.table1_row(0.01, "none")["pgd"] == 89.61
    assert paper.table1_row(None, "pgd")["clean"] == 98.67
    assert paper.table1_row(0.1, "fgsm")["cw"] == 3.50
    assert paper.table1_row(None, "none") == {"beta": None, "adv_training": "none",
                                              "clean": 98.49, "fgsm": 41.77, "pgd": 9.47,
                                              "cw": 0.00}


def test_table1_markdown_cells():
    md = table1_markdown([{"beta": None, "adv_training": "none", "clean": 0.9795, "fgsm": 0.5,
                           "pgd": 0.0947, "cw": None}])
    assert md.splitlines()[0] == ("| Max val. | Adv. training | Clean % | FGSM % | PGD % | "
                                  "CW-L2 % |")
    assert "97.95 (98.49, -0.54)" in md
    assert "50.00 (41.77, +8.23)" in md
    assert "9.47 (9.47, 0.00)" in md
    assert "— (0.00)" in md  # missing CW value: paper only
    md2 = table1_markdown([{"beta": 0.01, "adv_training": "pgd", "clean": 0.97,
                            "clean_std": 0.005, "fgsm": 0.9, "pgd": 0.95, "cw": 0.1}])
    assert "| 0.01 | PGD | 97.00 ± 0.50 (96.55, +0.45) |" in md2
    extra = table1_markdown([{"beta": 0.5, "adv_training": "none", "clean": 0.9, "fgsm": 0.5,
                              "pgd": 0.4, "cw": 0.1}])
    assert "| 0.50 | — | 90.00 | 50.00 | 40.00 | 10.00 |" in extra  # not in the paper


def test_only_table1(tmp_path, summary):
    only = {"meta": _meta("table1"), "table1": summary["table1"],
            "runs": {k: {"table1": r["table1"]} for k, r in summary["runs"].items()},
            "intervals": {"table1": summary["intervals"]["table1"]},
            "interval_methods": {"table1": summary["interval_methods"]["table1"]}}
    paths = write_all(only, tmp_path, strict=True)
    assert sorted(p.name for p in paths) == ["REPORT.md", "table1.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["REPORT.md", "table1.md"]
    text = (tmp_path / "REPORT.md").read_text()
    assert f"## {OUTPUTS['table1'].title}" in text
    assert "## Figure" not in text and "fig04" not in text
    t1 = (tmp_path / "table1.md").read_text()
    assert "mean [95% interval] (paper, mean − paper)" in t1
    assert "95% intervals over 3 seeds" in t1 and "binomial image term" in t1
    row = summary["table1"][0]
    lo, hi = summary["intervals"]["table1"][0]["pgd"]
    assert f"{100 * row['pgd']:.2f} [{100 * lo:.2f}, {100 * hi:.2f}] (" in t1
    assert t1.count("\n|") >= 13


def test_empty_summary(tmp_path):
    assert write_table1({}, tmp_path) is None
    assert write_all({}, tmp_path, strict=True) == [tmp_path / "REPORT.md"]
    text = (tmp_path / "REPORT.md").read_text()
    assert "No experiment results" in text and "## Settings the paper does not give" in text


def _with_pgd(pgd_none: list[float]) -> dict:
    """Table 1 without adversarial training: the paper's values, except PGD."""
    rows = []
    for beta, pgd in zip((None, 1.0, 0.1, 0.01), pgd_none):
        p = paper.table1_row(beta, "none")
        rows.append({"beta": beta, "adv_training": "none", "n_cw": 20, "n": 10000,
                     "cw_mean_l2": None,
                     "clean": p["clean"] / 100, "fgsm": p["fgsm"] / 100, "pgd": pgd,
                     "cw": p["cw"] / 100})
    return {"table1": rows}


def test_trend_verdicts_follow_the_data(tmp_path):
    rising = build_report(_with_pgd([0.1, 0.2, 0.5, 0.9]), tmp_path, strict=True)
    falling = build_report(_with_pgd([0.9, 0.5, 0.2, 0.1]), tmp_path, strict=True)
    head = "**Robust accuracy under PGD without adversarial training**"
    line_r = next(l for l in rising.splitlines() if head in l)
    line_f = next(l for l in falling.splitlines() if head in l)
    assert "+80.00 [" in line_r and line_r.endswith("→ **holds**.")   # one seed: Wilson
    assert "-80.00 [" in line_f and line_f.endswith("→ **fails**.")
    # a cell far from the paper is flagged
    assert "more than 5 points from the paper**: 2 of 16" in rising
    assert "| none | PGD | mostly rises" in rising and "| none | PGD | mostly rises" in falling


def _seeded_table1(summary, change) -> dict:
    """``summary``'s Table 1 over its seeds, ``change(rows, seed_index)`` applied to each."""
    runs = {k: {"table1": copy.deepcopy(r["table1"])} for k, r in summary["runs"].items()}
    for i, r in enumerate(runs.values()):
        change(r["table1"], i)
    from nprelu.runner.aggregate import aggregate
    return {**aggregate(runs), "runs": runs}


def test_table1_claims_use_the_claims_thresholds(tmp_path, summary):
    def drop(rows, i):     # PGD training: clean 1.5 points lower at 0.01, +-0.05 over seeds
        unc = next(r for r in rows if r["adv_training"] == "pgd" and r["beta"] is None)
        low = next(r for r in rows if r["adv_training"] == "pgd" and r["beta"] == 0.01)
        low["clean"] = unc["clean"] - 0.015 + 0.0005 * (i - 1)

    s = _seeded_table1(summary, drop)
    line = next(l for l in build_report(s, tmp_path, strict=True).splitlines()
                if "**Clean-accuracy cost of capping** (PGD" in l)
    assert "is +1.50 [" in line and line.endswith("→ **holds** (family of 3, Holm).")
    strict = paper.Claim("clean_cost", "a claim", "8", "clean_cost", {"points": 1.0})
    pgd_line = next(l for l in CLAIM_TESTS["clean_cost"](strict, OUTPUTS["table1"], s)
                    if "(PGD" in l)
    assert "at most 1 points (fails, p" in pgd_line and "→ **fails** (family of 3" in pgd_line
    loose = paper.Claim("clean_cost", "a claim", "8", "clean_cost", {"points": 1.52})
    pgd_line = next(l for l in CLAIM_TESTS["clean_cost"](loose, OUTPUTS["table1"], s)
                    if "(PGD" in l)
    assert pgd_line.endswith("→ **inconclusive** (family of 3, Holm).")   # 1.50 vs 1.52


def _without(summary, *keys):
    out = {k: v for k, v in summary.items() if k not in keys}
    out["runs"] = {k: {b: v for b, v in r.items() if b not in keys}
                   for k, r in summary["runs"].items()}
    return out


def test_verdicts_on_pgd_alone_point_to_the_suite_else_the_adaptive_worst_case(tmp_path,
                                                                                summary):
    suite = "see the worst case of the one-budget attack suite for the same networks"
    text = build_report(summary, tmp_path, strict=True)
    beyond = [l for l in text.splitlines() if "capped vs general ReLU** (PGD" in l]
    assert len(beyond) == 2
    assert all(f"on PGD alone; {suite}" in l for l in beyond)
    fig11 = [l for l in text.splitlines() if "**Sensitivity as β falls**" in l]
    assert fig11 and all(suite in l for l in fig11)
    text = build_report(_without(summary, "suite", "fig13", "fig14"), tmp_path, strict=True)
    beyond = [l for l in text.splitlines() if "capped vs general ReLU** (PGD" in l]
    assert all("on PGD alone; see the adaptive worst case for the same networks" in l
               for l in beyond)
    text = build_report(_without(summary, "suite", "fig13", "fig14", "adaptive"), tmp_path,
                        strict=True)
    assert "adaptive worst case" not in text and suite not in text


def test_cw_is_ranked_against_no_attack_on_other_images(tmp_path, summary):
    text = build_report(summary, tmp_path, strict=True)
    line = next(l for l in text.splitlines() if "**CW-L2 remains effective**" in l)
    assert "on 50 test images per seed" in line and "not on the 500 images" in line
    assert "below PGD" not in line


# --------------------------------------------------------------------------- the document

#: The report's sections in the paper's order: its figures (Figure 7 among them), Table 1, then
#: our studies in registry order.
PAPER_ORDER = ["fig01", "fig02", "fig03", "fig04", "fig05", "fig06", "fig07", "fig08", "fig09",
               "fig10", "fig11", "table1", "adaptive", "suite", "masking", "cw_gap", "cw_paper",
               "control", "title_eps"]


@pytest.mark.slow
def test_a_section_per_output_in_the_papers_figure_order(full_output, summary):
    out, paths, text = full_output
    positions = {}
    for output in OUTPUTS.values():
        if output.file:
            assert f"![{output.title}]({output.file})" in text, output.key
            assert (out / output.file) in paths and (out / output.file).exists()
        if output.section:
            assert text.count(f"\n## {output.title}\n") == 1, output.key
            positions[output.key] = text.index(f"\n## {output.title}\n")
        else:
            assert f"## {output.title}" not in text, output.key
    assert sorted(positions, key=positions.get) == PAPER_ORDER
    assert text.index("## How this was produced") < min(positions.values())
    assert text.index("## Where we agree and where we differ") > max(positions.values())
    assert text.index("## Appendix: compute") > text.index("## Where we agree and where we differ")
    assert paths[-1] == out / "REPORT.md" and (out / "table1.md") in paths
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert "`quick`" in text and "- Training data: the first 3000 training images" in text
    open_settings = _section(text, "Settings the paper does not give")
    for setting, choice, _ in paper.OPEN_SETTINGS:
        assert f"| {setting} | {choice} |" in open_settings


@pytest.mark.slow
def test_section_settings_and_data_come_from_its_experiment(full_output):
    _, _, text = full_output
    fig05 = _section(text, OUTPUTS["fig05"].title)
    assert "Data (experiment `fig05`): test images: the first 300 test images" in fig05
    assert "Settings (experiment `fig05`):" in fig05 and "| unit | fig05 |" in fig05
    assert "fig04" not in fig05 and "fig06" not in fig05
    for key in ("fig01", "fig02"):       # one experiment writes both
        sec = _section(text, OUTPUTS[key].title)
        assert "Data (experiment `fig01-02`): test images: the first 500 test images" in sec
    # its settings are given once, in Figure 1's section; Figure 2's links back to them
    assert "Settings (experiment `fig01-02`):\n\n| Setting | Value |" in _section(
        text, OUTPUTS["fig01"].title)
    assert (f"Settings (experiment `fig01-02`): as in [{OUTPUTS['fig01'].title}](#"
            f"{anchor(OUTPUTS['fig01'].title)})." in _section(text, OUTPUTS["fig02"].title))
    for key in EXPERIMENTS:              # every experiment's table once, as a table
        assert text.count(f"Settings (experiment `{key}`):\n\n| Setting | Value |") == 1, key
    assert "| steps | 10, 20 |" in fig05 and "{" not in _section(text, OUTPUTS["fig01"].title)
    assert "Data" not in _section(text, OUTPUTS["fig06"].title)  # meta records no subset
    t1 = _section(text, OUTPUTS["table1"].title)
    assert "Data (experiment `table1`): clean/FGSM/PGD: the first 500 test images" in t1
    assert "Settings (experiment `table1`):" in t1
    assert "### Our run: mean over seeds 0, 1, 2" in t1
    adaptive = _section(text, OUTPUTS["adaptive"].title)
    assert "Settings (experiment `adaptive`):" in adaptive
    assert f"]({OUTPUTS['fig12'].file})" in adaptive  # Figure 12 is drawn in its section


def test_sections_group_outputs_without_a_section_with_the_one_before():
    groups = {g[0].key: [o.key for o in g] for g in sections()}
    assert groups["table1"] == ["table1"]
    assert groups["adaptive"] == ["adaptive", "fig12"]
    assert groups["fig04"] == ["fig04"]
    assert [o.key for g in sections() for o in g] == list(OUTPUTS)


def test_missing_blocks_drop_their_sections(tmp_path, summary):
    for group in sections():
        host = group[0]
        gone = {k: v for k, v in summary.items() if k not in {o.key for o in group}}
        text = build_report(gone, tmp_path, strict=True)
        assert f"## {host.title}" not in text and f"### {host.title}" not in text, host.key
        assert not [o.file for o in group if o.file and f"]({o.file})" in text], host.key
        for follower in group[1:]:   # a section stays while one of its outputs is present
            text = build_report({k: v for k, v in summary.items() if k != host.key},
                                tmp_path, strict=True)
            assert f"## {host.title}" in text, follower.key


def test_missing_pieces_do_not_crash(tmp_path):
    s = make_summary()                    # one seed, older layout: no intervals to match
    del s["fig04"]["curves"]["HL12"]
    s["fig08"]["curves"]["HL1"]["0.1"]["distance"] = [None] * 15
    s["fig01"]["capped"].pop("HL3")
    del s["fig02"]["accuracy"]["HL2"]["0.01"]
    del s["fig03"]["sigmoid"]["5"]
    for key in ("meta", "fig06", "fig09", "adaptive", "table1"):
        s.pop(key)
    assert write_table1(s, tmp_path) is None
    text = write_report(s, tmp_path, strict=True).read_text()
    assert "Settings: not recorded." in text and "Run metadata: not in this summary." in text
    fig10 = _section(text, "Where we agree and where we differ").split(
        f"### {OUTPUTS['fig10'].title}")[1].split("\n### ")[0]
    assert "not testable here (no PGD robust accuracy of Figure 6" in fig10
    assert f"`{OUTPUTS['fig12'].file}` was not drawn" in text  # Figure 12 without the rows


def test_a_failing_section_becomes_a_note_unless_strict(tmp_path, summary, monkeypatch):
    def broken(block, blocks=None):
        raise ValueError("broken on purpose")

    monkeypatch.setitem(NUMBERS, "sensitivity", broken)
    with pytest.warns(RuntimeWarning, match="fig11"):
        text = build_report(summary, tmp_path)
    assert "could not be generated (ValueError: broken on purpose)" in _section(
        text, OUTPUTS["fig11"].title)
    assert f"## {OUTPUTS['fig10'].title}" in text  # the other sections are untouched
    with pytest.raises(ValueError, match="broken on purpose"):
        build_report(summary, tmp_path, strict=True)


def test_a_wrong_field_fails_write_all_naming_it(tmp_path, summary):
    s = copy.deepcopy(summary)
    s["fig04"]["n_test"] = "many"
    with pytest.raises(SummaryError, match=r"summary\.fig04\.n_test"):
        write_all(s, tmp_path)
    s = copy.deepcopy(summary)
    del s["table1"][3]["pgd"]
    with pytest.raises(SummaryError, match=r"summary\.table1\[3\]\.pgd is missing"):
        write_all(s, tmp_path)
    with pytest.raises(SummaryError, match=r"summary\.notes"):
        write_all({"notes": ["a note"]}, tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing written


# --------------------------------------------------------------------------- verdicts

def _seeded(summary, key, change) -> dict:
    """``summary`` with ``change(block, seed_index)`` applied to each seed's ``key`` block,
    the mean and intervals recomputed."""
    from nprelu.runner.aggregate import aggregate
    runs = copy.deepcopy(summary["runs"])
    for i, r in enumerate(runs.values()):
        change(r[key], i)
    return {**{k: v for k, v in summary.items() if k not in runs["0"]}, **aggregate(runs),
            "runs": runs}


def test_a_steady_paired_gain_holds_through_large_seed_noise():
    noisy = [0.2, 0.9, 0.5]                       # seed noise far larger than the gain
    gain = [x + 0.05 + 0.001 * i for i, x in enumerate(noisy)]
    verdict, diff = compare(gain, noisy, 1)
    assert verdict == "holds" and diff.lo > 0
    assert compare(noisy, gain, 1)[0] == "fails"
    other = [0.3, 0.8, 0.55]                      # not paired: the intervals overlap
    assert compare(other, noisy, 1)[0] == "inconclusive"
    assert compare([0.6], [0.5], 1, n=10000)[0] == "holds"    # one seed: Wilson, apart
    assert compare([0.52], [0.5], 1, n=100)[0] == "inconclusive"
    assert compare([2.0], [1.0], 1)[0] == "inconclusive"      # one seed, not a proportion
    assert overall(Counter(holds=3, fails=1, inconclusive=1)) == "holds"
    assert overall(Counter(holds=2, fails=1, inconclusive=1)) == "inconclusive"
    assert overall(Counter(holds=1, fails=2, inconclusive=5)) == "inconclusive"   # symmetric
    assert overall(Counter(holds=1, fails=5, inconclusive=2)) == "fails"


def test_sensitivity_and_claim_verdicts_follow_the_data(tmp_path, summary):
    good = build_report(summary, tmp_path, strict=True)
    bad = build_report(_seeded(summary, "fig11", lambda b, i: b.update(
        sums=[1.0 + 0.01 * i, 2.0, 3.0 + 0.02 * i])), tmp_path, strict=True)
    key = "(sum of the map for this digit)"
    assert "→ **holds**" in next(l for l in good.splitlines() if key in l)
    assert "→ **fails**" in next(l for l in bad.splitlines() if key in l)

    def hl2_better(block, i):                     # HL2 0.3 points above HL1, seed noise 30
        for init in ("0.01", "0.1", "1"):
            base = [0.3 * i + 0.01 * j for j in range(15)]
            block["curves"]["HL1"][init]["robust"] = base
            block["curves"]["HL2"][init]["robust"] = [v + 0.003 for v in base]
    s = _seeded(summary, "fig06", hl2_better)
    first, second = paper.claims("fig06")
    # one test per (initial beta, pair) on each seed's mean over the evaluation caps
    assert pairwise_verdicts(s, "fig06", first).counts() == Counter(holds=1)
    assert pairwise_verdicts(s, "fig06", second).counts() == Counter(fails=2)
    lines = [CLAIM_TESTS[c.test](c, OUTPUTS["fig06"], s)[0] for c in (first, second)]
    assert lines[0].startswith(f"Paper: {first.text}.")
    assert lines[0].endswith("→ **holds** (family of 1, Holm).")
    assert lines[1].endswith("→ **fails** (family of 2, Holm).")

    def overlap(block, i):                        # no steady difference: inconclusive
        for init in ("0.01", "0.1", "1"):
            block["curves"]["HL1"][init]["robust"] = [0.5 + 0.1 * (i - 1)] * 15
            block["curves"]["HL2"][init]["robust"] = [0.5 - 0.1 * (i - 1) * (-1) ** i] * 15
    s = _seeded(summary, "fig06", overlap)
    assert pairwise_verdicts(s, "fig06", first).counts() == Counter(inconclusive=1)
    text = build_report(s, tmp_path, strict=True)
    assert "Figure 6, every pairwise comparison of its claims: 0 hold, 0 fail, 3 inconclusive" \
        in text


@pytest.mark.slow
def test_the_report_counts_verdicts_per_figure(full_output):
    _, _, text = full_output
    agree = _section(text, "Where we agree and where we differ")
    table = agree.split("Claim verdicts per section:")[1].split("\n### ")[0]
    for output in OUTPUTS.values():
        if output.section and output.claims:
            row = next(l for l in table.splitlines() if l.startswith(f"| {output.title} |"))
            counts = [int(c) for c in row.strip("|").split("|")[1:]]
            body = agree.split(f"### {output.title}\n")[1].split("\n### ")[0]
            assert sum(counts) == sum(body.count(f"→ **{v}**")
                                      for v in ("holds", "fails", "inconclusive",
                                                "masked attack: not evidence",
                                                "holds by construction"))
    assert "more than half of its comparisons hold, fails when more than half fail" in agree
    assert "Holm-corrected within the family" in agree


def test_an_old_single_seed_summary_reads_distances_as_inconclusive(tmp_path):
    text = build_report(make_summary(), tmp_path, strict=True)
    assert "- Seeds: `0` (one seed)" in text and "- Intervals: none in this summary" in text
    fig08 = _section(text, "Where we agree and where we differ").split(
        f"### {OUTPUTS['fig08'].title}")[1].split("\n### ")[0]
    assert "0 hold, 0 fail," in fig08 and "→ **inconclusive**" in fig08
    fig04 = _section(text, "Where we agree and where we differ").split(
        f"### {OUTPUTS['fig04'].title}")[1].split("\n### ")[0]
    assert "Figure 4, every pairwise comparison" in fig04      # Wilson on accuracies


def test_pairwise_eval_range_is_open():
    below = paper.claim("fig04", "hl2_better_below")     # eval (None, 0.05): 0.01 ... 0.04
    # HL2 above HL1 at 0.01 ... 0.04 only: the mean over the open range holds, over a range
    # that took 0.05 in (HL2 at 0 there) it would not
    block = {"betas_eval": EVAL_BETAS, "initial_betas": [1], "capped_layers": ["HL1", "HL2"],
             "n_test": 10000, "curves": {"HL1": {"1": {"robust": [0.5] * 15}},
                                         "HL2": {"1": {"robust": [0.6] * 4 + [0.0] * 11}}}}
    below = paper.Claim(below.id, below.text, below.section, below.test,
                        {**below.params, "pairs": (("HL2", "HL1"),)})
    assert pairwise_verdicts({"fig04": block}, "fig04", below).counts() == Counter(holds=1)
    closed = paper.Claim(below.id, below.text, below.section, below.test,
                         {**below.params, "eval": (None, 0.051)})
    assert pairwise_verdicts({"fig04": block}, "fig04", closed).counts() == Counter(fails=1)


def test_zero_gradient_figures_retest_their_partners_claims_on_distance(tmp_path, summary):
    def closer(block, i):
        for init in ("0.01", "0.1", "1"):
            for field in ("distance", "distance_censored", "distance_common"):
                block["curves"]["HL2"][init][field] = [0.5 + i] * 15   # HL2: closer everywhere
                block["curves"]["HL1"][init][field] = [2.0 + i] * 15
    text = build_report(_seeded(summary, "fig10", closer), tmp_path, strict=True)
    first, second = paper.claims(OUTPUTS["fig10"].partner)
    head_1 = f"\"{first.text}\", tested on distance over every sample"
    line_1 = next(l for l in text.splitlines() if head_1 in l)
    line_2 = next(l for l in text.splitlines()
                  if f"\"{second.text}\", tested on distance over every sample" in l)
    assert line_1.startswith("- Paper's Fig. 6 statement")
    assert "1 hold, 0 fail, 0 inconclusive" in line_1
    assert line_1.endswith("→ **holds** (family of 1, Holm).")
    assert "0 hold, 2 fail" in line_2 and line_2.endswith("→ **fails** (family of 2, Holm).")
    assert any(f"\"{first.text}\", tested on distance over the samples where every" in l
               for l in text.splitlines())
    numbers = _section(text, OUTPUTS["fig10"].title)
    assert "Distance on common samples" in numbers and "Distance, not found censored" in numbers
    assert "Survivorship: a zero gradient was found for" in text


def test_every_claim_has_a_test_that_gives_a_verdict(summary):
    for block, claims in paper.CLAIMS.items():
        for claim in claims:
            assert claim.test in CLAIM_TESTS, (block, claim.id)
    for output in OUTPUTS.values():
        for claim in output.claims:
            assert CLAIM_TESTS[claim.test](claim, output, summary), (output.key, claim.id)


def test_beta_trend():
    assert beta_trend([None, 1, 0.1, 0.01], [1, 2, 3, 4])[0] == 1
    assert beta_trend([0.01, 0.1, 1], [1, 2, 3])[0] == -1
    assert beta_trend([1, 0.1, 0.01, 0.001], [1, 3, 2, 4]) == (
        1, "mostly rises as β falls (Spearman ρ=+0.80)")
    assert beta_trend([1, 0.1], [2, 2])[0] == 0
    assert beta_trend([1], [2])[0] == 0


def _adaptive_row(beta, adv, pgd, worst, strongest_key="bpda"):
    row = {"beta": beta, "adv_training": adv, "n": 100, "clean": 0.9, "pgd": pgd, "fgsm": pgd,
           "bpda": pgd, "transfer": pgd, "square": pgd, "margin_pgd": pgd, "worst_case": worst,
           "zero_gradient_fraction": 0.25, "bpda_relu": None, "bpda_identity": None}
    row[strongest_key] = worst
    return row


def test_adaptive_verdicts_are_computed_from_the_rows(tmp_path):
    twin = _adaptive_row(None, "none", 0.10, 0.08, "margin_pgd")
    hidden = _adaptive_row(0.01, "none", 0.60, 0.09)            # PGD gain gone in the worst case
    real = _adaptive_row(0.1, "none", 0.50, 0.40, "square")      # gain survives
    lines = answer([twin, hidden, real])
    assert lines[0].startswith("In 2 of 2 capped networks PGD overstates")
    assert "β = 0.01" in lines[2] and "not borne out by the worst case" in lines[2]
    assert "β = 0.1 " in lines[1] and "even under the worst case" in lines[1]
    assert "masked gradient" in row_evidence(hidden)
    assert "holds up" in row_evidence(twin)
    weak = _adaptive_row(None, "pgd", 0.5, 0.3, "margin_pgd")
    assert "weak attack" in row_evidence(weak)
    tied = _adaptive_row(None, "none", 0.3, 0.1, "margin_pgd") | {"pgd": 0.1, "bpda": 0.1}
    assert strongest(tied) == "PGD"  # a tie goes to the first listed, not to BPDA-PGD
    s = {"adaptive": {"eps": 0.1, "rows": [twin, hidden, real], "checklist": []},
         "fig12": {"network": "general", "sizes": SIZES["general"], "capped_layer": "HL2",
                   "betas_eval": [0.01, 0.02], "initial_betas": [0.1], "n_test": 100,
                   "eps": 0.1, "curves": {"0.1": {"pgd": [0.5, 0.4], "worst_case": [0.3, 0.3],
                                                  "standard": [0.9, 0.9]}}}}
    write_all(s, tmp_path, strict=True)
    text = (tmp_path / "REPORT.md").read_text()
    assert OUTPUTS["fig12"].file in text and "Worst case %" in text
    assert "PGD exceeds the worst case by 10.0 to 20.0 points" in text
    assert (tmp_path / OUTPUTS["fig12"].file).read_bytes()[:4] == b"\x89PNG"


# --------------------------------------------------------------------------- the package

def test_no_report_module_over_300_lines():
    sizes = {p.name: len(p.read_text().splitlines()) for p in REPORT_DIR.glob("*.py")}
    assert sizes and max(sizes.values()) <= 300, sizes


def test_the_paper_is_quoted_only_from_paper_py():
    source = "\n".join(p.read_text() for p in REPORT_DIR.glob("*.py"))
    assert "98.49" not in source
    numbers = {f"{r[m]:.2f}" for r in paper.TABLE1 for m in paper.TABLE1_METRICS if r[m] >= 1}
    assert not [n for n in numbers if n in source]
    texts = [c.text for cs in paper.CLAIMS.values() for c in cs]
    assert not [t for t in texts if t[:40] in source]


def test_report_writes_atomically_and_never_prints(tmp_path, summary, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_report(summary, tmp_path, strict=True)
    assert capsys.readouterr() == ("", "")
    assert [p.name for p in tmp_path.iterdir()] == ["REPORT.md"]
    assert "was not drawn" in (tmp_path / "REPORT.md").read_text()  # no PNG in tmp_path


def test_a_quick_profile_report_opens_with_a_not_comparable_banner(tmp_path):
    from nprelu.experiments import PROFILES
    from nprelu.runner.summary import run_meta
    from nprelu.report import build_report
    quick = {"meta": run_meta(PROFILES["quick"], 0, "numpy")}
    paper_run = {"meta": run_meta(PROFILES["paper"], 0, "numpy")}
    head = build_report(quick, tmp_path, strict=True).split("## How this was produced")[0]
    assert "**Not comparable to the paper.**" in head and "the first 3000 training images" in head
    assert "Not comparable" not in build_report(paper_run, tmp_path, strict=True)


def test_an_old_table1_without_n_takes_its_subset_size_from_the_profile(tmp_path):
    s = _with_pgd([0.1, 0.2, 0.5, 0.9])
    for row in s["table1"]:
        del row["n"]
    head = "**Robust accuracy under PGD without adversarial training**"
    line = next(l for l in build_report(s, tmp_path, strict=True).splitlines() if head in l)
    assert line.endswith("→ **inconclusive**.")             # no n: no interval
    s["meta"] = {**_meta("table1"), "profile_settings": {"n_table": None, "n_cw": 200}}
    line = next(l for l in build_report(s, tmp_path, strict=True).splitlines() if head in l)
    assert line.endswith("→ **holds**.")                    # None: all 10,000 test images
