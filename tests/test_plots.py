"""Figures from synthetic summaries (no training; fast): every registry figure, drawn by kind."""
from __future__ import annotations

import copy
import inspect
import re
import warnings

import pytest

from nprelu import plots
from nprelu.experiments import OUTPUTS
from nprelu.plots import (DRAWERS, Extras, attack_caption, coinciding, draw_figure,
                          figure_caption, plot_all)
from nprelu.plots import (adaptive, captions, common, cw_gap, cw_paper, figures, maps, masking,
                          style, suite, sweeps)
from nprelu.plots.figures import growth_note, identical_groups
from summary_helpers import make_summary

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = [o for o in OUTPUTS.values() if o.file]


@pytest.fixture(scope="module")
def full_output(tmp_path_factory, summary):
    out = tmp_path_factory.mktemp("full")
    return out, plot_all(summary, out, strict=True)


@pytest.mark.slow
def test_every_registry_figure_is_written_as_a_small_png(full_output):
    out, paths = full_output
    assert sorted(p.name for p in paths) == sorted(o.file for o in FIGURES)
    for output in FIGURES:
        data = (out / output.file).read_bytes()
        assert data.startswith(PNG_SIGNATURE), output.file
        assert len(data) < 300_000, (output.file, len(data))
    assert sorted(p.name for p in out.iterdir()) == sorted(o.file for o in FIGURES)


@pytest.mark.slow
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
    source = "".join(inspect.getsource(m) for m in (plots, common, figures, sweeps, maps,
                                                     adaptive, suite, masking, cw_gap, cw_paper,
                                                     style, captions))
    assert not re.findall(r"[\w-]+\.png", source)
    for output in FIGURES:
        assert output.file not in source
        assert output.title not in source
        assert output.key == output.kind or f'"{output.key}"' not in source


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

@pytest.mark.slow
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


def test_panels_comparing_one_quantity_share_their_y_axis(summary):
    growth, sweep, zero = (draw_figure(summary, k) for k in ("fig01", "fig04", "fig08"))
    g = growth.axes
    assert g[0].get_shared_y_axes().joined(g[0], g[1])       # L∞ row
    assert not g[0].get_shared_y_axes().joined(g[0], g[4])   # L∞ against L2
    s = sweep.axes                                            # 3 x 3, columns share
    assert s[1].get_shared_y_axes().joined(s[1], s[4])
    assert not s[0].get_shared_y_axes().joined(s[0], s[1])
    z = zero.axes                                             # rows share
    assert len(z) == 4 * 3 and z[0].get_shared_y_axes().joined(z[0], z[2])


def test_each_panel_of_figure_4_is_labelled_with_its_own_quantity(summary):
    axes = draw_figure(summary, "fig04").axes
    labels = [ax.get_ylabel() for ax in axes]
    assert labels[:3] == ["standard accuracy (%)", "robust accuracy (%)",
                          "PGD success rate (%)"]
    assert labels[3:6] == labels[:3] and labels[6:] == labels[:3]
    assert all(ax.get_title().startswith("initial β=") for ax in axes)


def test_coinciding_series_are_found_from_the_data(summary):
    block = copy.deepcopy(summary["fig01"])
    assert identical_groups(block) == []
    assert all(growth_note(block, l) == "" for l in block["capped_layers"])
    for layer in block["capped_layers"]:
        block["capped"][layer]["100"] = copy.deepcopy(block["uncapped"])
    block["capped"]["HL1"]["10"] = {n: [1.01 * v for v in block["uncapped"][n]]
                                    for n in ("linf", "l2")}    # 1% off: hidden on a log axis
    assert identical_groups(block) == [["uncapped ReLU", "β=100"]]
    assert growth_note(block, "HL1") == "β=10, β=100 on the uncapped line"
    assert growth_note(block, "HL2") == "β=100 on the uncapped line"
    assert coinciding({"a": [1, None], "b": [1, None], "c": [1, 2]}) == [["a", "b"], ["c"]]
    assert coinciding({"a": [1.0], "b": [1.5]}, rtol=0.0, atol=0.6) == [["a", "b"]]
    assert style.close_groups({"a": [10.0, 50.0], "b": [11.0, 50.0], "c": [30.0, 60.0]},
                              100.0) == [["a", "b"]]
    assert style.close_groups({"a": [10.0, 50.0], "b": [13.0, 50.0]}, 100.0) == []
    assert "β=10, β=100 on the uncapped line" in draw_figure(
        {"fig01": block}, "fig01").axes[0].get_title()


