"""The drawers of the masking experiments: Figure 7 from data (``landscape``) and the softmax
saturation curves (``masking``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..experiments import Output
from .common import Extras, band, dig, draws, floats, interval_note, new_figure, save_figure

#: Legend names of the masking block's fractions (the others by their key).
NAMES = {"saturated": "p_y = 1 (any gradient)"}


@draws("landscape")
def plot_landscape(output: Output, block: dict, path, extras: Extras = Extras()) -> Path:
    """The cross-entropy over the slice x + a u + b v (filled contours), the grid points where
    the true input gradient is exactly zero hatched (the plateau), the eps box |a|, |b| <= eps,
    plain PGD's path (circles) and the zero-gradient search's (squares), each ending in a star
    when it succeeded (PGD: misclassified; search: zero gradient found) and a cross otherwise."""
    land = block["landscape"]
    a, b = floats(land["a"]), floats(land["b"])
    loss = np.array(land["loss"], dtype=float)
    flat = np.array(land["plateau"], dtype=float)
    fig = new_figure((6.4, 5.6))
    ax = fig.subplots()
    filled = ax.contourf(a, b, loss, levels=20, cmap="viridis")
    fig.colorbar(filled, ax=ax, label="cross-entropy loss")
    if flat.any():
        ax.contourf(a, b, flat, levels=[0.5, 1.5], colors="none", hatches=["///"])
        ax.contour(a, b, flat, levels=[0.5], colors="white", linewidths=0.8)
    eps = float(block["eps"])
    ax.plot([-eps, eps, eps, -eps, -eps], [-eps, -eps, eps, eps, -eps], color="red", lw=1.2,
            ls="--", label=f"eps box ({eps:g})")
    ax.plot([0], [0], marker="o", color="white", mec="black", ms=8, ls="none",
            label="clean image x")
    for key, ok, marker, color, name in (
            ("pgd_path", land["pgd_success"], "o", "orange", "plain PGD"),
            ("zero_path", land["zero_found"], "s", "cyan", "zero-gradient search")):
        pts = np.array(land[key], dtype=float).reshape(-1, 2)
        ax.plot(pts[:, 0], pts[:, 1], marker=marker, ms=4, color=color, lw=1.2,
                label=f"{name} ({'succeeded' if ok else 'failed'}, {len(pts) - 1} steps)")
        ax.plot(pts[-1, 0], pts[-1, 1], marker="*" if ok else "X", ms=12, color=color,
                mec="black", ls="none")
    ax.set_xlim(a[0], a[-1])
    ax.set_ylim(b[0], b[-1])
    ax.set_xlabel("a (along u: sign of the BPDA gradient at x)")
    ax.set_ylabel("b (along v: random signs)")
    ax.legend(fontsize=7, loc="lower left", framealpha=0.8)
    fig.suptitle(f"{output.title}\n{block['network']} network, {block['capped_layer']} capped at "
                 f"β={block['beta']:g}; test image #{land['index']} of the subset (label "
                 f"{land['label']}); hatched: exactly zero gradient "
                 f"({100.0 * land['plateau_fraction']:.0f}% of the slice)", fontsize=9)
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
