"""The title question across eps (Figure 19, ours): each twin pair's worst case against eps.

Small multiples: one panel per capped network (rows: max value β, from large to small; columns:
adversarial training), each holding the capped network's worst-case accuracy (solid) and its
uncapped twin's (same adversarial training, dashed), at every eps of the ``title_eps`` block
and at the suite's own eps (the ``suite`` block, ``Output.reads``), with 95% error bars where
the summary has intervals.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..experiments import Output
from ..runner.summary import beta_key
from .captions import bands_text, sentences, settings_text
from .common import Extras, captions, dig, draws, missing_panel, percent_panels
from .suite import ADV_PANELS
from .style import legend_below

CAPPED = dict(ls="-", marker="o", ms=4, lw=1.5, color="tab:red", capsize=2)
TWIN = dict(ls="--", marker="s", ms=3.5, lw=1.2, color="tab:blue", capsize=2)
#: The twin's points sit this far right of the capped network's (eps units), so that their
#: error bars do not hide each other.
NUDGE = 0.003


def _key(row) -> tuple:
    beta = row["beta"]
    return (None if beta is None else round(float(beta), 9), row["adv_training"])


def points(block: dict, iv, reads: dict | None) -> dict:
    """``{(beta, adv): [(eps, worst, lo, hi)]}`` sorted by eps: the block's rows and the suite's
    (``reads["suite"]``); lo/hi NaN without an interval."""
    out: dict = {}

    def add(rows, ivs, eps_of):
        for i, r in enumerate(rows):
            b = dig(ivs, i, "worst_case")
            lo, hi = (float(b[0]), float(b[1])) if isinstance(b, list) and None not in b \
                else (np.nan, np.nan)
            w = r["worst_case"]
            out.setdefault(_key(r), []).append(
                (float(eps_of(r)), np.nan if w is None else float(w), lo, hi))
    add(block["rows"], dig(iv, "rows"), lambda r: r["eps"])
    suite, suite_iv = (reads or {}).get("suite", (None, None))
    if suite and suite.get("rows"):
        add(suite["rows"], dig(suite_iv, "rows"), lambda r: suite["eps"])
    return {k: sorted(v) for k, v in out.items()}


def _draw(ax, pts, style, label, dx=0.0) -> None:
    a = np.array(pts, dtype=float).reshape(-1, 4)
    x, y = a[:, 0] + dx, 100.0 * a[:, 1]
    lo, hi = np.clip(100.0 * a[:, 2], 0, 100), np.clip(100.0 * a[:, 3], 0, 100)
    err = np.vstack([np.where(np.isfinite(lo), y - lo, 0.0),
                     np.where(np.isfinite(hi), hi - y, 0.0)])
    ax.errorbar(x, y, yerr=np.clip(err, 0.0, None), label=label, **style)


@draws("title_eps")
def plot_title_eps(output: Output, block: dict, extras: Extras = Extras()) -> Figure:
    """Worst-case accuracy (%) against eps, one panel per capped network: the capped network
    (solid) and its uncapped twin (dashed), error bars the 95% intervals (module doc)."""
    pts = points(block, extras.iv, extras.reads)
    advs = [p for p in ADV_PANELS if any(k[1] == p[0] for k in pts)]
    advs += [(a, f"{a} adversarial training") for a in dict.fromkeys(k[1] for k in pts)
             if a not in dict(ADV_PANELS)]
    betas = sorted({k[0] for k in pts if k[0] is not None}, reverse=True)
    fig, axes = percent_panels(len(betas), len(advs))
    for r, beta in enumerate(betas):
        for c, (adv, adv_title) in enumerate(advs):
            ax = axes[r][c]
            ax.set_title(adv_title if r == 0 else "", fontsize=9)
            if (beta, adv) not in pts:
                missing_panel(ax)
                continue
            _draw(ax, pts[(beta, adv)], CAPPED, "capped network, worst case")
            if (None, adv) in pts:
                _draw(ax, pts[(None, adv)], TWIN, "uncapped twin, worst case", NUDGE)
        axes[r][0].set_ylabel(f"β={beta_key(beta)}\nworst case (%)", fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("eps (L∞)")
    legend_below(fig, axes.flat, fontsize=9, one_row=True)
    fig.suptitle(f"{output.title}\none panel per capped network: capped against its uncapped "
                 "twin", fontsize=10)
    return fig


@captions("title_eps")
def title_eps_caption(output, block: dict, extras: Extras) -> str:
    suite = (extras.reads or {}).get("suite", (None, None))[0]
    at = (f"eps {suite['eps']:g} from the suite's own rows" if suite
          else "the suite's own eps is not in this summary")
    return sentences(
        f"Worst-case robust accuracy against eps (L∞) on {block['rows'][0]['n']} test samples "
        f"per seed" if block["rows"] else "No rows",
        f"eps {', '.join(f'{e:g}' for e in block['eps'])} from this experiment, {at}; one "
        "panel per capped network (rows: max value β, columns: adversarial training), solid: the capped network, dashed: its uncapped twin "
        "(same adversarial training, drawn a little to the right); the worst case over the "
        "full standard suite", settings_text(extras), bands_text(extras, "Error bars"))
