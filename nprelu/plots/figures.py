"""One drawing function per output kind, registered with ``@draws(kind)``."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np

from ..experiments import Output
from ..experiments.summary import beta_key
from .common import (LAYER_COLORS, LAYER_LABELS, Extras, band, beta_colors, coinciding, dig,
                     draws, floats, interval_note, layer_label, layer_legend, layer_lines,
                     new_figure, positive, save_figure, sweep_details)

UNCAPPED = "uncapped ReLU"


def _caption(extras: Extras) -> str:
    return (f"\n{extras.caption}" if extras.caption else "") + interval_note(extras)


def growth_series(block: dict) -> dict:
    """Per legend label (each beta, and the uncapped network), its values over every panel."""
    layers, norms = block["capped_layers"], ("linf", "l2")
    series = {UNCAPPED: [v for _ in layers for n in norms for v in floats(block["uncapped"][n])]}
    series.update({f"β={beta_key(b)}": [v for l in layers for n in norms
                                        for v in floats(block["capped"][l][beta_key(b)][n])]
                   for b in block["betas"]})
    return series   # the uncapped network first: a group it belongs to shows its dashed line


def legend_labels(block: dict) -> dict:
    """Each series' legend label: series that coincide in every panel share one entry,
    "uncapped ReLU, β=10, β=100 (coincide)"; the others keep their own (None: not listed)."""
    out = {}
    for group in coinciding(growth_series(block)):
        label = group[0] if len(group) == 1 else ", ".join(group) + " (coincide)"
        out.update({g: (label if i == 0 else None) for i, g in enumerate(group)})
    return out


@draws("growth")
def plot_growth(output: Output, block: dict, path, extras: Extras = Extras()) -> Path:
    """Clean-vs-adversarial activation distance at hidden layers 1..3 (Figure 1).

    2 x n grid: columns = capped layer, rows = L∞ and L2 distance (each row shares its y-axis);
    one line per max value beta with its 95% band, the uncapped network dashed; log-scale y
    (zero distances are gaps, said in the title). Series equal in every panel share one
    legend entry marked "(coincide)".
    """
    layers, betas = block["capped_layers"], block["betas"]
    colors = beta_colors(betas)
    norms = [("linf", "L∞ distance"), ("l2", "L2 distance")]
    ncols = max(len(layers), 1)
    fig = new_figure((3.0 * ncols + 0.6, 6.0))
    axes = fig.subplots(2, ncols, squeeze=False, sharex=True, sharey="row")
    labels, handles, masked = legend_labels(block), {}, False
    for col, layer in enumerate(layers):
        for row, (norm, norm_label) in enumerate(norms):
            ax = axes[row][col]
            for b in betas:
                raw = floats(block["capped"][layer][beta_key(b)][norm])
                masked |= bool(np.any(np.isfinite(raw) & ~(raw > 0)))
                x = np.arange(1, len(raw) + 1)
                (h,) = ax.plot(x, positive(raw), marker="o", ms=3.5, lw=1.4,
                               color=colors[beta_key(b)])
                band(ax, x, dig(extras.iv, "capped", layer, beta_key(b), norm),
                     colors[beta_key(b)], log=True)
                if labels.get(f"β={beta_key(b)}"):
                    handles.setdefault(labels[f"β={beta_key(b)}"], h)
            y = floats(block["uncapped"][norm])
            x = np.arange(1, len(y) + 1)
            (h,) = ax.plot(x, positive(y), ls="--", color="black", lw=1.2, marker="x", ms=4)
            band(ax, x, dig(extras.iv, "uncapped", norm), "black", log=True)
            if labels.get(UNCAPPED):
                handles.setdefault(labels[UNCAPPED], h)
            ax.set_yscale("log")
            ax.grid(True, which="major", alpha=0.3)
            ax.set_xticks([1, 2, 3], ["HL1", "HL2", "HL3"])
            if row == 0:
                ax.set_title(f"capped at {LAYER_LABELS.get(layer, layer)}", fontsize=10)
            else:
                ax.set_xlabel("hidden layer")
            if col == 0:
                ax.set_ylabel(f"mean {norm_label}")
    if handles:
        fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center",
                   ncol=min(len(handles), 4), fontsize=8, frameon=False)
    note = " — zero distances are not drawn on the log axis" if masked else ""
    fig.suptitle(f"{output.title}\ndistance between hidden-layer outputs of clean and PGD "
                 f"adversarial inputs (top L∞, bottom L2){note}{_caption(extras)}", fontsize=10)
    return save_figure(fig, path)


@draws("accuracy")
def plot_accuracy(output: Output, block: dict, path, extras: Extras = Extras()) -> Path:
    """Test accuracy vs max value beta (log x), one line per capped layer with 95% error bars
    (Figure 2); the uncapped network's accuracy dashed, with its band."""
    fig = new_figure((6.0, 4.3))
    ax = fig.add_subplot(1, 1, 1)
    betas = block["betas"]
    for layer in block["capped_layers"]:
        ys = np.array([100.0 * float(block["accuracy"][layer][beta_key(b)]) for b in betas])
        ivs = [dig(extras.iv, "accuracy", layer, beta_key(b)) for b in betas]
        color = LAYER_COLORS.get(layer)
        if all(isinstance(b, list) for b in ivs):
            err = np.array([[y - 100.0 * b[0], 100.0 * b[1] - y] for y, b in zip(ys, ivs)]).T
            ax.errorbar(betas, ys, yerr=np.clip(err, 0, None), marker="o", ms=4, capsize=3,
                        color=color, label=layer_label(layer))
        else:
            ax.plot(betas, ys, marker="o", ms=4, color=color, label=layer_label(layer))
    ax.axhline(100.0 * float(block["uncapped"]), ls="--", color="black", lw=1.2,
               label=UNCAPPED)
    unc = dig(extras.iv, "uncapped")
    if isinstance(unc, list) and unc[1] > unc[0]:
        ax.axhspan(100.0 * unc[0], 100.0 * unc[1], color="black", alpha=0.08, lw=0)
    ax.set_xscale("log")
    ax.set_xlabel("max value β")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(output.title + _caption(extras), fontsize=9)
    return save_figure(fig, path)


