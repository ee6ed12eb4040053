"""The drawers of the masking experiments: Figure 7 from data (``landscape``: zero-gradient
search with a zero gradient already at x, succeeding and failing) and the softmax saturation
curves (``masking``)."""
from __future__ import annotations

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ..experiments import Output
from ..paper import FIG7_CASES as CASES   # Figure 7's cases in words, in drawing order
from .common import Extras, band, dig, draws, floats, new_figure
from .style import close_groups, coincide_note, legend_right, title_with_note

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


def draw_case(ax, zoom, land: dict, levels, eps: float):
    """One case's two panels: on ``ax`` the loss (filled contours), the plateau (hatched), the
    eps box (red dots) and the paths (:func:`draw_paths`); on ``zoom`` the same paths on the
    loss, zoomed on them (ours: the projected paths are short beside the slice)."""
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
    zoom.contourf(a, b, loss, levels=levels, cmap="viridis")
    if flat.any():
        zoom.contourf(a, b, flat, levels=[0.5, 1.5], colors="none", hatches=["///"])
    draw_paths(zoom, land)
    zoom.set_xlim(-half, half)
    zoom.set_ylim(-half, half)
    zoom.locator_params(nbins=4)
    zoom.tick_params(labelsize=8)
    zoom.set_title(f"zoom on the paths: ±{half:.2g}", fontsize=9)
    ax.set_title(f"{CASES[land['case']]}: test image #{land['index']} (label "
                 f"{land['label']})\nplain PGD {'succeeded' if land['pgd_success'] else 'failed'}"
                 f"; {search_words(land)}; plateau {100.0 * land['plateau_fraction']:.0f}%",
                 fontsize=8)
    return filled


def no_image(ax, zoom, title: str, n_test) -> None:
    """The panels of a case that no image of the subset meets: they say so in words."""
    ax.set_title(f"{title}\n(no image)", fontsize=8)
    for panel in (ax, zoom):
        panel.set_facecolor("whitesmoke")
        panel.text(0.5, 0.5, f"no image of the {n_test}\nin the subset meets this case",
                   transform=panel.transAxes, ha="center", va="center", fontsize=10)
    zoom.set_xticks([])    # the top panel shares its ticks with the other cases': kept
    zoom.set_yticks([])


LEGEND = (("eps box", dict(color="red", ls=":", lw=1.2)),
          ("clean image x", dict(marker="o", color="white", mec="black", ls="none")),
          ("plain PGD", dict(marker="o", color="orange")),
          ("zero-gradient search", dict(marker="s", color="cyan")),
          ("x to the zero-gradient point", dict(color="red", ls="--")),
          ("succeeded", dict(marker="*", ms=12, color="gray", mec="black", ls="none")),
          ("failed", dict(marker="X", ms=10, color="gray", mec="black", ls="none")))


@draws("landscape")
def plot_landscape(output: Output, block: dict, extras: Extras = Extras()) -> Figure:
    """Figure 7 from data: one column per case (at_x, succeeds, fails); top row the slice on
    shared axes and one shared loss colour scale, bottom row zoomed on the paths
    (:func:`draw_case`); a case with no image has panels that say so. The hatched plateau:
    grid points where the true input gradient is exactly zero. The legend lies below."""
    cases = block["cases"]
    levels = loss_levels(cases.values())
    fig = new_figure((15.0, 9.0))
    axes = fig.subplots(2, len(CASES), gridspec_kw=dict(height_ratios=[1.0, 0.8]))
    for ax in axes[0][1:]:
        ax.sharex(axes[0][0])
        ax.sharey(axes[0][0])
    filled = None
    for ax, zoom, (case, title) in zip(axes[0], axes[1], CASES.items()):
        land = cases.get(case)
        if land is None:
            no_image(ax, zoom, title, block["n_test"])
            continue
        filled = draw_case(ax, zoom, land, levels, float(block["eps"]))
        ax.set_xlabel("a (along u: sign of the BPDA gradient at x)")
        zoom.set_xlabel("a")
    half = max((abs(float(c["a"][0])) for c in cases.values() if c is not None), default=0.15)
    axes[0][0].set_xlim(-half, half)
    axes[0][0].set_ylim(-half, half)
    axes[0][0].set_ylabel("b (along v: random signs)")
    axes[1][0].set_ylabel("b")
    if filled is not None:
        fig.colorbar(filled, ax=list(axes.flat), label="cross-entropy loss (one scale)",
                     format="%.4g", shrink=0.8)
    fig.legend([Line2D([], [], **kw) for _, kw in LEGEND], [n for n, _ in LEGEND],
               fontsize=9, loc="outside lower center", ncol=len(LEGEND), frameon=False)
    fig.suptitle(f"{output.title}\n{block['network']} network, {block['capped_layer']} capped "
                 f"at β={block['beta']:g}; hatched: exactly zero input gradient", fontsize=10)
    return fig


