"""The drawers of the paper's sweeps over the evaluation max value: PGD (Figures 4-6) and the
distance to a zero gradient (Figures 8-10). One line per capped layer (:func:`.style.
layer_lines`); the layers whose lines coincide in a panel are named in its title."""
from __future__ import annotations

from matplotlib.figure import Figure

from ..experiments import Output
from ..runner.summary import beta_key
from .common import Extras, draws, new_figure
from .style import close_groups, coincide_note, layer_lines, legend_below, span, \
    title_with_note


def grid_notes(axes, drawn: dict) -> dict:
    """Per panel ``(r, c)``, the note of its coinciding layers; the tolerance is a share of
    the range of every panel that shares its y-axis (``drawn[(r, c)]``: layer -> values)."""
    notes = {}
    for (r, c), series in drawn.items():
        ax = axes[r][c]
        shared = [v for (r2, c2), s in drawn.items() for v in s.values()
                  if ax.get_shared_y_axes().joined(ax, axes[r2][c2])]
        groups = close_groups(series, span(shared))
        notes[(r, c)] = coincide_note(groups)
    return notes


#: Figures 4-6's columns: field, panel quantity (the y-axis label of every panel).
SWEEP_COLUMNS = (("standard", "standard accuracy (%)"), ("robust", "robust accuracy (%)"),
                 ("success", "PGD success rate (%)"))


@draws("pgd_sweep")
def plot_pgd_sweep(output: Output, block: dict, extras: Extras = Extras()) -> Figure:
    """Standard accuracy, robust accuracy and PGD success rate vs evaluation beta (Figs. 4-6).

    n x 3 grid: rows = initial (training) max value (each panel's title), columns = standard
    accuracy, robust accuracy, attack success rate (each panel's y label; each column shares
    its y-axis); x = max value used at evaluation; one line per capped layer with its 95% band.
    """
    inits = block["initial_betas"]
    nrows = max(len(inits), 1)
    fig = new_figure((11.0, 2.7 * nrows + 1.2))
    axes = fig.subplots(nrows, 3, squeeze=False, sharex=True, sharey="col")
    drawn = {}
    for r, b0 in enumerate(inits):
        for c, (key, label) in enumerate(SWEEP_COLUMNS):
            ax = axes[r][c]
            drawn[(r, c)] = layer_lines(ax, block, b0, key, extras, scale=100.0)
            ax.grid(True, alpha=0.3)
            ax.set_ylabel(label, fontsize=9)
            if r == nrows - 1:
                ax.set_xlabel("max value β at evaluation")
    notes = grid_notes(axes, drawn)
    for r, b0 in enumerate(inits):
        for c in range(3):
            title_with_note(axes[r][c], f"initial β={beta_key(b0)}", notes[(r, c)])
    legend_below(fig, axes[0][0], fontsize=9)
    fig.suptitle(output.title, fontsize=11)
    return fig


#: The rows of a zero-gradient figure: field, axis label, scale (rows whose field no curve
#: has are left out: older summaries lack the censored and common-sample distances).
ZERO_ROWS = (("distance", "mean L2 distance over\nthe samples found (paper's)", 1.0),
             ("distance_common", "mean L2 distance on\nthe common samples", 1.0),
             ("distance_censored", "mean L2 distance, not\nfound censored at the limit", 1.0),
             ("found_fraction", "samples with a zero\ngradient found (%)", 100.0))


@draws("zero_gradient")
def plot_zero_gradient(output: Output, block: dict, extras: Extras = Extras()) -> Figure:
    """Distance to the zero-gradient point found by PGD, vs eval beta (Figs. 8-10).

    Rows (each sharing its y-axis): the paper's mean distance over the samples found (a gap
    where none was), the distance on the samples common to every configuration and the one
    with "not found" censored at the step limit (when the block has them), and the fraction
    found; columns = initial max value; lines = capped layer, with their 95% bands.
    """
    inits = block["initial_betas"]
    rows = [r for r in ZERO_ROWS if any(r[0] in c for l in block["curves"].values()
                                        for c in l.values())]
    ncols = max(len(inits), 1)
    fig = new_figure((3.6 * ncols + 0.6, 2.7 * len(rows) + 1.2))
    axes = fig.subplots(len(rows), ncols, squeeze=False, sharex=True, sharey="row")
    drawn = {}
    for c, b0 in enumerate(inits):
        for r, (key, label, scale) in enumerate(rows):
            ax = axes[r][c]
            drawn[(r, c)] = layer_lines(ax, block, b0, key, extras, scale)
            ax.grid(True, alpha=0.3)
            if r == len(rows) - 1:
                ax.set_xlabel("max value β at evaluation")
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
    notes = grid_notes(axes, drawn)
    for c, b0 in enumerate(inits):
        for r in range(len(rows)):
            title_with_note(axes[r][c], f"initial β={beta_key(b0)}" if r == 0 else "",
                            notes[(r, c)])
    legend_below(fig, axes[0][0], fontsize=9)
    fig.suptitle(output.title, fontsize=11)
    return fig
