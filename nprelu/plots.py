"""One PNG per paper figure, drawn from the experiment ``summary`` dict (see ``summary.json``).

Host-side module: NumPy and Matplotlib only. Figures are built as ``matplotlib.figure.Figure``
objects on an explicit Agg canvas, never through pyplot, so no display is needed, no global
figure state is kept, and the process-wide backend is left alone (no ``matplotlib.use``). Every PNG is written atomically (``checkpoint.atomic_write_bytes``).

Any experiment may be missing from ``summary`` (``--only`` runs): :func:`plot_all` draws what is
present and skips the rest. Inside an experiment, a missing beta, capped layer or curve is
skipped too; ``null`` values (e.g. no zero gradient found) become gaps in the lines.

Conventions: accuracies and rates are fractions in [0, 1] in the summary and are drawn in
percent; ``beta`` is the paper's "max value" of the capped ReLU ``a(z, beta) = max(0, min(z,
beta))``; HL1/HL2/HL3 are the hidden layers, HL12/HL123 "all hidden layers capped".
"""
from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .checkpoint import atomic_write_bytes

DPI = 85

FIGURE_FILES = {
    "fig01": "fig01_perturbation_growth.png",
    "fig02": "fig02_accuracy.png",
    "fig03": "fig03_sigmoid.png",
    "fig04": "fig04_general_pgd.png",
    "fig05": "fig05_reversed_pgd.png",
    "fig06": "fig06_equal_pgd.png",
    "fig08": "fig08_general_zero_gradient.png",
    "fig09": "fig09_reversed_zero_gradient.png",
    "fig10": "fig10_equal_zero_gradient.png",
    "fig11": "fig11_sensitivity_map.png",
    "fig12": "fig12_adaptive_robustness.png",   # beyond the paper
}

NETWORK_TITLES = {
    "general": "general network",
    "reversed": "reversed network",
    "equal": "equal network",
}

LAYER_COLORS = {
    "HL1": "tab:blue",
    "HL2": "tab:orange",
    "HL3": "tab:green",
    "HL12": "tab:red",
    "HL123": "tab:red",
}
LAYER_LABELS = {"HL12": "HL12 (both)", "HL123": "HL123 (all)"}


# --------------------------------------------------------------------------- helpers

def beta_key(beta) -> str:
    """The summary's dict key for a beta: ``format(beta, "g")`` ("0.01", "1", "100")."""
    if isinstance(beta, str):
        return beta
    return format(float(beta), "g")


def beta_label(beta) -> str:
    """``β=0.01`` for a legend, ``β=∞`` (uncapped) for None."""
    return "β=∞ (uncapped)" if beta is None else f"β={beta_key(beta)}"


def _floats(values) -> np.ndarray:
    """A float array with None (JSON null) turned into NaN."""
    if values is None:
        return np.array([], dtype=float)
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def _betas(block: dict, list_key: str, dict_for_keys: dict | None = None) -> list[float]:
    """The betas listed under ``list_key``, else those found as keys of ``dict_for_keys``."""
    betas = block.get(list_key)
    if betas:
        return [float(b) for b in betas]
    keys = list((dict_for_keys or {}).keys())
    out = []
    for k in keys:
        try:
            out.append(float(k))
        except (TypeError, ValueError):
            continue
    return sorted(out)


def _beta_colors(betas) -> dict:
    """One colour per beta, ordered from small (dark) to large (light)."""
    cmap = matplotlib.colormaps["viridis"]
    ordered = sorted(betas)
    n = max(len(ordered) - 1, 1)
    return {beta_key(b): cmap(0.85 * i / n) for i, b in enumerate(ordered)}


def _layer_label(layer: str) -> str:
    return LAYER_LABELS.get(layer, layer)


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


def _pct(values) -> np.ndarray:
    return 100.0 * _floats(values)


def _positive(values: np.ndarray) -> np.ndarray:
    """Values for a log axis: non-positive ones become NaN (a gap) instead of breaking it."""
    out = np.array(values, dtype=float)
    out[~(out > 0)] = np.nan
    return out


# --------------------------------------------------------------------------- figure 1

