"""The drawers of the paper's Figures 1-3: perturbation growth, accuracy, the sigmoid."""
from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from ..experiments import Output
from ..runner.summary import beta_key
from .common import Extras, band, coinciding, dig, draws, floats, new_figure, positive
from .style import (LAYER_LABELS, LINESTYLES, beta_colors, beta_markers,
                    close_groups, coincide_note, layer_label, layer_style, legend_right, span,
                    title_with_note)

UNCAPPED = "uncapped ReLU"


def growth_series(block: dict) -> dict:
    """Per legend label (each beta, and the uncapped network), its values over every panel."""
    layers, norms = block["capped_layers"], ("linf", "l2")
    series = {UNCAPPED: [v for _ in layers for n in norms for v in floats(block["uncapped"][n])]}
    series.update({f"β={beta_key(b)}": [v for l in layers for n in norms
                                        for v in floats(block["capped"][l][beta_key(b)][n])]
                   for b in block["betas"]})
    return series   # the uncapped network first: a group it belongs to is named after it


def identical_groups(block: dict) -> list[list[str]]:
    """Groups of series equal in every panel (the caption names them), e.g. ``[["uncapped
    ReLU", "β=100"]]``."""
    return [g for g in coinciding(growth_series(block)) if len(g) > 1]


def growth_note(block: dict, layer: str) -> str:
    """The lines that coincide in column ``layer`` (both rows, each within its row's range in
    decades): "β=10, β=100 on the uncapped line; β=1 ≈ β=0.1"."""
    spans = {n: span([block["uncapped"][n]] + [block["capped"][l][beta_key(b)][n]
                                               for l in block["capped_layers"]
                                               for b in block["betas"]], log=True)
             for n in ("linf", "l2")}
    series = {UNCAPPED: np.concatenate([np.log10(positive(floats(block["uncapped"][n])))
                                        / spans[n] for n in spans])}
    series.update({f"β={beta_key(b)}": np.concatenate(
        [np.log10(positive(floats(block["capped"][layer][beta_key(b)][n]))) / spans[n]
         for n in spans]) for b in block["betas"]})
    groups = close_groups(series, 1.0)
    on_uncapped = [g for g in groups if g[0] == UNCAPPED]
    note = ", ".join(on_uncapped[0][1:]) + " on the uncapped line" if on_uncapped else ""
    rest = coincide_note([g for g in groups if g[0] != UNCAPPED])
    return "; ".join(t for t in (note, rest) if t)


@draws("growth")
def plot_growth(output: Output, block: dict, extras: Extras = Extras()) -> Figure:
    """Clean-vs-adversarial activation distance at hidden layers 1..3 (Figure 1).

    2 x n grid: columns = capped layer, rows = L∞ and L2 distance (each row shares its y-axis);
    one line per max value beta (own colour and marker) with its 95% band, the uncapped
    network black and dashed; log-scale y (zero distances are gaps). Lines that coincide in a
    column are named in its title (:func:`growth_note`).
    """
    layers, betas = block["capped_layers"], block["betas"]
    colors, markers = beta_colors(betas), beta_markers(betas)
    norms = [("linf", "L∞ distance"), ("l2", "L2 distance")]
    ncols = max(len(layers), 1)
    fig = new_figure((3.0 * ncols + 1.8, 6.0))
    axes = fig.subplots(2, ncols, squeeze=False, sharex=True, sharey="row")
    for col, layer in enumerate(layers):
        for row, (norm, norm_label) in enumerate(norms):
            ax = axes[row][col]
            y = floats(block["uncapped"][norm])
            x = np.arange(1, len(y) + 1)
            ax.plot(x, positive(y), ls="--", color="black", lw=1.2, marker="x", ms=7,
                    label=UNCAPPED, zorder=1.5)
            band(ax, x, dig(extras.iv, "uncapped", norm), "black", log=True)
            for b in betas:
                k = beta_key(b)
                raw = floats(block["capped"][layer][k][norm])
                ax.plot(x, positive(raw), marker=markers[k], ms=5, lw=1.4, color=colors[k],
                        mfc="white", label=f"β={k}")
                band(ax, x, dig(extras.iv, "capped", layer, k, norm), colors[k], log=True)
            ax.set_yscale("log")
            ax.grid(True, which="major", alpha=0.3)
            ax.set_xticks([1, 2, 3], ["HL1", "HL2", "HL3"])
            if row == 0:
                title_with_note(ax, f"capped at {LAYER_LABELS.get(layer, layer)}",
                                growth_note(block, layer), fontsize=10)
            else:
                ax.set_xlabel("hidden layer")
            if col == 0:
                ax.set_ylabel(f"mean {norm_label}")
    legend_right(axes[0][-1], fontsize=9)
    fig.suptitle(f"{output.title}\ndistance between clean and adversarial hidden-layer "
                 "outputs", fontsize=10)
    return fig


@draws("accuracy")
def plot_accuracy(output: Output, block: dict, extras: Extras = Extras()) -> Figure:
    """Test accuracy vs max value beta (log x), one line per capped layer (own marker) with
    95% error bars (Figure 2); the uncapped network's accuracy dashed, with its band."""
    fig = new_figure((7.2, 4.3))
    ax = fig.add_subplot(1, 1, 1)
    betas = block["betas"]
    for layer in block["capped_layers"]:
        ys = np.array([100.0 * float(block["accuracy"][layer][beta_key(b)]) for b in betas])
        ivs = [dig(extras.iv, "accuracy", layer, beta_key(b)) for b in betas]
        style = layer_style(layer)
        if all(isinstance(b, list) for b in ivs):
            err = np.array([[y - 100.0 * b[0], 100.0 * b[1] - y] for y, b in zip(ys, ivs)]).T
            ax.errorbar(betas, ys, yerr=np.clip(err, 0, None), capsize=3,
                        label=layer_label(layer), **style)
        else:
            ax.plot(betas, ys, label=layer_label(layer), **style)
    ax.axhline(100.0 * float(block["uncapped"]), ls="--", color="black", lw=1.2,
               label=UNCAPPED)
    unc = dig(extras.iv, "uncapped")
    if isinstance(unc, list) and unc[1] > unc[0]:
        ax.axhspan(100.0 * unc[0], 100.0 * unc[1], color="black", alpha=0.08, lw=0)
    ax.set_xscale("log")
    ax.set_xlabel("max value β")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, alpha=0.3)
    legend_right(ax)
    ax.set_title(output.title, fontsize=10)
    return fig


@draws("sigmoid")
def plot_sigmoid(output: Output, block: dict, extras: Extras = Extras()) -> Figure:
    """sigmoid(c z) for several constants c (Figure 3; exact curves, no interval), each in its
    own colour and line style."""
    z, cs = floats(block["z"]), block["c"]
    cmap = matplotlib.colormaps["plasma"]
    fig = new_figure((6.3, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    n = max(len(cs) - 1, 1)
    for i, c in enumerate(cs):
        ax.plot(z, floats(block["sigmoid"][beta_key(c)]), color=cmap(0.85 * i / n), lw=1.6,
                ls=LINESTYLES[i % len(LINESTYLES)], label=f"c={beta_key(c)}")
    ax.set_xlabel("z")
    ax.set_ylabel("σ(c·z)")
    ax.grid(True, alpha=0.3)
    legend_right(ax)
    ax.set_title(output.title, fontsize=10)
    return fig
