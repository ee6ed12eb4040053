"""The CW-L2 gap figure (kind ``cw_gap``, ours): per network, each CW variant's accuracy beside
the paper's Table 1 number, and the L2 distribution of each variant's successful examples."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..experiments import Output
from ..runner.summary import beta_key
from .common import Extras, dig, draws, new_figure
from .style import MARKERS, legend_right

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
#: Bar hatches, one per variant: the bars stay apart in grey print.
HATCHES = ("", "///", "...", "xx", "\\\\", "++")


def row_label(row: dict) -> str:
    """"β=0.01\\nPGD": the network of one row."""
    beta = "∞" if row["beta"] is None else beta_key(row["beta"])
    return f"β={beta}\n{'no adv.' if row['adv_training'] == 'none' else row['adv_training'].upper()}"


def _num(v) -> float:
    return float("nan") if v is None else float(v)


@draws("cw_gap")
def plot_cw_gap(output: Output, block: dict, extras: Extras = Extras()) -> Figure:
    """Left: accuracy under each CW variant (bars, 95% interval as error bars) and the paper's
    CW-L2 number (black diamond). Right: median L2 of the successful examples, whiskers from
    the first to the third quartile (gaps where no example was found). Each variant has its
    colour, hatch and marker; the legends lie to the right of the panels."""
    rows, names = block["rows"], block["variants"]
    x = np.arange(len(rows))
    width = 0.8 / max(len(names), 1)
    fig = new_figure((14.0, 4.4))
    left, right = fig.subplots(1, 2)
    for k, name in enumerate(names):
        pos = x - 0.4 + width * (k + 0.5)
        acc = np.array([100.0 * _num(r["variants"][name]["accuracy"]) for r in rows])
        err = None
        ivs = [dig(extras.iv, "rows", i, "variants", name, "accuracy") for i in range(len(rows))]
        if all(isinstance(v, list) and len(v) == 2 for v in ivs):
            lo = np.array([100.0 * v[0] for v in ivs])
            hi = np.array([100.0 * v[1] for v in ivs])
            err = np.vstack([np.maximum(acc - lo, 0.0), np.maximum(hi - acc, 0.0)])
        color = COLORS[k % len(COLORS)]
        left.bar(pos, acc, width, yerr=err, color=color, label=name, capsize=2,
                 hatch=HATCHES[k % len(HATCHES)], edgecolor="white", lw=0)
        med = np.array([_num(r["variants"][name]["l2_median"]) for r in rows])
        q1 = np.array([_num(r["variants"][name]["l2_q1"]) for r in rows])
        q3 = np.array([_num(r["variants"][name]["l2_q3"]) for r in rows])
        right.errorbar(pos, med, yerr=np.vstack([med - q1, q3 - med]), fmt=MARKERS[k % len(MARKERS)], ms=5,
                       color=color, capsize=2, label=name)
    paper = np.array([100.0 * _num(r["paper_cw"]) for r in rows])
    left.plot(x, paper, "D", color="black", ms=5, label="paper (Table 1)")
    for ax in (left, right):
        ax.set_xticks(x)
        ax.set_xticklabels([row_label(r) for r in rows], fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)
    left.set_ylabel("accuracy under CW-L2 (%)")
    right.set_ylabel("L2 of successful examples (median, quartiles)")
    for b in block["budgets"]:
        right.axhline(float(b), color="gray", lw=0.6, ls=":")
    legend_right(left, fontsize=8)
    legend_right(right, fontsize=8)
    fig.suptitle(output.title, fontsize=10)
    return fig
