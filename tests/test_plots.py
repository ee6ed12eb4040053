"""Figures from synthetic summaries (no training; fast): every registry figure, drawn by kind."""
from __future__ import annotations

import copy
import inspect
import re
import warnings

import pytest

from nprelu import plots
from nprelu.experiments import OUTPUTS
from nprelu.plots import DRAWERS, Extras, attack_caption, coinciding, plot_all
from nprelu.plots import common, figures
from nprelu.plots.figures import legend_labels
from summary_helpers import make_summary

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = [o for o in OUTPUTS.values() if o.file]


@pytest.fixture(scope="module")
def full_output(tmp_path_factory, summary):
    out = tmp_path_factory.mktemp("full")
    return out, plot_all(summary, out, strict=True)


def test_every_registry_figure_is_written_as_a_small_png(full_output):
    out, paths = full_output
    assert sorted(p.name for p in paths) == sorted(o.file for o in FIGURES)
    for output in FIGURES:
        data = (out / output.file).read_bytes()
        assert data.startswith(PNG_SIGNATURE), output.file
        assert len(data) < 300_000, (output.file, len(data))
    assert sorted(p.name for p in out.iterdir()) == sorted(o.file for o in FIGURES)


def test_figures_are_written_in_registry_order(full_output):
    _, paths = full_output
    assert [p.name for p in paths] == [o.file for o in FIGURES]


def test_every_figure_kind_has_a_registered_drawer():
    missing = {o.key: o.kind for o in FIGURES if o.kind not in DRAWERS}
    assert not missing, f"no drawing function registered for {missing}"


def test_a_new_figure_of_an_existing_kind_needs_no_plots_change(tmp_path, summary, monkeypatch):
    fig04 = OUTPUTS["fig04"]
    extra = type(fig04)("fig04b", fig04.kind, "Figure 4b — a copy", "fig04b_copy.png", "4b")
    monkeypatch.setattr(plots, "OUTPUTS", {**OUTPUTS, "fig04b": extra})
    paths = plot_all({"fig04b": summary["fig04"]}, tmp_path, strict=True)
    assert paths == [tmp_path / "fig04b_copy.png"]
    assert paths[0].read_bytes().startswith(PNG_SIGNATURE)


def test_plots_source_names_no_figure_file_or_title():
    source = "".join(inspect.getsource(m) for m in (plots, common, figures))
    assert not re.findall(r"[\w-]+\.png", source)
    for output in FIGURES:
        assert output.file not in source
        assert output.title not in source
        assert f'"{output.key}"' not in source


def test_summary_without_figures_draws_nothing(tmp_path, summary):
    only = {k: summary[k] for k in ("meta", "table1", "adaptive")}
    assert plot_all(only, tmp_path, strict=True) == []
    assert list(tmp_path.iterdir()) == []


def test_empty_summary_draws_nothing(tmp_path):
    assert plot_all({}, tmp_path, strict=True) == []
    assert list(tmp_path.iterdir()) == []


def test_only_the_blocks_present_are_drawn(tmp_path, summary):
    paths = plot_all({"fig05": summary["fig05"], "fig11": summary["fig11"]}, tmp_path,
                     strict=True)
    assert paths == [tmp_path / OUTPUTS["fig05"].file, tmp_path / OUTPUTS["fig11"].file]


def test_gaps_the_schema_allows_are_drawn(tmp_path, summary):
    s = copy.deepcopy(summary)
    s["fig08"]["curves"]["HL1"]["0.1"]["distance"] = [None] * 15   # no zero gradient anywhere
    s["fig04"]["curves"]["HL2"]["1"]["robust"][3] = None
    s["fig01"]["capped"]["HL2"]["1"]["l2"] = [0.0, 0.0, 0.0]        # log axis: all zero
    keys = ("fig01", "fig04", "fig08")
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # a NaN or a zero on a log axis must not warn either
        paths = plot_all({k: s[k] for k in keys}, tmp_path, strict=True)
    assert [p.name for p in paths] == [OUTPUTS[k].file for k in keys]


def test_bad_block_is_skipped_with_a_warning_naming_it(tmp_path, summary):
    bad = {"fig02": {"betas": [1, 2], "accuracy": {"HL1": {"1": "x"}}},
           "fig03": summary["fig03"]}
    with pytest.warns(RuntimeWarning, match="fig02"):
        written = plot_all(bad, tmp_path)
    assert written == [tmp_path / OUTPUTS["fig03"].file]


