"""The equal-budget suite's figure: robust accuracy against eps (Figure 13, ours).

Small multiples: one panel per network (rows: max value β, the uncapped network first;
columns: adversarial training), so no band hides another; each panel holds PGD as the paper
ran it and the suite's worst case, and, in a capped network's panel, the uncapped network's
worst case in grey for reference.
"""
from __future__ import annotations

from matplotlib.figure import Figure

from ..experiments import Output
from ..runner.summary import beta_key
from .common import Extras, band, dig, draws, floats, missing_panel, percent_panels
from .style import close_groups, coincide_note, legend_below, title_with_note

#: Adversarial trainings, one column each, in Table 1's order.
ADV_PANELS = (("none", "no adversarial training"), ("fgsm", "FGSM adversarial training"),
              ("pgd", "PGD adversarial training"))
#: How each measure is drawn: PGD as the paper ran it dashed, the suite's worst case solid.
MEASURES = (("pgd_paper", dict(ls="--", marker="x", ms=4, lw=1.2, color="tab:orange"),
             "PGD as the paper ran it"),
            ("worst_case", dict(ls="-", marker="o", ms=3.5, lw=1.5, color="tab:red"),
             "worst case (reduced suite)"))
REFERENCE = dict(ls="-.", lw=1.0, color="gray")
REFERENCE_LABEL = "uncapped ReLU, worst case"
#: The curves' names in a panel's note of the curves that coincide.
SHORT = {MEASURES[0][2]: "PGD", MEASURES[1][2]: "worst case", REFERENCE_LABEL: "uncapped"}


def _label(beta) -> str:
    return "uncapped ReLU" if beta is None else f"β={beta_key(beta)}"


def panels(block: dict) -> list[tuple[str, str]]:
    """The adversarial trainings the block has, in Table 1's order (unknown ones last)."""
    present = list(dict.fromkeys(n["adv_training"] for n in block["networks"]))
    known = [p for p in ADV_PANELS if p[0] in present]
    return known + [(a, f"{a} adversarial training") for a in present
                    if a not in dict(ADV_PANELS)]


def betas(block: dict) -> list:
    """The networks' max values, the uncapped network (None) first, then from large to small."""
    present = list(dict.fromkeys(n["beta"] for n in block["networks"]))
    return ([None] if None in present else []) + sorted((b for b in present if b is not None),
                                                       reverse=True)


@draws("eps_curve")
def plot_eps_curve(output: Output, block: dict, extras: Extras = Extras()) -> Figure:
    """Robust accuracy (%) against eps, one panel per network (all panels share both axes).

    Rows: max value β (uncapped first); columns: adversarial training. Dashed = PGD as the
    paper ran it, solid = the per-sample worst case over the reduced suite (the caption gives
    its budget), each with its 95% band when the summary has intervals; grey dash-dot = the
    uncapped network of the same training, worst case (no band). A dashed curve that stays high
    where the solid one falls is a masked gradient: PGD fails where another attack of the same
    budget succeeds. A panel names the curves that coincide in it; a network not in the block
    is an empty panel that says so.
    """
    x = floats(block["eps"])
    advs, rows = panels(block), betas(block)
    nets = {(n["beta"], n["adv_training"]): (i, n) for i, n in enumerate(block["networks"])}
    fig, axes = percent_panels(len(rows), len(advs))
    for r, beta in enumerate(rows):
        for c, (adv, adv_title) in enumerate(advs):
            ax = axes[r][c]
            title = adv_title if r == 0 else ""
            if (beta, adv) not in nets:
                missing_panel(ax)
                title_with_note(ax, title, "", fontsize=9)
                continue
            i, net = nets[(beta, adv)]
            series = {}
            if beta is not None and (None, adv) in nets:
                series[REFERENCE_LABEL] = 100.0 * floats(nets[(None, adv)][1]["worst_case"])
                ax.plot(x, series[REFERENCE_LABEL], label=REFERENCE_LABEL, **REFERENCE)
            for key, style, label in MEASURES:
                series[label] = 100.0 * floats(net[key])
                ax.plot(x, series[label], label=label, **style)
                band(ax, x, dig(extras.iv, "networks", i, key), style["color"], 100.0)
            note = coincide_note(close_groups(series, 100.0), short=SHORT.get)
            title_with_note(ax, title, note, fontsize=9)
        axes[r][0].set_ylabel(f"{_label(beta)}\nrobust accuracy (%)", fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("eps (L∞)")
    legend_below(fig, axes.flat, fontsize=9, one_row=True)
    fig.suptitle(f"{output.title}\none panel per network: PGD as the paper ran it against the "
                 "suite's worst case", fontsize=10)
    return fig
