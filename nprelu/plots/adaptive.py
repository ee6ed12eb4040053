"""The drawer of plain PGD against the worst case over every attack, per training cap
(Figures 12 and 14, ours)."""
from __future__ import annotations

from matplotlib.figure import Figure

from ..experiments import Output
from ..runner.summary import beta_key
from .common import Extras, band, dig, draws, floats, new_figure
from .style import attack_name, close_groups, coincide_note, legend_below, title_with_note

#: The curves of a panel: field, style (colour, line style and marker differ pairwise).
CURVES = (("standard", dict(ls=":", color="gray", label="clean")),
          ("pgd", dict(marker="o", ms=3.5, color="tab:orange", label=attack_name("pgd"))),
          ("worst_case", dict(marker="s", ms=3.5, ls="--", color="tab:red", mfc="white",
                              label="worst case over every attack")))


@draws("adaptive_curve")
def plot_adaptive_curve(output: Output, block: dict, extras: Extras = Extras()) -> Figure:
    """Robust accuracy vs evaluation beta, plain PGD against the worst case (Figure 12, ours).

    One panel per training cap (shared y-axis); solid = plain PGD (what Figure 4 plots),
    dashed = the per-sample worst case over every attack of the adaptive experiment (Figure 14:
    of the suite; the caption says which), dotted = clean accuracy, each with its 95% band.
    The gap between solid and dashed is robustness PGD only appears to find; curves that
    coincide are named in the panel's title.
    """
    inits = block["initial_betas"]
    x_eval = floats(block["betas_eval"])
    fig = new_figure((3.6 * max(len(inits), 1) + 0.6, 4.0))
    axes = fig.subplots(1, max(len(inits), 1), squeeze=False, sharey=True)[0]
    for ax, b0 in zip(axes, inits):
        c = block["curves"][beta_key(b0)]
        series = {}
        for key, style in CURVES:
            series[style["label"]] = 100.0 * floats(c[key])
            ax.plot(x_eval, series[style["label"]], **style)
            band(ax, x_eval, dig(extras.iv, "curves", beta_key(b0), key), style["color"], 100.0)
        title_with_note(ax, f"trained with β={beta_key(b0)}",
                        coincide_note(close_groups(series, 100.0)))
        ax.set_xlabel("max value β at evaluation")
        ax.set_ylim(-2.0, 102.0)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("accuracy (%)")
    legend_below(fig, axes[0], fontsize=9)
    fig.suptitle(f"{output.title}\n{block['network']} network capped at "
                 f"{block['capped_layer']}, eps {block['eps']}", fontsize=10)
    return fig
