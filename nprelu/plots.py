"""One PNG per figure of the registry, drawn from the experiment ``summary`` (``summary.json``).

Draws only. Which blocks are figures, their file names and titles come from the one registry
(:data:`nprelu.experiments.OUTPUTS`): an output with a ``file`` is a figure, and its ``kind``
picks the function registered here with :func:`draws`. Figures 4, 5 and 6 (kind ``pgd_sweep``)
share one function, so adding a figure of an existing kind needs no change here.

A block's shape is :data:`nprelu.experiments.schema.SCHEMAS` of its kind; blocks are checked
against it before drawing and then read directly. ``null`` values that the schema allows
(``Opt``: e.g. no zero gradient found) become gaps in the lines.

Host-side module: NumPy and Matplotlib only. Figures are built as ``matplotlib.figure.Figure``
objects on an explicit Agg canvas, never through pyplot, so no display is needed, no global
figure state is kept, and the process-wide backend is left alone (no ``matplotlib.use``). Every
PNG is written atomically (``checkpoint.atomic_write_bytes``).

Conventions: accuracies and rates are fractions in [0, 1] in the summary and are drawn in
percent; ``beta`` is the paper's "max value" of the capped ReLU ``a(z, beta) = max(0, min(z,
beta))``; HL1/HL2/HL3 are the hidden layers, HL12/HL123 "all hidden layers capped".
"""
from __future__ import annotations

import io
import math
import warnings
from pathlib import Path
from typing import Callable

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .checkpoint import atomic_write_bytes
from .experiments import OUTPUTS, Output
from .experiments.schema import SCHEMAS, check
from .experiments.summary import beta_key

DPI = 85

LAYER_COLORS = {"HL1": "tab:blue", "HL2": "tab:orange", "HL3": "tab:green",
                "HL12": "tab:red", "HL123": "tab:red"}
LAYER_LABELS = {"HL12": "HL12 (both)", "HL123": "HL123 (all)"}

#: The drawing function of each output kind: ``fn(output, block, path) -> path``.
DRAWERS: dict[str, Callable[[Output, dict, Path], Path]] = {}


def draws(kind: str):
    """Register the decorated function as the one that draws blocks of ``kind``."""
    def register(fn):
        DRAWERS[kind] = fn
        return fn
    return register


def plot_all(summary: dict, out_dir, strict: bool = False) -> list[Path]:
    """Draw every figure of the registry whose block is in ``summary``; return the PNG paths.

    Each output with a ``file`` is drawn to ``out_dir / output.file`` by the function
    registered for its ``kind``; blocks absent from ``summary`` (``--only`` runs) are skipped.
    A figure that fails to draw (a block of the wrong shape included) is skipped with a
    :class:`RuntimeWarning` naming it, so one malformed block cannot cost the others; pass
    ``strict=True`` to raise instead (tests do).
    """
    out_dir = Path(out_dir)
    written: list[Path] = []
    for output in OUTPUTS.values():
        if output.file is None or output.key not in summary:
            continue
        block = summary[output.key]
        try:
            check(block, SCHEMAS[output.kind], output.key)
            written.append(DRAWERS[output.kind](output, block, out_dir / output.file))
        except Exception as exc:  # noqa: BLE001 - reported, and re-raised when strict
            if strict:
                raise
            warnings.warn(f"{output.key} ({output.file}) not drawn: {type(exc).__name__}: "
                          f"{exc}", RuntimeWarning, stacklevel=2)
    return written


# --------------------------------------------------------------------------- helpers

