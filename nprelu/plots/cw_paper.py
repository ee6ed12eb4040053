"""The figure of CW-L2 at the paper's budget (kind ``cw_paper``, ours): per capped network without
adversarial training, the accuracy under CW-L2 at the paper's budget (true gradient and BPDA
surrogate) beside the paper's Table 1 number and the reduced-budget plain CW of the ``cw_gap``
block of the same summary (``Output.reads``)."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import paper
from ..experiments import Output
from ..runner.summary import beta_key
from .captions import bands_text, sentences, settings_text
from .common import Extras, captions, dig, draws, new_figure
from .style import legend_right

#: The paper's CW-L2 settings (Section 8).
PAPER_CW = paper.SECTION8["cw"]

#: The bars, left to right: (source, variant, label, colour, hatch); source "gap" is the
#: ``cw_gap`` block (reduced budget), "own" this block (the paper's budget in the paper
#: profile).
#: ``{budget}`` in a label: this block's search steps × iterations.
BARS = (("gap", "cw", "plain CW, cw_gap's reduced budget", "tab:gray", ""),
        ("own", "cw", "plain CW, {budget}", "tab:blue", "///"),
        ("own", "cw_bpda_relu", "BPDA-ReLU CW, {budget}", "tab:orange", "..."))

def find_row(block: dict | None, beta, adv: str = "none"):
    """``(i, row)`` of ``block``'s row (a ``cw_gap`` or ``cw_paper`` block) for the network
    capped at ``beta`` trained with ``adv``; ``(None, None)`` if none."""
    for i, r in enumerate((block or {}).get("rows", [])):
        if (r["adv_training"] == adv and r["beta"] is not None
                and abs(float(r["beta"]) - float(beta)) < 1e-12):
            return i, r
    return None, None


def point(block, iv, beta, variant: str) -> tuple:
    """``(accuracy %, lo %, hi %)`` of one variant on one network, NaN where it is missing."""
    i, r = find_row(block, beta)
    m = None if r is None else r["variants"].get(variant)
    if m is None:
        return (np.nan,) * 3
    v = 100.0 * float(m["accuracy"])
    band = dig(iv, "rows", i, "variants", variant, "accuracy")
    if isinstance(band, list) and len(band) == 2:
        return v, 100.0 * band[0], 100.0 * band[1]
    return v, v, v


@draws("cw_paper")
def plot_cw_paper(output: Output, block: dict, extras: Extras = Extras()) -> Figure:
    """Per cap: bars of plain CW at the reduced budget (``cw_gap``), plain CW and BPDA-ReLU CW at
    the paper's budget (95% intervals as error bars), and the paper's Table 1 number (black
    diamond). Without a ``cw_gap`` block its bars are missing (gaps)."""
    gap, gap_iv = extras.reads.get("cw_gap", (None, None))
    betas = [r["beta"] for r in block["rows"]]
    x = np.arange(len(betas))
    width = 0.8 / len(BARS)
    budget = f"{block['search_steps']} × {block['max_iter']:,}"
    fig = new_figure((8.5, 4.2))
    ax = fig.subplots()
    for k, (source, variant, label, color, hatch) in enumerate(BARS):
        b, iv = (gap, gap_iv) if source == "gap" else (block, extras.iv)
        pts = [point(b, iv, beta, variant) for beta in betas]
        v = np.array([p[0] for p in pts])
        err = np.vstack([np.maximum(v - [p[1] for p in pts], 0.0),
                         np.maximum(np.array([p[2] for p in pts]) - v, 0.0)])
        ax.bar(x - 0.4 + width * (k + 0.5), np.nan_to_num(v), width,
               yerr=np.nan_to_num(err), color=color, hatch=hatch, edgecolor="white", lw=0,
               capsize=3,
               label=label.format(budget=budget) + ("" if b else " — not in this summary"))
    paper = np.array([np.nan if r["paper_cw"] is None else 100.0 * float(r["paper_cw"])
                      for r in block["rows"]])
    ax.plot(x, paper, "D", color="black", ms=6, label="paper (Table 1)")
    ax.set_xticks(x)
    ax.set_xticklabels([f"β={beta_key(b)}" for b in betas])
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy under CW-L2 (%)")
    ax.grid(True, axis="y", alpha=0.3)
    legend_right(ax, fontsize=8)
    fig.suptitle(output.title, fontsize=10)
    return fig


@captions("cw_paper")
def cw_paper_caption(output, block: dict, extras: Extras) -> str:
    gap = extras.reads.get("cw_gap", (None, None))[0]
    return sentences(
        f"Accuracy under CW-L2 on the same {block['n']} test images per seed for each capped "
        "network without adversarial training (GENERAL 392-196, cap β on HL2): CW at "
        f"{block['search_steps']} search steps × {block['max_iter']:,} iterations (the "
        f"paper's budget: {PAPER_CW['search_steps']} × {PAPER_CW['max_iter']:,}) with the true "
        "gradient and through the cap (BPDA, ReLU's derivative), beside the paper's Table 1 "
        "number (black diamond)"
        + (" and plain CW at the CW gap's reduced budget (grey)" if gap else
           "; the cw_gap block, which holds plain CW at the reduced budget, is not in this "
           "summary"),
        settings_text(extras), bands_text(extras, "Error bars"))
