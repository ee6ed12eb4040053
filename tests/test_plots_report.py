"""Figures, Table 1 and REPORT.md from synthetic summaries (no training; fast)."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from nprelu import plots, report
from nprelu.plots import FIGURE_FILES, beta_key, plot_all
from nprelu.report import (PAPER_TABLE1, beta_trend, paper_row, table1_markdown, write_all,
                           write_report, write_table1)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EVAL_BETAS = [round(0.01 * i, 2) for i in range(1, 16)]


def _pgd_block(rng, network, sizes):
    curves = {}
    for layer in ("HL1", "HL2", "HL12"):
        curves[layer] = {}
        for b0 in (0.01, 0.1, 1):
            std = np.clip(0.9 + 0.05 * rng.random(15), 0, 1)
            rob = np.clip(std - np.linspace(0.1, 0.8, 15) * rng.random(), 0, 1)
            curves[layer][beta_key(b0)] = {"standard": std.tolist(), "robust": rob.tolist(),
                                           "success": (1 - rob / std).tolist()}
    return {"network": network, "sizes": sizes, "betas_eval": EVAL_BETAS,
            "initial_betas": [0.01, 0.1, 1], "capped_layers": ["HL1", "HL2", "HL12"],
            "curves": curves, "n_test": 200}


def _zero_block(rng, network, sizes):
    curves = {}
    for layer in ("HL1", "HL2", "HL12"):
        curves[layer] = {}
        for b0 in (0.01, 0.1, 1):
            dist = (1.0 + 3 * rng.random(15)).tolist()
            dist[0] = None  # no sample found a zero gradient
            found = rng.random(15).tolist()
            found[0] = 0.0
            curves[layer][beta_key(b0)] = {"distance": dist, "found_fraction": found}
    return {"network": network, "sizes": sizes, "betas_eval": EVAL_BETAS,
            "initial_betas": [0.01, 0.1, 1], "capped_layers": ["HL1", "HL2", "HL12"],
            "curves": curves, "n_test": 100, "max_steps": 200}


def _table1_rows(rng):
    rows = []
    for p in PAPER_TABLE1:
        row = {"beta": p["beta"], "adv_training": p["adv_training"], "n_cw": 50,
               "cw_mean_l2": float(rng.random() * 2)}
        for m in ("clean", "fgsm", "pgd", "cw"):
            row[m] = float(np.clip(p[m] / 100 + rng.normal(0, 0.01), 0, 1))
        rows.append(row)
    return rows


def make_summary(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    betas = [0.01, 0.1, 1, 10, 100]
    layers = ["HL1", "HL2", "HL3", "HL123"]
    capped = {l: {beta_key(b): {"linf": (rng.random(3) * b + 1e-3).tolist(),
                                "l2": (rng.random(3) * 10 * b + 1e-3).tolist()}
                  for b in betas} for l in layers}
    capped["HL1"]["0.01"]["linf"][0] = 0.0  # a zero distance must not break the log axis
    z = np.linspace(-5, 5, 101)
    sizes = {"general": [784, 392, 196, 10], "reversed": [784, 196, 392, 10],
             "equal": [784, 784, 784, 10]}
    # meta is keyed by run unit, as run_all.py records it, not by summary key
    units = ["fig01-02", "fig03", "fig04-06", "fig08-10", "fig11", "table1", "table1_seeds"]
    summary = {
        "meta": {"profile": "quick", "seed": seed, "backend": "numpy",
                 "subsets": {"training": "the first 3000 training images",
                             "fig01-02": "the first 500 test images",
                             "fig04-06": "the first 300 test images",
                             "table1 CW-L2": "the first 20 test images"},
                 "settings": {u: {"epochs": 2, "eps": 0.1, "steps": [10, 20], "unit": u}
                              for u in units},
                 "wall_seconds": {u: float(i + 1) for i, u in enumerate(units)},
                 "started": "2024-01-01T00:00:00"},
        "fig01": {"betas": betas, "capped_layers": layers,
                  "uncapped": {"linf": [0.5, 1.0, 2.0], "l2": [3.0, 5.0, 8.0]},
                  "capped": capped},
        "fig02": {"betas": betas, "capped_layers": layers,
                  "accuracy": {l: {beta_key(b): float(0.8 + 0.19 * rng.random()) for b in betas}
                               for l in layers},
                  "uncapped": 0.98},
        "fig03": {"c": [1, 2, 5, 10], "z": z.tolist(),
                  "sigmoid": {beta_key(c): (1 / (1 + np.exp(-c * z))).tolist()
                              for c in [1, 2, 5, 10]}},
        "fig04": _pgd_block(rng, "general", sizes["general"]),
        "fig05": _pgd_block(rng, "reversed", sizes["reversed"]),
        "fig06": _pgd_block(rng, "equal", sizes["equal"]),
        "fig08": _zero_block(rng, "general", sizes["general"]),
        "fig09": _zero_block(rng, "reversed", sizes["reversed"]),
        "fig10": _zero_block(rng, "equal", sizes["equal"]),
        "fig11": {"betas": [1, 0.1, 0.01], "sample_index": 8, "label": 5,
                  "image": rng.random(784).tolist(),
                  "maps": [(rng.random(784) * s).tolist() for s in (3.0, 1.0, 0.2)],
                  "sums": [300.0, 100.0, 20.0], "mean_sum_test": [250.0, 90.0, 25.0],
                  "n_test": 100},
        "table1": _table1_rows(rng),
        "adaptive": {"eps": 0.1, "rows": [
            {**r, "n": 100, "fgsm": r["fgsm"], "bpda": r["pgd"] * 0.8, "transfer": r["pgd"],
             "square": r["pgd"] * 0.9, "margin_pgd": r["pgd"] * 0.95,
             "worst_case": r["pgd"] * 0.7, "zero_gradient_fraction": 0.1}
            for r in _table1_rows(rng)], "checklist": [
            {"beta": 0.1, "adv_training": "none", "n": 50, "lines": ["PASS x"],
             "checks": [{"name": "x", "passed": True, "warning": None, "numbers": {}}]}]},
        "fig12": {"betas_eval": EVAL_BETAS, "n_test": 100, "eps": 0.1, "curves": {
            b: {"pgd": rng.random(15).tolist(), "worst_case": rng.random(15).tolist(),
                "standard": rng.random(15).tolist()} for b in ("0.01", "0.1", "1")}},
        "notes": ["CW ran on 50 samples only.", "Line two *verbatim*."],
    }
    return json.loads(json.dumps(summary))  # exactly what a summary.json round trip gives


@pytest.fixture(scope="module")
def summary():
    return make_summary()


@pytest.fixture(scope="module")
def full_output(tmp_path_factory, summary):
    out = tmp_path_factory.mktemp("full")
    paths = write_all(summary, out, strict=True)
    return out, paths


def test_plot_all_writes_every_figure(full_output):
    out, paths = full_output
    for name in FIGURE_FILES.values():
        p = out / name
        assert p.exists(), name
        data = p.read_bytes()
        assert data.startswith(PNG_SIGNATURE), name
        assert len(data) < 300_000, (name, len(data))
        assert p in paths
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_only_table1(tmp_path, summary):
    only = {"meta": {"profile": "paper", "seed": 1, "backend": "numpy",
                     "settings": {"table1": {"epochs": 20}}, "subsets": {},
                     "wall_seconds": {"table1": 12.0}},
            "table1": summary["table1"],
            "table1_seeds": {"n_seeds": 3, "rows": [
                {**r, **{f"{m}_std": 0.01 for m in ("clean", "fgsm", "pgd", "cw")}}
                for r in summary["table1"]]}}
    assert plot_all(only, tmp_path, strict=True) == []
    assert write_table1(only, tmp_path) == tmp_path / "table1.md"
    text = report.build_report(only, tmp_path, strict=True)
    write_report(only, tmp_path, strict=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["REPORT.md", "table1.md"]
    assert "Table 1" in text and "Figure 4" not in text and "fig04" not in text
    t1 = (tmp_path / "table1.md").read_text()
    assert "Mean ± standard deviation over 3 seeds" in t1 and " ± 1.00 (" in t1


def test_empty_summary(tmp_path):
    assert plot_all({}, tmp_path, strict=True) == []
    assert write_table1({}, tmp_path) is None
    write_report({}, tmp_path, strict=True)
    assert "No experiment results" in (tmp_path / "REPORT.md").read_text()


def test_paper_table1_values():
    assert len(PAPER_TABLE1) == 12
    keys = {(r["beta"], r["adv_training"]) for r in PAPER_TABLE1}
    assert keys == {(b, a) for b in (None, 1.0, 0.1, 0.01) for a in ("none", "fgsm", "pgd")}
    assert paper_row(0.01, "none")["pgd"] == 89.61
    assert paper_row(None, "pgd")["clean"] == 98.67
    assert paper_row(0.1, "fgsm")["cw"] == 3.50
    assert paper_row(None, "none") == {"beta": None, "adv_training": "none", "clean": 98.49,
                                       "fgsm": 41.77, "pgd": 9.47, "cw": 0.00}


def test_table1_markdown_cells():
    rows = [{"beta": None, "adv_training": "none", "clean": 0.9795, "fgsm": 0.5,
             "pgd": 0.0947, "cw": None}]
    md = table1_markdown(rows)
    lines = md.splitlines()
    assert lines[0] == "| Max val. | Adv. training | Clean % | FGSM % | PGD % | CW-L2 % |"
    assert "97.95 (98.49, -0.54)" in md
    assert "50.00 (41.77, +8.23)" in md
    assert "9.47 (9.47, 0.00)" in md
    assert "— (0.00)" in md  # missing CW value: paper only
    md2 = table1_markdown([{"beta": 0.01, "adv_training": "pgd", "clean": 0.97, "clean_std": 0.005,
                            "fgsm": 0.9, "pgd": 0.95, "cw": 0.1}])
    assert "| 0.01 | PGD | 97.00 ± 0.50 (96.55, +0.45) |" in md2


def test_report_mentions_every_experiment(full_output, summary):
    out, _ = full_output
    text = (out / "REPORT.md").read_text()
    for name, fn in FIGURE_FILES.items():
        assert f"]({fn})" in text, name
        assert report.TITLES.get(name, report.TITLES["adaptive"]) in text  # fig12: adaptive
    assert report.TITLES["table1"] in text
    assert "## Where we agree and where we differ" in text
    assert "## Notes from the run" in text
    assert "CW ran on 50 samples only." in text and "Line two *verbatim*." in text
    assert "`quick`" in text and "the first 3000 training images" in text
    fig05 = text.split(report.TITLES["fig05"])[1].split("\n## ")[0]
    assert "Data (fig04-06): the first 300 test images" in fig05
    assert "run unit `fig04-06`" in fig05 and "fig01-02" not in fig05
    t1 = text.split("## " + report.TITLES["table1"])[1].split("\n## ")[0]
    assert "Data (table1 CW-L2): the first 20 test images" in t1
    assert "run unit `table1`" in t1 and "run unit `table1_seeds`" in t1
    assert (out / "table1.md").read_text().count("\n|") >= 13


def test_meta_key_covers():
    cover = report.meta_key_covers
    assert cover("fig04-06", "fig05") and cover("fig01-02", "fig01") and cover("fig11", "fig11")
    assert not cover("fig04-06", "fig08") and not cover("fig01-02", "fig11")
    assert cover("table1 CW-L2", "table1") and cover("table1_seeds", "table1")
    assert not cover("training", "fig01") and not cover("fig1", "fig11")


def _with_pgd(rows_none_pgd: list[float]) -> dict:
    s = {"table1": []}
    for beta, pgd in zip((None, 1.0, 0.1, 0.01), rows_none_pgd):
        p = paper_row(beta, "none")
        s["table1"].append({"beta": beta, "adv_training": "none", "clean": p["clean"] / 100,
                            "fgsm": p["fgsm"] / 100, "pgd": pgd, "cw": p["cw"] / 100})
    return s


def test_trend_verdicts_follow_the_data(tmp_path):
    rising = report.build_report(_with_pgd([0.1, 0.2, 0.5, 0.9]), tmp_path, strict=True)
    falling = report.build_report(_with_pgd([0.9, 0.5, 0.2, 0.1]), tmp_path, strict=True)
    head = "**Robust accuracy under PGD without adversarial training**"
    line_r = next(l for l in rising.splitlines() if head in l)
    line_f = next(l for l in falling.splitlines() if head in l)
    assert "ours: rises steadily as β falls" in line_r and line_r.endswith("**agrees**.")
    assert "ours: falls steadily as β falls" in line_f and line_f.endswith("**differs**.")
    # a cell far from the paper is flagged
    assert "more than 5 points from the paper**: 2 of 16" in rising


def test_sensitivity_and_claim_verdicts_follow_the_data(tmp_path, summary):
    s = copy.deepcopy(summary)
    good = report.build_report(s, tmp_path, strict=True)
    s["fig11"]["sums"] = [1.0, 2.0, 3.0]
    bad = report.build_report(s, tmp_path, strict=True)
    key = "(sum of the map for this digit)"
    assert next(l for l in good.splitlines() if key in l).endswith("**agrees**.")
    assert next(l for l in bad.splitlines() if key in l).endswith("**differs**.")

    block = copy.deepcopy(summary["fig06"])
    for init in ("0.01", "0.1", "1"):
        block["curves"]["HL2"][init]["robust"] = [0.9] * 15
        block["curves"]["HL1"][init]["robust"] = [0.5] * 15
    first, second = report.PAPER_PGD_CLAIMS["fig06"]
    assert report.evaluate_claim(block, first) == (15, 0, 0)
    assert report.evaluate_claim(block, second) == (0, 30, 0)
    lines = report.findings_pgd("fig06", block)
    assert "**holds**" in lines[0] and "**does not hold**" in lines[1]


def test_beta_trend():
    assert beta_trend([None, 1, 0.1, 0.01], [1, 2, 3, 4])[0] == 1
    assert beta_trend([0.01, 0.1, 1], [1, 2, 3])[0] == -1
    assert beta_trend([1, 0.1, 0.01, 0.001], [1, 3, 2, 4]) == (
        1, "mostly rises as β falls (Spearman ρ=+0.80)")
    assert beta_trend([1, 0.1], [2, 2])[0] == 0
    assert beta_trend([1], [2])[0] == 0


def test_missing_pieces_do_not_crash(tmp_path, summary):
    s = copy.deepcopy(summary)
    del s["fig04"]["curves"]["HL12"]
    s["fig08"]["curves"]["HL1"]["0.1"]["distance"] = [None] * 15
    s["fig01"]["capped"].pop("HL3")
    s["fig11"].pop("image")
    del s["fig02"]["uncapped"]
    s.pop("meta")
    paths = write_all(s, tmp_path, strict=True)
    assert (tmp_path / "REPORT.md") in paths
    assert len([p for p in paths if p.suffix == ".png"]) == len(FIGURE_FILES)


def test_bad_block_is_skipped_with_warning(tmp_path):
    with pytest.warns(RuntimeWarning, match="fig02"):
        written = plots.plot_all({"fig02": {"betas": [1, 2], "accuracy": {"HL1": {"1": "x"}}}},
                                 tmp_path)
    assert written == []


def _adaptive_row(beta, adv, pgd, worst, strongest_key="bpda"):
    row = {"beta": beta, "adv_training": adv, "n": 100, "clean": 0.9, "pgd": pgd, "fgsm": pgd,
           "bpda": pgd, "transfer": pgd, "square": pgd, "margin_pgd": pgd, "worst_case": worst,
           "zero_gradient_fraction": 0.25}
    row[strongest_key] = worst
    return row


def test_adaptive_verdicts_are_computed_from_the_rows(tmp_path):
    from nprelu.report_adaptive import answer, row_evidence
    twin = _adaptive_row(None, "none", 0.10, 0.08, "margin_pgd")
    hidden = _adaptive_row(0.01, "none", 0.60, 0.09)            # PGD gain gone in the worst case
    real = _adaptive_row(0.1, "none", 0.50, 0.40, "square")      # gain survives
    lines = answer([twin, hidden, real])
    assert lines[0].startswith("In 2 of 2 capped networks PGD overstates")
    assert "β = 0.01" in lines[2] and "does not survive" in lines[2]
    assert "β = 0.1 " in lines[1] and "even under the worst case" in lines[1]
    assert "masked gradient" in row_evidence(hidden)
    assert "holds up" in row_evidence(twin)
    weak = _adaptive_row(None, "pgd", 0.5, 0.3, "margin_pgd")
    assert "weak attack" in row_evidence(weak)
    summary = {"meta": {}, "adaptive": {"eps": 0.1, "rows": [twin, hidden, real], "checklist": []},
               "fig12": {"betas_eval": [0.01, 0.02], "curves": {"0.1": {
                   "pgd": [0.5, 0.4], "worst_case": [0.3, 0.3], "standard": [0.9, 0.9]}},
                   "n_test": 100, "eps": 0.1}}
    write_all(summary, tmp_path, strict=True)
    report = (tmp_path / "REPORT.md").read_text()
    assert "fig12_adaptive_robustness.png" in report and "Worst case %" in report
    assert (tmp_path / "fig12_adaptive_robustness.png").read_bytes()[:4] == b"\x89PNG"