def _floats(values) -> np.ndarray:
    """A float array with None (JSON null) turned into NaN."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def _positive(values: np.ndarray) -> np.ndarray:
    """Values for a log axis: non-positive ones become NaN (a gap) instead of breaking it."""
    out = np.array(values, dtype=float)
    out[~(out > 0)] = np.nan
    return out


def _beta_colors(betas) -> dict:
    """One colour per beta key, ordered from small (dark) to large (light)."""
    cmap = matplotlib.colormaps["viridis"]
    ordered = sorted(betas)
    n = max(len(ordered) - 1, 1)
    return {beta_key(b): cmap(0.85 * i / n) for i, b in enumerate(ordered)}


def _layer_label(layer: str) -> str:
    """``capped HL12 (both)``: a legend label for the network capped at ``layer``."""
    return f"capped {LAYER_LABELS.get(layer, layer)}"


def _new_figure(figsize) -> Figure:
    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png_bytes(fig: Figure) -> bytes:
    """``fig`` as PNG bytes, palette-quantized (256 colours) with Pillow to keep files small.

    Line plots have few colours, so the 256-colour palette is visually lossless and cuts the
    file to about a third; without Pillow (a Matplotlib dependency) the RGBA PNG is returned.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    data = buf.getvalue()
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow ships with Matplotlib
        return data
    img = Image.open(io.BytesIO(data)).convert("RGB")
    img = img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def save_figure(fig: Figure, path) -> Path:
    """Render ``fig`` to a (small) PNG in memory and write it atomically to ``path``."""
    path = Path(path)
    atomic_write_bytes(path, _png_bytes(fig))
    return path


def _sweep_details(block: dict) -> str:
    """The network's layer sizes and the test samples, for a sweep's caption."""
    return (f"layer sizes {'-'.join(str(s) for s in block['sizes'])}, "
            f"{block['n_test']} test samples")


def _layer_lines(ax, block: dict, b0, key: str, scale: float = 1.0) -> None:
    """On ``ax``: ``curves[layer][b0][key]`` against the evaluation beta, one line per layer."""
    x = _floats(block["betas_eval"])
    for layer in block["capped_layers"]:
        y = scale * _floats(block["curves"][layer][beta_key(b0)][key])
        ax.plot(x, y, marker="o", ms=3, lw=1.3, color=LAYER_COLORS.get(layer),
                label=_layer_label(layer))


def _layer_legend(fig: Figure, layers) -> None:
    handles = [Line2D([], [], color=LAYER_COLORS.get(l), marker="o", ms=3,
                      label=_layer_label(l)) for l in layers]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=9,
                   frameon=False)


# --------------------------------------------------------------------------- one per kind

@draws("growth")
def plot_growth(output: Output, block: dict, path) -> Path:
    """Clean-vs-adversarial activation distance at hidden layers 1..3 (Figure 1).

    2 x n grid: columns = capped layer (HL1, HL2, HL3, HL123), rows = L∞ and L2 distance; one
    line per max value beta, the uncapped network dashed; log-scale y (zero distances are gaps,
    said in the title).
    """
    layers, betas = block["capped_layers"], block["betas"]
    colors = _beta_colors(betas)
    norms = [("linf", "L∞ distance"), ("l2", "L2 distance")]
    ncols = max(len(layers), 1)
    fig = _new_figure((3.0 * ncols + 0.6, 5.6))
    axes = fig.subplots(2, ncols, squeeze=False, sharex=True)
    handles = {}
    masked = False
    for col, layer in enumerate(layers):
        for row, (norm, norm_label) in enumerate(norms):
            ax = axes[row][col]
            for b in betas:
                raw = _floats(block["capped"][layer][beta_key(b)][norm])
                masked |= bool(np.any(np.isfinite(raw) & ~(raw > 0)))
                label = f"β={beta_key(b)}"
                (h,) = ax.plot(np.arange(1, len(raw) + 1), _positive(raw), marker="o", ms=3.5,
                               lw=1.4, color=colors[beta_key(b)], label=label)
                handles.setdefault(label, h)
            y = _positive(_floats(block["uncapped"][norm]))
            (h,) = ax.plot(np.arange(1, len(y) + 1), y, ls="--", color="black", lw=1.2,
                           marker="x", ms=4, label="uncapped ReLU")
            handles.setdefault("uncapped ReLU", h)
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
                   ncol=min(len(handles), 6), fontsize=8, frameon=False)
    note = " — zero distances are not drawn on the log axis" if masked else ""
    fig.suptitle(f"{output.title}\ndistance between hidden-layer outputs of clean and PGD "
                 f"adversarial inputs (top L∞, bottom L2){note}", fontsize=11)
    return save_figure(fig, path)


