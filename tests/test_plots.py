"""Figures from synthetic summaries (no training; fast): every registry figure, drawn by kind."""
from __future__ import annotations

import copy
import inspect
import re
import warnings

import pytest

from nprelu import plots
from nprelu.experiments import OUTPUTS
from nprelu.plots import DRAWERS, plot_all

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
    source = inspect.getsource(plots)
    assert not re.findall(r"[\w-]+\.png", source)
    for output in FIGURES:
        assert output.file not in source
        assert output.title not in source
        assert f'"{output.key}"' not in source


def test_summary_without_figures_draws_nothing(tmp_path, summary):
    only = {k: summary[k] for k in ("meta", "table1", "table1_seeds", "adaptive")}
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