def plot_fig01(block: dict, path) -> Path:
    """Fig. 1: clean-vs-adversarial activation distance at hidden layers 1..3.

    2 x 4 grid: columns = capped layer (HL1, HL2, HL3, HL123), rows = L∞ and L2 distance; one
    line per max value beta, the uncapped network dashed; log-scale y.
    """
    layers = block.get("capped_layers") or list((block.get("capped") or {}).keys())
    capped = block.get("capped") or {}
    first = next(iter(capped.values()), {}) if capped else {}
    betas = _betas(block, "betas", first)
    colors = _beta_colors(betas)
    uncapped = block.get("uncapped") or {}
    norms = [("linf", "L∞ distance"), ("l2", "L2 distance")]
    ncols = max(len(layers), 1)
    fig = _new_figure((3.0 * ncols + 0.6, 5.6))
    axes = fig.subplots(2, ncols, squeeze=False, sharex=True)
    handles = {}
    masked = False
    for col, layer in enumerate(layers):
        per_beta = capped.get(layer) or {}
        for row, (norm, norm_label) in enumerate(norms):
            ax = axes[row][col]
            for b in betas:
                vals = (per_beta.get(beta_key(b)) or {}).get(norm)
                if vals is None:
                    continue
                raw = _floats(vals)
                y = _positive(raw)
                masked |= bool(np.any(np.isfinite(raw) & ~(raw > 0)))
                x = np.arange(1, len(y) + 1)
                (h,) = ax.plot(x, y, marker="o", ms=3.5, lw=1.4, color=colors[beta_key(b)],
                               label=beta_label(b))
                handles.setdefault(beta_label(b), h)
            if uncapped.get(norm) is not None:
                y = _positive(_floats(uncapped[norm]))
                (h,) = ax.plot(np.arange(1, len(y) + 1), y, ls="--", color="black", lw=1.2,
                               marker="x", ms=4, label="uncapped ReLU")
                handles.setdefault("uncapped ReLU", h)
            ax.set_yscale("log")
            ax.grid(True, which="major", alpha=0.3)
            ax.set_xticks([1, 2, 3], ["HL1", "HL2", "HL3"])
            if row == 0:
                ax.set_title(f"capped at {_layer_label(layer)}", fontsize=10)
            if row == 1:
                ax.set_xlabel("hidden layer")
            if col == 0:
                ax.set_ylabel(f"mean {norm_label}")
    if not layers:
        axes[0][0].text(0.5, 0.5, "no capped layers in summary", ha="center",
                        transform=axes[0][0].transAxes)
    if handles:
        fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center",
                   ncol=min(len(handles), 6), fontsize=8, frameon=False)
    note = " — zero distances are not drawn on the log axis" if masked else ""
    fig.suptitle("Fig. 1: distance between hidden-layer outputs of clean and PGD adversarial "
                 f"inputs (top L∞, bottom L2){note}", fontsize=11)
    return save_figure(fig, path)


# --------------------------------------------------------------------------- figure 2