@draws("accuracy")
def plot_accuracy(output: Output, block: dict, path) -> Path:
    """Test accuracy vs max value beta (log x), one line per capped layer (Figure 2)."""
    fig = _new_figure((6.0, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    betas = block["betas"]
    for layer in block["capped_layers"]:
        ys = [100.0 * float(block["accuracy"][layer][beta_key(b)]) for b in betas]
        ax.plot(betas, ys, marker="o", ms=4, color=LAYER_COLORS.get(layer),
                label=_layer_label(layer))
    ax.axhline(100.0 * float(block["uncapped"]), ls="--", color="black", lw=1.2,
               label="uncapped ReLU")
    ax.set_xscale("log")
    ax.set_xlabel("max value β")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(output.title, fontsize=10)
    return save_figure(fig, path)


@draws("sigmoid")
def plot_sigmoid(output: Output, block: dict, path) -> Path:
    """sigmoid(c z) for several constants c (Figure 3)."""
    z, cs = _floats(block["z"]), block["c"]
    cmap = matplotlib.colormaps["plasma"]
    fig = _new_figure((5.5, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    n = max(len(cs) - 1, 1)
    for i, c in enumerate(cs):
        ax.plot(z, _floats(block["sigmoid"][beta_key(c)]), color=cmap(0.85 * i / n), lw=1.6,
                label=f"c={beta_key(c)}")
    ax.set_xlabel("z")
    ax.set_ylabel("σ(c·z)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(output.title, fontsize=10)
    return save_figure(fig, path)


@draws("pgd_sweep")
def plot_pgd_sweep(output: Output, block: dict, path) -> Path:
    """Standard accuracy, robust accuracy and PGD success rate vs evaluation beta (Figs. 4-6).

    n x 3 grid: rows = initial (training) max value, columns = standard accuracy, robust
    accuracy, attack success rate; x = max value used at evaluation; one line per capped layer.
    """
    inits = block["initial_betas"]
    cols = [("standard", "standard accuracy (%)"), ("robust", "robust accuracy (%)"),
            ("success", "attack success rate (%)")]
    nrows = max(len(inits), 1)
    fig = _new_figure((11.0, 2.6 * nrows + 0.8))
    axes = fig.subplots(nrows, 3, squeeze=False, sharex=True)
    for r, b0 in enumerate(inits):
        for c, (key, label) in enumerate(cols):
            ax = axes[r][c]
            _layer_lines(ax, block, b0, key, scale=100.0)
            ax.grid(True, alpha=0.3)
            if r == 0:
                ax.set_title(label, fontsize=10)
            if c == 0:
                ax.set_ylabel(f"initial β={beta_key(b0)}\n{label.split(' (')[0]} (%)",
                              fontsize=9)
            if r == nrows - 1:
                ax.set_xlabel("max value β at evaluation")
    _layer_legend(fig, block["capped_layers"])
    fig.suptitle(f"{output.title}\nstandard/robust accuracy and PGD success rate "
                 f"({_sweep_details(block)})", fontsize=10)
    return save_figure(fig, path)


@draws("zero_gradient")
def plot_zero_gradient(output: Output, block: dict, path) -> Path:
    """Average L2 distance to the zero-gradient point found by PGD, vs eval beta (Figs. 8-10).

    Grid: row 1 = mean distance over the samples where a zero gradient was found (null where
    none was: a gap), row 2 = the fraction of samples where one was found; columns = initial
    max value; lines = capped layer.
    """
    inits = block["initial_betas"]
    ncols = max(len(inits), 1)
    fig = _new_figure((3.6 * ncols + 0.6, 5.8))
    axes = fig.subplots(2, ncols, squeeze=False, sharex=True)
    rows = [("distance", "mean L2 distance\nto zero gradient", 1.0),
            ("found_fraction", "samples with a zero\ngradient found (%)", 100.0)]
    for c, b0 in enumerate(inits):
        for r, (key, label, scale) in enumerate(rows):
            ax = axes[r][c]
            _layer_lines(ax, block, b0, key, scale)
            ax.grid(True, alpha=0.3)
            if r == 0:
                ax.set_title(f"initial β={beta_key(b0)}", fontsize=10)
            else:
                ax.set_xlabel("max value β at evaluation")
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
    _layer_legend(fig, block["capped_layers"])
    fig.suptitle(f"{output.title} ({_sweep_details(block)}, ≤{block['max_steps']} PGD steps)",
                 fontsize=10)
    return save_figure(fig, path)


@draws("sensitivity")
def plot_sensitivity(output: Output, block: dict, path) -> Path:
    """Sensitivity map of one digit per max value, on a shared colour scale (Figure 11).

    The paper fixes the colour range with a reference pixel painted into each map; here every
    map uses the same ``vmin=0, vmax=max over all maps`` instead (stated in the title). Red =
    more sensitive. Panel titles give beta, the sum of the map and its mean over the test set.
    """
    maps = [_floats(m) for m in block["maps"]]
    panels = list(zip(block["betas"], maps, block["sums"], block["mean_sum_test"], strict=True))
    fig = _new_figure((2.6 * (len(panels) + 1) + 0.9, 3.4))
    axes = fig.subplots(1, len(panels) + 1, squeeze=False)[0]
    finite = [m[np.isfinite(m)] for m in maps]
    vmax = max((float(f.max()) for f in finite if f.size), default=0.0)
    vmax = vmax if vmax > 0 else 1.0
    image = _floats(block["image"])
    side = int(round(math.sqrt(image.size)))
    axes[0].imshow(image.reshape(side, side), cmap="gray_r", vmin=0.0, vmax=1.0)
    axes[0].set_title(f"input (label {block['label']})", fontsize=9)
    im = None
    for ax, (b, m, total, mean) in zip(axes[1:], panels):
        side = int(round(math.sqrt(m.size)))
        im = ax.imshow(m.reshape(side, side), cmap="Reds", vmin=0.0, vmax=vmax)
        ax.set_title(f"β={beta_key(b)}: sum={float(total):.4g}\n(test mean {float(mean):.4g})",
                     fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if im is not None:
        fig.colorbar(im, ax=list(axes[1:]), shrink=0.8, label="sensitivity")
    fig.suptitle(f"{output.title} of a digit {block['label']} (test index "
                 f"{block['sample_index']}), red = more sensitive\none colour scale "
                 f"0..{vmax:.3g} for all maps (a common vmax instead of the paper's reference "
                 f"pixel); brackets: mean sum over {block['n_test']} test images", fontsize=9)
    return save_figure(fig, path)


@draws("adaptive_curve")
def plot_adaptive_curve(output: Output, block: dict, path) -> Path:
    """Robust accuracy vs evaluation beta, plain PGD against the worst case (Figure 12, ours).

    One panel per training cap of the capped layer; solid = plain PGD (what Figure 4 plots),
    dashed = the per-sample worst case over every attack of the adaptive experiment, dotted =
    clean accuracy. The gap between solid and dashed is robustness PGD only appears to find.
    """
    inits = block["initial_betas"]
    x_eval = _floats(block["betas_eval"])
    fig = _new_figure((3.6 * max(len(inits), 1) + 0.6, 3.4))
    axes = fig.subplots(1, max(len(inits), 1), squeeze=False, sharey=True)[0]
    for ax, b0 in zip(axes, inits):
        c = block["curves"][beta_key(b0)]
        ax.plot(x_eval, 100.0 * _floats(c["standard"]), ls=":", color="gray", label="clean")
        ax.plot(x_eval, 100.0 * _floats(c["pgd"]), marker="o", ms=3, color="tab:orange",
                label="PGD")
        ax.plot(x_eval, 100.0 * _floats(c["worst_case"]), marker="s", ms=3, ls="--",
                color="tab:red", label="worst case (adaptive)")
        ax.set_title(f"trained with β={beta_key(b0)}", fontsize=10)
        ax.set_xlabel("max value β at evaluation")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("accuracy (%)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{output.title}: {block['network']} network capped at "
                 f"{block['capped_layer']}, eps {block['eps']}, {block['n_test']} test samples",
                 fontsize=10)
    return save_figure(fig, path)