def test_inconsistent_block_is_skipped_with_a_warning(tmp_path, summary):
    s = copy.deepcopy(summary["fig04"])
    del s["curves"]["HL12"]       # the schema cannot tie capped_layers to the curves' keys
    with pytest.warns(RuntimeWarning, match="fig04.*KeyError"):
        assert plot_all({"fig04": s}, tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_strict_raises(tmp_path):
    with pytest.raises(Exception, match="fig02"):
        plot_all({"fig02": {"betas": [1]}}, tmp_path, strict=True)


# --------------------------------------------------------------------------- issue 13

def test_a_single_seed_summary_of_the_older_layout_is_drawn(tmp_path):
    paths = plot_all(make_summary(), tmp_path, strict=True)
    assert [p.name for p in paths] == [o.file for o in FIGURES]


def test_bands_are_drawn_from_the_intervals(tmp_path, summary):
    fig04 = OUTPUTS["fig04"]
    iv = summary["intervals"]["fig04"]
    with_bands = DRAWERS["pgd_sweep"](fig04, summary["fig04"], tmp_path / "a.png",
                                      Extras(iv, "", "t"))
    without = DRAWERS["pgd_sweep"](fig04, summary["fig04"], tmp_path / "b.png", Extras())
    assert with_bands.read_bytes() != without.read_bytes()
    flat = copy.deepcopy(iv)            # intervals of zero width draw no band
    for layer in flat["curves"].values():
        for curve in layer.values():
            for key, points in curve.items():
                curve[key] = [[0.5, 0.5] for _ in points]
    assert not common.bounds(flat["curves"]["HL1"]["1"]["robust"], 15)
    assert common.bounds(iv["curves"]["HL1"]["1"]["robust"], 15) is not None


def _captured(monkeypatch):
    figs = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, path: figs.append(fig) or path)
    return figs


def test_panels_comparing_one_quantity_share_their_y_axis(tmp_path, summary, monkeypatch):
    figs = _captured(monkeypatch)
    plot_all({k: summary[k] for k in ("fig01", "fig04", "fig08")}, tmp_path, strict=True)
    growth, sweep, zero = figs
    g = growth.axes
    assert g[0].get_shared_y_axes().joined(g[0], g[1])       # L∞ row
    assert not g[0].get_shared_y_axes().joined(g[0], g[4])   # L∞ against L2
    s = sweep.axes                                            # 3 x 3, columns share
    assert s[1].get_shared_y_axes().joined(s[1], s[4])
    assert not s[0].get_shared_y_axes().joined(s[0], s[1])
    z = zero.axes                                             # rows share
    assert len(z) == 4 * 3 and z[0].get_shared_y_axes().joined(z[0], z[2])


def test_coinciding_series_share_one_legend_entry(summary):
    block = copy.deepcopy(summary["fig01"])
    assert all(v == k for k, v in legend_labels(block).items())
    for layer in block["capped_layers"]:
        for b in ("10", "100"):
            block["capped"][layer][b] = copy.deepcopy(block["uncapped"])
    labels = legend_labels(block)
    assert labels["uncapped ReLU"] == "uncapped ReLU, β=10, β=100 (coincide)"
    assert labels["β=100"] is None and labels["β=10"] is None
    assert labels["β=1"] == "β=1"
    assert coinciding({"a": [1, None], "b": [1, None], "c": [1, 2]}) == [["a", "b"], ["c"]]


def test_the_caption_line_gives_the_attack_settings(tmp_path, summary, monkeypatch):
    pgd = {"eps": 0.1, "step": 0.01, "steps": 10, "random_start": True}
    assert attack_caption({"pgd": pgd, "network": "general"}) == (
        "PGD eps 0.1, step 0.01, 10 steps, random start")
    assert attack_caption({"pgd_on_uncapped": {**pgd, "random_start": False}}).startswith(
        "PGD on uncapped eps 0.1")
    assert attack_caption({"max_steps": 200}) == "zero-gradient search: at most 200 steps"
    s = copy.deepcopy(summary)
    s["meta"]["settings"]["fig04"] = {"pgd": pgd}
    figs = _captured(monkeypatch)
    plot_all({"meta": s["meta"], "fig04": s["fig04"]}, tmp_path, strict=True)
    assert "PGD eps 0.1, step 0.01, 10 steps, random start" in figs[0]._suptitle.get_text()


def test_the_sensitivity_map_outlines_the_digit_and_marks_zero_maps(tmp_path, summary,
                                                                    monkeypatch):
    block = copy.deepcopy(summary["fig11"])
    block["image"] = [1.0 if 300 <= i < 500 else 0.0 for i in range(784)]
    block["maps"][2] = [0.0] * 784
    figs = _captured(monkeypatch)
    DRAWERS["sensitivity"](OUTPUTS["fig11"], block, tmp_path / "x.png", Extras())
    panels = figs[0].axes[1:4]
    assert all(ax.collections for ax in panels)               # the contour of the digit
    assert "masking" in " ".join(t.get_text() for t in panels[2].texts)
    assert not panels[0].texts
    assert "zero gradient: 30% of test images" in panels[2].get_title()
