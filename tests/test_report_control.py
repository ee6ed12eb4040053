"""The control's section, figure and pointer: verdicts paired per seed against the suite's rows,
and a report that still builds, saying "not run yet", where the block is absent."""
import copy

import pytest

from nprelu.plots import draw_figure, figure_caption
from nprelu.report import control
from nprelu.report.document import build_report
from nprelu.report.front import answer
from summary_helpers import make_summary


def _without(summary: dict, key: str) -> dict:
    s = copy.deepcopy(summary)
    for part in (s, s.get("intervals") or {}, s.get("interval_methods") or {},
                 *(s.get("runs") or {}).values()):
        part.pop(key, None)
    return s


def _set(summary: dict, fn) -> dict:
    """Each seed's control rows' worst case set to ``fn(seed index, its suite block, row)``."""
    s = copy.deepcopy(summary)
    for k, seed in enumerate(sorted(s["runs"], key=int)):
        for r in s["runs"][seed]["control"]["rows"]:
            r["worst_case"] = fn(k, s["runs"][seed]["suite"], r)
    return s


def _suite_wc(suite: dict, beta, adv: str) -> float:
    return next(r["worst_case"] for r in suite["rows"]
                if r["adv_training"] == adv and (r["beta"] == beta if beta is None
                                                 else r["beta"] is not None
                                                 and abs(r["beta"] - beta) < 1e-9))


def test_far_above_true_gradient_training_and_below_the_twin_are_judged_so_on_every_network():
    s = copy.deepcopy(make_summary(seeds=3))
    for seed in s["runs"].values():                  # twins high, true-gradient rows low
        for r in seed["suite"]["rows"]:
            r["worst_case"] = 0.75 if r["beta"] is None else 0.05
    s = _set(s, lambda k, suite, r: _suite_wc(suite, r["beta"], r["adv_training"])
             + 0.30 + 0.01 * k)
    found = control.verdicts(s)
    assert len(found) == 6
    assert all(v["vs_true"]["verdict"] == "holds" and v["vs_twin"]["verdict"] == "fails"
               for v in found)
    assert all(v["vs_true"]["family"] == 6 for v in found)
    text = control.answer(found)
    assert "raises the worst case in 6" in text and "6 below it" in text


def test_no_difference_is_inconclusive_not_a_verdict():
    s = _set(make_summary(seeds=3), lambda k, suite, r: _suite_wc(
        suite, r["beta"], r["adv_training"]) + (0.01 if k % 2 else -0.01))
    assert {v["vs_true"]["verdict"] for v in control.verdicts(s)} == {"inconclusive"}


def test_one_seed_summary_is_judged_over_the_test_images():
    found = control.verdicts(make_summary())
    assert len(found) == 6 and all(v["vs_true"]["diff"] is not None for v in found)


def test_a_report_without_the_control_block_builds_and_says_not_run_yet(tmp_path):
    s = _without(make_summary(seeds=3), "control")
    assert control.NOT_RUN in "\n".join(answer(s, {}))
    text = build_report(s, tmp_path, strict=True)
    assert "not run yet" in text and "## Beyond the paper — the control" not in text


def test_the_control_section_compares_with_the_suite_and_says_so_without_it(tmp_path):
    s = make_summary(seeds=3)
    text = build_report(s, tmp_path, strict=True)
    assert "## Beyond the paper — the control" in text and "Through − true (points)" in text
    alone = build_report(_without(s, "suite"), tmp_path, strict=True)
    assert "is not in this summary" in alone and "Through − true (points)" not in alone


@pytest.mark.parametrize("with_suite", [True, False])
def test_the_control_figure_draws_with_and_without_the_suite_block(with_suite):
    s = make_summary(seeds=3)
    s = s if with_suite else _without(s, "suite")
    fig = draw_figure(s, "control")
    bars = [p for ax in fig.axes for p in ax.patches if p.get_height() > 0]
    assert len(bars) >= (12 if with_suite else 6)
    assert ("not in this summary" in figure_caption(s, "control")) != with_suite