@draws("sigmoid")
def plot_sigmoid(output: Output, block: dict, path, extras: Extras = Extras()) -> Path:
    """sigmoid(c z) for several constants c (Figure 3; exact curves, no interval)."""
    z, cs = floats(block["z"]), block["c"]
    cmap = matplotlib.colormaps["plasma"]
    fig = new_figure((5.5, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    n = max(len(cs) - 1, 1)
    for i, c in enumerate(cs):
        ax.plot(z, floats(block["sigmoid"][beta_key(c)]), color=cmap(0.85 * i / n), lw=1.6,
                label=f"c={beta_key(c)}")
    ax.set_xlabel("z")
    ax.set_ylabel("σ(c·z)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(output.title, fontsize=10)
    return save_figure(fig, path)


@draws("pgd_sweep")
def plot_pgd_sweep(output: Output, block: dict, path, extras: Extras = Extras()) -> Path:
    """Standard accuracy, robust accuracy and PGD success rate vs evaluation beta (Figs. 4-6).

    n x 3 grid: rows = initial (training) max value, columns = standard accuracy, robust
    accuracy, attack success rate (each column shares its y-axis); x = max value used at
    evaluation; one line per capped layer with its 95% band.
    """
    inits = block["initial_betas"]
    cols = [("standard", "standard accuracy (%)"), ("robust", "robust accuracy (%)"),
            ("success", "attack success rate (%)")]
    nrows = max(len(inits), 1)
    fig = new_figure((11.0, 2.6 * nrows + 1.2))
    axes = fig.subplots(nrows, 3, squeeze=False, sharex=True, sharey="col")
    for r, b0 in enumerate(inits):
        for c, (key, label) in enumerate(cols):
            ax = axes[r][c]
            layer_lines(ax, block, b0, key, extras, scale=100.0)
            ax.grid(True, alpha=0.3)
            if r == 0:
                ax.set_title(label, fontsize=10)
            if c == 0:
                ax.set_ylabel(f"initial β={beta_key(b0)}\n{label.split(' (')[0]} (%)",
                              fontsize=9)
            if r == nrows - 1:
                ax.set_xlabel("max value β at evaluation")
    layer_legend(fig, block["capped_layers"])
    fig.suptitle(f"{output.title}\nstandard/robust accuracy and PGD success rate "
                 f"({sweep_details(block, extras)})", fontsize=10)
    return save_figure(fig, path)


#: The rows of a zero-gradient figure: field, axis label, scale (rows whose field no curve
#: has are left out: older summaries lack the censored and common-sample distances).
ZERO_ROWS = (("distance", "mean L2 distance over\nthe samples found (paper's)", 1.0),
             ("distance_common", "mean L2 distance on\nthe common samples", 1.0),
             ("distance_censored", "mean L2 distance, not\nfound censored at the limit", 1.0),
             ("found_fraction", "samples with a zero\ngradient found (%)", 100.0))


@draws("zero_gradient")
def plot_zero_gradient(output: Output, block: dict, path, extras: Extras = Extras()) -> Path:
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
    fig = new_figure((3.6 * ncols + 0.6, 2.6 * len(rows) + 1.2))
    axes = fig.subplots(len(rows), ncols, squeeze=False, sharex=True, sharey="row")
    for c, b0 in enumerate(inits):
        for r, (key, label, scale) in enumerate(rows):
            ax = axes[r][c]
            layer_lines(ax, block, b0, key, extras, scale)
            ax.grid(True, alpha=0.3)
            if r == 0:
                ax.set_title(f"initial β={beta_key(b0)}", fontsize=10)
            if r == len(rows) - 1:
                ax.set_xlabel("max value β at evaluation")
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
    layer_legend(fig, block["capped_layers"])
    steps = "" if extras.caption else f", ≤{block['max_steps']} PGD steps"
    fig.suptitle(f"{output.title}{steps}\n{sweep_details(block, extras)}", fontsize=10)
    return save_figure(fig, path)


@draws("sensitivity")
def plot_sensitivity(output: Output, block: dict, path, extras: Extras = Extras()) -> Path:
    """Sensitivity map of one digit per max value, on a shared colour scale (Figure 11).

    Every map uses ``vmin=0, vmax=max over all maps`` (the paper paints a reference pixel
    instead), with the digit's outline (its 0.5 contour) drawn over it. Panel titles give beta,
    the sum of the map (with its interval over seeds), and the share of test images whose
    gradient is exactly zero (``zero_fraction``): a zero map is masking, not robustness.
    """
    maps = [floats(m) for m in block["maps"]]
    zero = block.get("zero_fraction") or [None] * len(maps)
    panels = list(zip(block["betas"], maps, block["sums"], block["mean_sum_test"], zero,
                      strict=True))
    fig = new_figure((2.6 * (len(panels) + 1) + 0.9, 3.9))
    axes = fig.subplots(1, len(panels) + 1, squeeze=False)[0]
    finite = [m[np.isfinite(m)] for m in maps]
    vmax = max((float(f.max()) for f in finite if f.size), default=0.0)
    vmax = vmax if vmax > 0 else 1.0
    image = floats(block["image"])
    side = int(round(math.sqrt(image.size)))
    digit = image.reshape(side, side)
    axes[0].imshow(digit, cmap="gray_r", vmin=0.0, vmax=1.0)
    axes[0].set_title(f"input (label {block['label']})", fontsize=9)
    im = None
    for i, (ax, (b, m, total, mean, z)) in enumerate(zip(axes[1:], panels)):
        im = ax.imshow(m.reshape(side, side), cmap="Reds", vmin=0.0, vmax=vmax)
        if digit.max() > 0.5 > digit.min():
            ax.contour(digit, levels=[0.5], colors="tab:blue", linewidths=0.8)
        iv = dig(extras.iv, "sums", i)
        sum_text = f"{float(total):.4g}" + (f" [{iv[0]:.3g}, {iv[1]:.3g}]"
                                           if isinstance(iv, list) and iv[1] > iv[0] else "")
        title = f"β={beta_key(b)}: sum={sum_text}\n(test mean {float(mean):.4g})"
        if z is not None:
            title += f"\nzero gradient: {100 * float(z):.0f}% of test images"
        if not np.any(np.nan_to_num(m) > 0):
            ax.text(0.5, 0.5, "zero gradient:\nmasking,\nnot robustness", ha="center",
                    va="center", transform=ax.transAxes, fontsize=8, color="tab:blue")
        ax.set_title(title, fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if im is not None:
        fig.colorbar(im, ax=list(axes[1:]), shrink=0.8, label="sensitivity")
    fig.suptitle(f"{output.title} of a digit {block['label']} (test index "
                 f"{block['sample_index']}), red = more sensitive, blue = the digit's outline\n"
                 f"one colour scale 0..{vmax:.3g} for all maps (not the paper's reference "
                 f"pixel); test mean over {block['n_test']} images; a zero gradient is masking, "
                 f"not robustness{interval_note(extras)}", fontsize=8)
    return save_figure(fig, path)


@draws("adaptive_curve")
def plot_adaptive_curve(output: Output, block: dict, path, extras: Extras = Extras()) -> Path:
    """Robust accuracy vs evaluation beta, plain PGD against the worst case (Figure 12, ours).

    One panel per training cap (shared y-axis); solid = plain PGD (what Figure 4 plots),
    dashed = the per-sample worst case over every attack of the adaptive experiment (Figure 14:
    of the suite; the title says which), dotted =
    clean accuracy, each with its 95% band. The gap between solid and dashed is robustness PGD
    only appears to find.
    """
    inits = block["initial_betas"]
    x_eval = floats(block["betas_eval"])
    fig = new_figure((3.6 * max(len(inits), 1) + 0.6, 3.8))
    axes = fig.subplots(1, max(len(inits), 1), squeeze=False, sharey=True)[0]
    styles = (("standard", dict(ls=":", color="gray", label="clean")),
              ("pgd", dict(marker="o", ms=3, color="tab:orange", label="PGD")),
              ("worst_case", dict(marker="s", ms=3, ls="--", color="tab:red",
                                  label="worst case (see title)")))
    for ax, b0 in zip(axes, inits):
        c = block["curves"][beta_key(b0)]
        for key, style in styles:
            ax.plot(x_eval, 100.0 * floats(c[key]), **style)
            band(ax, x_eval, dig(extras.iv, "curves", beta_key(b0), key), style["color"], 100.0)
        ax.set_title(f"trained with β={beta_key(b0)}", fontsize=10)
        ax.set_xlabel("max value β at evaluation")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("accuracy (%)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{output.title}: {block['network']} network capped at "
                 f"{block['capped_layer']}, eps {block['eps']}, {block['n_test']} test samples"
                 f"{_caption(extras)}", fontsize=10)
    return save_figure(fig, path)
