"""The drawers of the masking experiments: Figure 7 from data (``landscape``: zero-gradient
search with a zero gradient already at x, succeeding and failing) and the softmax saturation
curves (``masking``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator
from matplotlib.lines import Line2D

from ..experiments import Output
from ..paper import FIG7_CASES as CASES   # Figure 7's cases in words, in drawing order
from .common import Extras, band, dig, draws, floats, interval_note, new_figure, save_figure

#: Legend names of the masking block's fractions (the others by their key).
NAMES = {"saturated": "p_y = 1 (any gradient)"}


def loss_levels(cases) -> np.ndarray:
    """About 20 contour levels at round values spanning the loss of every present case: one
    colour scale for all (its ticks read 0.5, 1.0, ... rather than 0.03439, 1.01, ...)."""
    losses = [np.array(c["loss"], dtype=float) for c in cases if c is not None]
    if not losses:
        return np.linspace(0.0, 1.0, 21)
    lo, hi = min(float(v.min()) for v in losses), max(float(v.max()) for v in losses)
    return MaxNLocator(20).tick_values(lo, hi if hi > lo else lo + 1.0)


def search_words(land: dict) -> str:
    return (f"search: zero gradient after {land['zero_steps']} step(s)" if land["zero_found"]
            else f"search: no zero gradient in {land['zero_steps']} steps")


def draw_paths(ax, land: dict) -> None:
    """x, plain PGD's path (circles) and the search's (squares), each ending in a star when it
    succeeded and a cross otherwise, and the paper's red dash from x to the zero-gradient
    point when the search found one."""
    ax.plot([0], [0], marker="o", color="white", mec="black", ms=6, ls="none")
    for key, ok, marker, color in (("pgd_path", land["pgd_success"], "o", "orange"),
                                   ("zero_path", land["zero_found"], "s", "cyan")):
        pts = np.array(land[key], dtype=float).reshape(-1, 2)
        ax.plot(pts[:, 0], pts[:, 1], marker=marker, ms=4, color=color, lw=1.2)
        ax.plot(pts[-1, 0], pts[-1, 1], marker="*" if ok else "X", ms=12, color=color,
                mec="black", ls="none")
    if land["zero_found"]:
        end = land["zero_path"][-1]
        ax.plot([0.0, end[0]], [0.0, end[1]], color="red", ls="--", lw=1.8, zorder=5)


def draw_case(ax, land: dict, levels, eps: float):
    """One case's panel: the loss (filled contours), the plateau (hatched), the eps box (red
    dots) and the paths (:func:`draw_paths`), again in an inset zoomed on them (ours: the
    projected paths are short beside the slice)."""
    a, b = floats(land["a"]), floats(land["b"])
    loss = np.array(land["loss"], dtype=float)
    flat = np.array(land["plateau"], dtype=float)
    filled = ax.contourf(a, b, loss, levels=levels, cmap="viridis")
    if flat.any():
        ax.contourf(a, b, flat, levels=[0.5, 1.5], colors="none", hatches=["///"])
    if 0.0 < flat.mean() < 1.0:
        ax.contour(a, b, flat, levels=[0.5], colors="white", linewidths=0.8)
    ax.plot([-eps, eps, eps, -eps, -eps], [-eps, -eps, eps, eps, -eps], color="red", lw=1.2,
            ls=":")
    draw_paths(ax, land)
    half = max(1.3 * float(np.abs(land["pgd_path"] + land["zero_path"]).max()), 0.005)
    inset = ax.inset_axes([0.6, 0.52, 0.37, 0.37])
    inset.contourf(a, b, loss, levels=levels, cmap="viridis")
    draw_paths(inset, land)
    inset.set_xlim(-half, half)
    inset.set_ylim(-half, half)
    inset.locator_params(nbins=3)
    inset.tick_params(labelsize=5, pad=1)
    inset.text(0.03, 0.95, f"zoom ±{half:.2g}", transform=inset.transAxes, fontsize=6,
               va="top", color="white")
    ax.set_title(f"{CASES[land['case']]}\ntest image #{land['index']} (label "
                 f"{land['label']}), plateau {100.0 * land['plateau_fraction']:.0f}% of the "
                 f"slice\nplain PGD {'succeeded' if land['pgd_success'] else 'failed'}; "
                 f"{search_words(land)}", fontsize=8)
    return filled


LEGEND = (("eps box", dict(color="red", ls=":", lw=1.2)),
          ("clean image x", dict(marker="o", color="white", mec="black", ls="none")),
          ("plain PGD", dict(marker="o", color="orange")),
          ("zero-gradient search", dict(marker="s", color="cyan")),
          ("x to the zero-gradient point", dict(color="red", ls="--")),
          ("succeeded", dict(marker="*", ms=12, color="gray", mec="black", ls="none")),
          ("failed", dict(marker="X", ms=10, color="gray", mec="black", ls="none")))


@draws("landscape")
def plot_landscape(output: Output, block: dict, path, extras: Extras = Extras()) -> Path:
    """Figure 7 from data: one panel per case (at_x, succeeds, fails) on shared axes and one
    shared loss colour scale (:func:`draw_case`); a case with no image is an empty panel that
    says so. The hatched plateau: grid points where the true input gradient is exactly zero."""
    cases = block["cases"]
    levels = loss_levels(cases.values())
    fig = new_figure((15.0, 5.0))
    axes = fig.subplots(1, len(CASES), sharex=True, sharey=True)
    filled = None
    for ax, (case, title) in zip(axes, CASES.items()):
        land = cases.get(case)
        if land is None:
            ax.set_title(f"{title}\n(no image)", fontsize=8)
            ax.text(0.5, 0.5, f"no image of the {block['n_test']}\nin the subset meets it",
                    transform=ax.transAxes, ha="center", va="center", fontsize=10)
            continue
        filled = draw_case(ax, land, levels, float(block["eps"]))
    half = max((abs(float(c["a"][0])) for c in cases.values() if c is not None), default=0.15)
    axes[0].set_xlim(-half, half)
    axes[0].set_ylim(-half, half)
    for ax in axes:
        ax.set_xlabel("a (along u: sign of the BPDA gradient at x)")
    axes[0].set_ylabel("b (along v: random signs)")
    if filled is not None:
        fig.colorbar(filled, ax=list(axes), label="cross-entropy loss (one scale)",
                     format="%.4g")
    axes[0].legend([Line2D([], [], **kw) for _, kw in LEGEND], [n for n, _ in LEGEND],
                   fontsize=7, loc="lower left", facecolor="lightgray", framealpha=0.9)
    fig.suptitle(f"{output.title}\n{block['network']} network, {block['capped_layer']} capped "
                 f"at β={block['beta']:g}; hatched: exactly zero input gradient; the first "
                 f"seed's images of its {block['n_test']}-image subset", fontsize=9)
    return save_figure(fig, path)


@draws("masking")
def plot_masking(output: Output, block: dict, path, extras: Extras = Extras()) -> Path:
    """Left: the fraction of exactly-zero input gradients by cause (and of p_y == 1.0), float32
    (solid) and float64 (dashed; bands for float32 only). Right: robust accuracy under PGD with
    CE in float32, the margin loss in float32 and CE in float64, with clean accuracy; 95% bands
    where the intervals have them."""
    x = floats(block["betas_eval"])
    fig = new_figure((10.0, 4.0))
    left, right = fig.subplots(1, 2)
    colors = {"cap": "tab:blue", "softmax": "tab:red", "both": "tab:purple", "any": "gray",
              "saturated": "tab:olive"}
    for t, ls in (("f32", "-"), ("f64", "--")):
        for cause, color in colors.items():
            key = f"zero_grad_{t}"
            left.plot(x, 100.0 * floats(block[key][cause]), ls=ls, color=color, marker=".",
                      label=f"{NAMES.get(cause, cause)} ({t.replace('f', 'float')})")
            if t == "f32":   # float64's bands would hide float32's
                band(left, x, dig(extras.iv, key, cause), color, 100.0)
    left.set_ylabel("% of samples (zero input gradient, by cause)")
    left.legend(fontsize=7, ncol=2)
    for key, color, label in (("pgd_ce_f32", "tab:orange", "PGD, CE, float32"),
                              ("pgd_margin_f32", "tab:green", "PGD, margin, float32"),
                              ("pgd_ce_f64", "tab:brown", "PGD, CE, float64"),
                              ("standard", "gray", "clean")):
        right.plot(x, 100.0 * floats(block[key]), color=color, marker="o", ms=3, label=label,
                   ls=":" if key == "standard" else "-")
        band(right, x, dig(extras.iv, key), color, 100.0)
    right.set_ylabel("accuracy (%)")
    right.legend(fontsize=7)
    for ax in (left, right):
        ax.set_xlabel("max value β at evaluation")
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"{output.title}: {block['network']} network, {block['capped_layer']} trained "
                 f"at β={block['trained_beta']:g}, {block['n']} test samples"
                 f"{interval_note(extras)}", fontsize=9)
    return save_figure(fig, path)
