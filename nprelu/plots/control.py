"""The control's figure (kind ``control``, ours): the worst-case robust accuracy of the capped
networks adversarially trained through the cap (BPDA), beside the same networks trained with the
true gradient (Table 1's recipe) and their uncapped adversarially trained twin, from the
``suite`` block of the same summary (``Output.reads``)."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..experiments import Output
from ..runner.summary import beta_key
from .captions import bands_text, sentences, settings_text
from .common import BAND_ALPHA, Extras, captions, dig, draws, new_figure
from .style import legend_below

#: The two bars of a cap and the twin's line: label, colour, hatch.
TRUE = ("true-gradient adv. training (Table 1)", "tab:blue", "")
BPDA = ("adv. training through the cap (BPDA relu)", "tab:orange", "///")
TWIN = ("uncapped twin, same adv. training", "black")


def _same(a: dict, beta, adv: str) -> bool:
    return a["adv_training"] == adv and (
        a["beta"] is None if beta is None else a["beta"] is not None
        and abs(float(a["beta"]) - float(beta)) < 1e-12)


def find_row(block: dict | None, beta, adv: str):
    """``(i, row)`` of the row of ``block`` (a ``suite`` or ``control`` block) for the network
    capped at ``beta`` (None: uncapped) trained with ``adv``; ``(None, None)`` if none."""
    for i, r in enumerate((block or {}).get("rows", [])):
        if _same(r, beta, adv):
            return i, r
    return None, None


def _point(block, iv, beta, adv) -> tuple:
    """``(value %, lo %, hi %)`` of the worst case of one row, NaN where it is missing."""
    i, r = find_row(block, beta, adv)
    if r is None:
        return (np.nan,) * 3
    v = 100.0 * float(r["worst_case"])
    band = dig(iv, "rows", i, "worst_case")
    if isinstance(band, list) and len(band) == 2:
        return v, 100.0 * band[0], 100.0 * band[1]
    return v, v, v


def _bars(ax, x, pts, style, width):
    v = np.array([p[0] for p in pts])
    err = np.vstack([np.maximum(v - [p[1] for p in pts], 0.0),
                     np.maximum(np.array([p[2] for p in pts]) - v, 0.0)])
    label, color, hatch = style
    ax.bar(x, v, width, yerr=err, color=color, hatch=hatch, edgecolor="white", lw=0,
           capsize=3, label=label)


@draws("control")
def plot_control(output: Output, block: dict, extras: Extras = Extras()) -> Figure:
    """One panel per training attack (FGSM, PGD); per cap two bars, true-gradient and BPDA
    adversarial training (95% intervals as error bars), and the uncapped twin's worst case as
    a dashed line with its interval as a band. Without a ``suite`` block only the BPDA bars."""
    suite, suite_iv = extras.reads.get("suite", (None, None))
    advs = list(dict.fromkeys(r["adv_training"] for r in block["rows"]))
    fig = new_figure((11.0, 4.4))
    axes = np.atleast_1d(fig.subplots(1, max(len(advs), 1), sharey=True))
    for ax, adv in zip(axes, advs):
        betas = [r["beta"] for r in block["rows"] if r["adv_training"] == adv]
        x = np.arange(len(betas))
        _bars(ax, x - 0.2, [_point(suite, suite_iv, b, adv) for b in betas], TRUE, 0.4)
        _bars(ax, x + 0.2, [_point(block, extras.iv, b, adv) for b in betas], BPDA, 0.4)
        v, lo, hi = _point(suite, suite_iv, None, adv)
        if np.isfinite(v):
            ax.axhline(v, color=TWIN[1], ls="--", lw=1.2, label=TWIN[0])
            ax.axhspan(lo, hi, color=TWIN[1], alpha=BAND_ALPHA * 0.6, lw=0)
        ax.set_xticks(x)
        ax.set_xticklabels([f"β={beta_key(b)}" for b in betas])
        where = "" if suite else " (suite not in this summary)"
        ax.set_title(f"trained with {adv.upper()}{where}", fontsize=10)
        ax.set_ylim(0, 100)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylabel(f"worst-case robust accuracy at ε={float(block['eps']):g} (%)")
    legend_below(fig, axes[0], ncol=3)
    fig.suptitle(output.title, fontsize=10)
    return fig


@captions("control")
def control_caption(output, block: dict, extras: Extras) -> str:
    n = sorted({int(r["n"]) for r in block["rows"]})
    suite = extras.reads.get("suite", (None, None))[0]
    return sentences(
        f"Worst case over the standard suite at ε={float(block['eps']):g} (correct clean and "
        f"under every attack) on the same {', '.join(map(str, n))} test images per seed for "
        "every network. Per cap β of HL2: the network adversarially trained as in Table 1 "
        "(examples made with the true gradient, plain bars) and the same network adversarially "
        f"trained with examples made through the cap (BPDA surrogate {block['surrogate']!r}, "
        "hatched); dashed: the uncapped network with the same adversarial training"
        + ("" if suite else "; the suite block, which holds the first and the last, is not in "
           "this summary"),
        settings_text(extras), bands_text(extras, "Error bars and band"))