#: The zero-gradient causes of the masking block: colour and marker.
CAUSES = {"cap": ("tab:blue", "o"), "softmax": ("tab:red", "s"), "both": ("tab:purple", "^"),
          "any": ("dimgray", "D"), "saturated": ("tab:olive", "v")}
#: float32 solid with filled markers; float64 dashed, hollow markers, a lighter shade.
DTYPES = (("f32", "float32", dict(ls="-")), ("f64", "float64", dict(ls="--", mfc="white")))
#: The right panel's curves: field, label, colour (the loss), dtype key, marker.
ACCURACY = (("pgd_ce_f32", "PGD, CE, float32", "tab:orange", "f32", "o"),
            ("pgd_ce_f64", "PGD, CE, float64", "tab:orange", "f64", "o"),
            ("pgd_margin_f32", "PGD, margin, float32", "tab:green", "f32", "s"),
            ("pgd_margin_f64", "PGD, margin, float64", "tab:green", "f64", "s"),
            ("standard", "clean", "gray", None, ""))


def shade(color, t: str):
    """``color`` for dtype ``t``: as is for float32, a third of the way to white for float64."""
    rgb = np.array(to_rgb(color))
    return tuple(rgb if t == "f32" else 0.65 * rgb + 0.35)


def style(color, t, marker) -> dict:
    """A masking curve's style: the colour shaded by dtype ``t`` with the dtype's line style
    and marker fill (markers edged in the full colour); no dtype (clean): dotted."""
    if t is None:
        return dict(color=color, marker=marker, ls=":")
    return dict(color=shade(color, t), marker=marker, ms=4, mec=color,
                **{t2: kw for t2, _, kw in DTYPES}[t])


def cause_legend(ax) -> None:
    """The left panel's legend, right of it: one entry per cause (colour, marker), then one
    per dtype (line style) - not one per line."""
    handles = [Line2D([], [], color=c, marker=m, ls="-", ms=4) for c, m in CAUSES.values()]
    labels = [NAMES.get(c, c) for c in CAUSES]
    handles += [Line2D([], [], color="black", marker="o", ms=4, **kw) for _, _, kw in DTYPES]
    labels += [name for _, name, _ in DTYPES]
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0),
              borderaxespad=0.0, fontsize=8, frameon=False)


def dtype_note(block: dict) -> str:
    """"float64 ≈ float32: cap, any": the causes whose two dtypes' lines coincide."""
    same = [c for c in CAUSES if close_groups({"a": 100.0 * floats(block["zero_grad_f32"][c]),
                                               "b": 100.0 * floats(block["zero_grad_f64"][c])},
                                              100.0)]
    return f"float64 ≈ float32: {', '.join(NAMES.get(c, c) for c in same)}" if same else ""


@draws("masking")
def plot_masking(output: Output, block: dict, extras: Extras = Extras()) -> Figure:
    """Left: the fraction of exactly-zero input gradients by cause (and of p_y == 1.0): colour
    and marker = cause, solid = float32, dashed with hollow markers and a lighter shade =
    float64 (bands for float32 only). Right: robust accuracy under PGD, colour = loss, line
    style and shade = dtype as on the left: CE and the margin loss in float32 and float64 (the
    margin in float64 where the block has it: summaries before issue 24 lack it), and clean
    accuracy; 95% bands where the intervals have them. Each panel's legend lies to its right; curves that coincide are named
    in the panel's title."""
    x = floats(block["betas_eval"])
    fig = new_figure((13.0, 4.3))
    left, right = fig.subplots(1, 2)
    for t, dtype, _ in DTYPES:
        key = f"zero_grad_{t}"
        for cause, (color, marker) in CAUSES.items():
            left.plot(x, 100.0 * floats(block[key][cause]), **style(color, t, marker),
                      label=f"{NAMES.get(cause, cause)}, {dtype}")
            if t == "f32":   # float64's bands would hide float32's
                band(left, x, dig(extras.iv, key, cause), color, 100.0)
    left.set_ylabel("% of samples with a zero input gradient")
    title_with_note(left, "zero input gradients, by cause", dtype_note(block))
    series = {}
    for key, label, color, t, marker in ACCURACY:
        if key not in block:
            continue
        series[label] = 100.0 * floats(block[key])
        right.plot(x, series[label], label=label, **style(color, t, marker))
        band(right, x, dig(extras.iv, key), color, 100.0)
    right.set_ylabel("accuracy (%)")
    title_with_note(right, "robust accuracy under PGD",
                    coincide_note(close_groups(series, 100.0)))
    for ax in (left, right):
        ax.set_xlabel("max value β at evaluation")
        ax.grid(True, alpha=0.3)
    cause_legend(left)
    legend_right(right, fontsize=8)
    fig.suptitle(f"{output.title}\n{block['network']} network, {block['capped_layer']} "
                 f"trained at β={block['trained_beta']:g}", fontsize=10)
    return fig