def plot_fig02(block: dict, path) -> Path:
    """Fig. 2: test accuracy vs max value beta (log x), one line per capped layer."""
    acc = block.get("accuracy") or {}
    layers = block.get("capped_layers") or list(acc.keys())
    first = next(iter(acc.values()), {}) if acc else {}
    betas = _betas(block, "betas", first)
    fig = _new_figure((6.0, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    for layer in layers:
        per_beta = acc.get(layer) or {}
        xs = [b for b in betas if per_beta.get(beta_key(b)) is not None]
        ys = [100.0 * float(per_beta[beta_key(b)]) for b in xs]
        if xs:
            ax.plot(xs, ys, marker="o", ms=4, color=LAYER_COLORS.get(layer),
                    label=f"capped {_layer_label(layer)}")
    if block.get("uncapped") is not None:
        ax.axhline(100.0 * float(block["uncapped"]), ls="--", color="black", lw=1.2,
                   label="uncapped ReLU")
    ax.set_xscale("log")
    ax.set_xlabel("max value β")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Fig. 2: MNIST test accuracy by capped layer and max value", fontsize=10)
    return save_figure(fig, path)


# --------------------------------------------------------------------------- figure 3

def plot_fig03(block: dict, path) -> Path:
    """Fig. 3: sigmoid(c z) for several constants c."""
    z = _floats(block.get("z"))
    curves = block.get("sigmoid") or {}
    cs = block.get("c") or list(curves.keys())
    cmap = matplotlib.colormaps["plasma"]
    fig = _new_figure((5.5, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    n = max(len(cs) - 1, 1)
    for i, c in enumerate(cs):
        vals = curves.get(beta_key(c))
        if vals is None:
            continue
        y = _floats(vals)
        ax.plot(z[: len(y)], y, color=cmap(0.85 * i / n), lw=1.6, label=f"c={beta_key(c)}")
    ax.set_xlabel("z")
    ax.set_ylabel("σ(c·z)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Fig. 3: Sigmoid functions with different constant c", fontsize=10)
    return save_figure(fig, path)


# --------------------------------------------------------------------------- figures 4-6

def _network_title(block: dict) -> str:
    name = block.get("network", "")
    sizes = block.get("sizes")
    title = NETWORK_TITLES.get(name, f"{name} network" if name else "network")
    if sizes:
        title += " " + "-".join(str(s) for s in sizes)
    return title


def plot_pgd_curves(block: dict, path, fig_no: int | str = "") -> Path:
    """Figs. 4-6: standard accuracy, robust accuracy and PGD success rate vs evaluation beta.

    3 x 3 grid: rows = initial (training) max value, columns = standard accuracy, robust
    accuracy, attack success rate; x = max value used at evaluation; one line per capped layer.
    """
    curves = block.get("curves") or {}
    layers = block.get("capped_layers") or list(curves.keys())
    first = next(iter(curves.values()), {}) if curves else {}
    inits = _betas(block, "initial_betas", first)
    x_eval = _floats(block.get("betas_eval"))
    cols = [("standard", "standard accuracy (%)"), ("robust", "robust accuracy (%)"),
            ("success", "attack success rate (%)")]
    nrows = max(len(inits), 1)
    fig = _new_figure((11.0, 2.6 * nrows + 0.8))
    axes = fig.subplots(nrows, 3, squeeze=False, sharex=True)
    for r, b0 in enumerate(inits):
        for c, (key, label) in enumerate(cols):
            ax = axes[r][c]
            for layer in layers:
                data = ((curves.get(layer) or {}).get(beta_key(b0)) or {}).get(key)
                if data is None:
                    continue
                y = _pct(data)
                x = x_eval[: len(y)] if len(x_eval) >= len(y) else np.arange(len(y))
                ax.plot(x, y, marker="o", ms=3, lw=1.3, color=LAYER_COLORS.get(layer),
                        label=f"capped {_layer_label(layer)}")
            ax.grid(True, alpha=0.3)
            if r == 0:
                ax.set_title(label, fontsize=10)
            if c == 0:
                ax.set_ylabel(f"initial β={beta_key(b0)}\n{label.split(' (')[0]} (%)",
                              fontsize=9)
            if r == nrows - 1:
                ax.set_xlabel("max value β at evaluation")
    handles = [Line2D([], [], color=LAYER_COLORS.get(l), marker="o", ms=3,
                      label=f"capped {_layer_label(l)}") for l in layers]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=9,
                   frameon=False)
    n_test = block.get("n_test")
    extra = f", {n_test} test samples" if n_test else ""
    fig.suptitle(f"Fig. {fig_no}: standard/robust accuracy and PGD success rate over a range "
                 f"of max values — {_network_title(block)}{extra}", fontsize=10)
    return save_figure(fig, path)


# --------------------------------------------------------------------------- figures 8-10

def plot_zero_gradient(block: dict, path, fig_no: int | str = "") -> Path:
    """Figs. 8-10: average L2 distance to the zero-gradient point found by PGD, vs eval beta.

    Grid: row 1 = mean distance over the samples where a zero gradient was found, row 2 = the
    fraction of samples where one was found; columns = initial max value; lines = capped layer.
    """
    curves = block.get("curves") or {}
    layers = block.get("capped_layers") or list(curves.keys())
    first = next(iter(curves.values()), {}) if curves else {}
    inits = _betas(block, "initial_betas", first)
    x_eval = _floats(block.get("betas_eval"))
    ncols = max(len(inits), 1)
    fig = _new_figure((3.6 * ncols + 0.6, 5.8))
    axes = fig.subplots(2, ncols, squeeze=False, sharex=True)
    rows = [("distance", "mean L2 distance\nto zero gradient", 1.0),
            ("found_fraction", "samples with a zero\ngradient found (%)", 100.0)]
    for c, b0 in enumerate(inits):
        for r, (key, label, scale) in enumerate(rows):
            ax = axes[r][c]
            for layer in layers:
                data = ((curves.get(layer) or {}).get(beta_key(b0)) or {}).get(key)
                if data is None:
                    continue
                y = scale * _floats(data)
                x = x_eval[: len(y)] if len(x_eval) >= len(y) else np.arange(len(y))
                ax.plot(x, y, marker="o", ms=3, lw=1.3, color=LAYER_COLORS.get(layer),
                        label=f"capped {_layer_label(layer)}")
            ax.grid(True, alpha=0.3)
            if r == 0:
                ax.set_title(f"initial β={beta_key(b0)}", fontsize=10)
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
            if r == 1:
                ax.set_xlabel("max value β at evaluation")
    handles = [Line2D([], [], color=LAYER_COLORS.get(l), marker="o", ms=3,
                      label=f"capped {_layer_label(l)}") for l in layers]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=9,
                   frameon=False)
    parts = []
    if block.get("n_test"):
        parts.append(f"{block['n_test']} test samples")
    if block.get("max_steps"):
        parts.append(f"≤{block['max_steps']} PGD steps")
    extra = f" ({', '.join(parts)})" if parts else ""
    fig.suptitle(f"Fig. {fig_no}: average distance to zero gradients by PGD over a range of max "
                 f"values — {_network_title(block)}{extra}", fontsize=10)
    return save_figure(fig, path)


# --------------------------------------------------------------------------- figure 11

def plot_fig11(block: dict, path) -> Path:
    """Fig. 11: sensitivity map of one digit five per max value, on a shared colour scale.

    The paper fixes the colour range with a reference pixel painted into each map; here every
    map uses the same ``vmin=0, vmax=max over all maps`` instead (stated in the title). Red =
    more sensitive. Panel titles give beta and the sum of the map.
    """
    betas = list(block.get("betas") or [])
    maps = [_floats(m) for m in (block.get("maps") or [])]
    sums = list(block.get("sums") or [])
    means = list(block.get("mean_sum_test") or [])
    image = block.get("image")
    n = min(len(betas), len(maps)) if betas else len(maps)
    has_image = image is not None and len(image) == 784
    ncols = n + (1 if has_image else 0)
    fig = _new_figure((2.6 * max(ncols, 1) + 0.9, 3.4))
    axes = fig.subplots(1, max(ncols, 1), squeeze=False)[0]
    finite = [m[np.isfinite(m)] for m in maps[:n]]
    vmax = max((float(f.max()) for f in finite if f.size), default=0.0)
    vmax = vmax if vmax > 0 else 1.0
    col = 0
    if has_image:
        ax = axes[0]
        ax.imshow(_floats(image).reshape(28, 28), cmap="gray_r", vmin=0.0, vmax=1.0)
        label = block.get("label")
        ax.set_title(f"input (label {label})" if label is not None else "input", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        col = 1
    im = None
    for i in range(n):
        ax = axes[col + i]
        m = maps[i]
        side = int(round(math.sqrt(m.size)))
        im = ax.imshow(m.reshape(side, side), cmap="Reds", vmin=0.0, vmax=vmax)
        b = betas[i] if i < len(betas) else None
        title = f"β={beta_key(b)}" if b is not None else f"map {i + 1}"
        if i < len(sums) and sums[i] is not None:
            title += f": sum={float(sums[i]):.4g}"
        if i < len(means) and means[i] is not None:
            title += f"\n(test mean {float(means[i]):.4g})"
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if im is not None:
        fig.colorbar(im, ax=list(axes[col:col + n]), shrink=0.8, label="sensitivity")
    idx = block.get("sample_index")
    where = f" (test index {idx})" if idx is not None else ""
    n_test = block.get("n_test")
    mean_note = (f"; brackets: mean sum over {n_test} test images" if n_test and means
                 else "")
    fig.suptitle(f"Fig. 11: sensitivity map of a digit five{where}, red = more sensitive\n"
                 f"one colour scale 0..{vmax:.3g} for all maps (a common vmax instead of the "
                 f"paper's reference pixel){mean_note}", fontsize=9)
    return save_figure(fig, path)


# --------------------------------------------------------------------------- figure 12

def plot_fig12(block: dict, path) -> Path:
    """Beyond the paper: robust accuracy vs evaluation beta, plain PGD against the worst case.

    One panel per training cap of the general network's HL2; solid = plain PGD (what Figure 4
    plots), dashed = the per-sample worst case over every attack of the adaptive experiment,
    dotted = clean accuracy. The gap between solid and dashed is robustness PGD only appears to
    find.
    """
    curves = block.get("curves") or {}
    inits = list(curves)
    x_eval = _floats(block.get("betas_eval"))
    fig = _new_figure((3.6 * max(len(inits), 1) + 0.6, 3.4))
    axes = fig.subplots(1, max(len(inits), 1), squeeze=False, sharey=True)[0]
    for ax, b0 in zip(axes, inits):
        c = curves[b0]
        ax.plot(x_eval, _pct(c["standard"]), ls=":", color="gray", label="clean")
        ax.plot(x_eval, _pct(c["pgd"]), marker="o", ms=3, color="tab:orange", label="PGD")
        ax.plot(x_eval, _pct(c["worst_case"]), marker="s", ms=3, ls="--", color="tab:red",
                label="worst case (adaptive)")
        ax.set_title(f"trained with β={b0}", fontsize=10)
        ax.set_xlabel("max value β at evaluation")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("accuracy (%)")
    axes[0].legend(fontsize=8)
    n_test = block.get("n_test")
    fig.suptitle(f"Fig. 12 (ours): general network capped at HL2, eps {block.get('eps', 0.1)}, "
                 f"{n_test} test samples: PGD vs the adaptive worst case", fontsize=10)
    return save_figure(fig, path)


# --------------------------------------------------------------------------- all figures

PLOTTERS = {
    "fig01": lambda block, path: plot_fig01(block, path),
    "fig02": lambda block, path: plot_fig02(block, path),
    "fig03": lambda block, path: plot_fig03(block, path),
    "fig04": lambda block, path: plot_pgd_curves(block, path, 4),
    "fig05": lambda block, path: plot_pgd_curves(block, path, 5),
    "fig06": lambda block, path: plot_pgd_curves(block, path, 6),
    "fig08": lambda block, path: plot_zero_gradient(block, path, 8),
    "fig09": lambda block, path: plot_zero_gradient(block, path, 9),
    "fig10": lambda block, path: plot_zero_gradient(block, path, 10),
    "fig11": lambda block, path: plot_fig11(block, path),
    "fig12": lambda block, path: plot_fig12(block, path),
}


def plot_all(summary: dict, out_dir, strict: bool = False) -> list[Path]:
    """Write one PNG per figure present in ``summary`` into ``out_dir``; return their paths.

    Experiments absent from ``summary`` (or set to None) are skipped. A figure that fails to
    draw is skipped with a :class:`RuntimeWarning` naming it, so one malformed block cannot
    cost the others; pass ``strict=True`` to raise instead (tests do).
    """
    out_dir = Path(out_dir)
    written: list[Path] = []
    for key, filename in FIGURE_FILES.items():
        block = summary.get(key)
        if not isinstance(block, dict) or not block:
            continue
        try:
            written.append(PLOTTERS[key](block, out_dir / filename))
        except Exception as exc:  # noqa: BLE001 - reported, and re-raised when strict
            if strict:
                raise
            warnings.warn(f"{filename} not drawn: {type(exc).__name__}: {exc}",
                          RuntimeWarning, stacklevel=2)
    return written