def test_the_caption_gives_the_attack_settings_and_the_title_does_not(summary):
    pgd = {"eps": 0.1, "step": 0.01, "steps": 10, "random_start": True}
    assert attack_caption({"pgd": pgd, "network": "general"}) == (
        "PGD eps 0.1, step 0.01, 10 steps, random start")
    assert attack_caption({"pgd_on_uncapped": {**pgd, "random_start": False}}).startswith(
        "PGD on uncapped eps 0.1")
    assert attack_caption({"max_steps": 200}) == "zero-gradient search: at most 200 steps"
    assert attack_caption({"margin_pgd": {"eps": 0.1}, "bpda": {"eps": 0.1}}) == (
        "Margin PGD eps 0.1; BPDA-PGD eps 0.1")
    s = copy.deepcopy(summary)
    s["meta"]["settings"]["fig04"] = {"pgd": pgd}
    caption = figure_caption(s, "fig04")
    assert "PGD eps 0.1, step 0.01, 10 steps, random start" in caption
    assert "Bands: " in caption and "784-392-196-10" in caption
    assert "random start" not in draw_figure(s, "fig04")._suptitle.get_text()


def test_a_note_on_bands_only_where_there_are_intervals(summary):
    one = make_summary()              # a single seed of the older layout: no intervals
    for key in ("fig04", "fig11", "fig13"):
        assert "Bands" not in figure_caption(one, key) and "Interval" not in figure_caption(
            one, key)
    assert "Intervals of the sum: " in figure_caption(summary, "fig11")
    assert all("band" not in t.get_text().lower() for t in draw_figure(summary, "fig11").texts)


def test_every_figure_has_a_caption(summary):
    for output in FIGURES:
        assert len(figure_caption(summary, output.key)) > 40, output.key


def test_a_case_without_an_image_says_so_in_its_panels(summary):
    block = copy.deepcopy(summary["fig07"])
    block["cases"]["fails"] = None
    fig = draw_figure({"fig07": block}, "fig07")
    top, zoom = fig.axes[2], fig.axes[5]
    for ax in (top, zoom):
        assert "in the subset meets this case" in " ".join(t.get_text() for t in ax.texts)
    assert "(no image)" in top.get_title()
    assert len(fig.axes[0].get_xticks()) > 2    # the cases drawn keep their shared ticks


def test_figure_13_draws_one_panel_per_network(summary):
    block = summary["fig13"]
    fig = draw_figure(summary, "fig13")
    assert len(fig.axes) == len({(n["beta"], n["adv_training"]) for n in block["networks"]})
    assert all(len(ax.get_lines()) <= 3 for ax in fig.axes)


def test_the_sensitivity_map_outlines_the_digit_and_marks_zero_maps(summary):
    block = copy.deepcopy(summary["fig11"])
    block["image"] = [1.0 if 300 <= i < 500 else 0.0 for i in range(784)]
    block["maps"][2] = [0.0] * 784
    panels = draw_figure({"fig11": block}, "fig11").axes[1:4]
    assert all(ax.collections for ax in panels)               # the contour of the digit
    assert "masking" in " ".join(t.get_text() for t in panels[2].texts)
    assert not panels[0].texts
    assert "30% zero gradient" in panels[2].get_title()
