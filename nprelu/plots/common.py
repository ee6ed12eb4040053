"""What every figure shares: the drawer registry, the data helpers, bands, PNG output.

A drawer is registered with ``@draws(kind)`` on a function ``build(output, block, extras) ->
Figure`` that only builds the figure (:data:`BUILDERS`, which the figure-quality tests render);
:data:`DRAWERS` holds, per kind, ``draw(output, block, path, extras=Extras()) -> path``, which
builds and saves it. ``@captions(kind)`` registers the function that gives a figure's caption
text: the settings a title leaves out (:mod:`.captions`).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..checkpoint import atomic_write_bytes

DPI = 85
BAND_ALPHA = 0.18


@dataclass(frozen=True)
class Extras:
    """What a drawer gets besides its block: ``iv``, the block's interval block (each number
    ``[lo, hi]``; None: no intervals), ``caption``, the attack settings in words,
    ``method``, how the intervals were made, and ``reads``, the other blocks the output reads
    (``Output.reads``): ``{key: (block, its interval block or None)}`` for those present."""

    iv: object = None
    caption: str = ""
    method: str = ""
    reads: dict = field(default_factory=dict)


#: The figure builder of each output kind: ``build(output, block, extras) -> Figure``.
BUILDERS: dict[str, Callable] = {}
#: The drawing function of each output kind: ``draw(output, block, path, extras) -> path``.
DRAWERS: dict[str, Callable] = {}
#: The caption of each output kind: ``caption(output, block, extras) -> str``.
CAPTIONS: dict[str, Callable] = {}


def draws(kind: str):
    """Register the decorated figure builder for blocks of ``kind`` (:data:`BUILDERS`), and
    the function that builds and saves it (:data:`DRAWERS`); the builder is returned as is."""
    def register(build):
        def draw(output, block, path, extras: Extras = Extras()) -> Path:
            return save_figure(build(output, block, extras), path)
        draw.__doc__ = build.__doc__
        BUILDERS[kind] = build
        DRAWERS[kind] = draw
        return build
    return register


def captions(kind: str):
    """Register the decorated function as the caption of blocks of ``kind``."""
    def register(fn):
        CAPTIONS[kind] = fn
        return fn
    return register


def floats(values) -> np.ndarray:
    """A float array with None (JSON null) turned into NaN."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def positive(values: np.ndarray) -> np.ndarray:
    """Values for a log axis: non-positive ones become NaN (a gap) instead of breaking it."""
    out = np.array(values, dtype=float)
    out[~(out > 0)] = np.nan
    return out


def dig(tree, *path):
    """``tree[p0][p1]...``, or None when any step is missing."""
    for p in path:
        try:
            tree = tree[p]
        except (KeyError, IndexError, TypeError):
            return None
    return tree


def bounds(iv_list, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(lo, hi)`` arrays from a list of ``[lo, hi]`` (None where a point has none); None when
    there is no interval at all (every lo == hi)."""
    if not isinstance(iv_list, list):
        return None
    lo, hi = np.full(n, np.nan), np.full(n, np.nan)
    for i, b in enumerate(iv_list[:n]):
        if isinstance(b, list) and len(b) == 2 and None not in b:
            lo[i], hi[i] = float(b[0]), float(b[1])
    ok = np.isfinite(lo) & np.isfinite(hi)
    return (lo, hi) if ok.any() and np.any(hi[ok] > lo[ok]) else None


def band(ax, x, iv_list, color, scale: float = 1.0, log: bool = False) -> bool:
    """Fill the 95% band of one line (percentages, ``scale`` 100, clipped to [0, 100]);
    returns whether one was drawn."""
    b = bounds(iv_list, len(x))
    if b is None:
        return False
    lo, hi = scale * b[0], scale * b[1]
    if scale == 100.0:                 # a percentage: a t interval may pass 0 or 100
        lo, hi = np.clip(lo, 0.0, 100.0), np.clip(hi, 0.0, 100.0)
    if log:
        lo, hi = positive(lo), positive(hi)
    ax.fill_between(x, lo, hi, color=color, alpha=BAND_ALPHA, lw=0)
    return True


def coinciding(series: dict, rtol: float = 1e-6, atol: float = 1e-12) -> list[list[str]]:
    """Groups of labels whose series are equal everywhere (NaN equal to NaN; within ``rtol``
    and ``atol`` as ``np.allclose``), in input order; each label in exactly one group (joined
    to the first group whose first series it matches)."""
    groups: list[list[str]] = []
    arrays = {k: np.asarray(v, dtype=float) for k, v in series.items()}
    for label, arr in arrays.items():
        for g in groups:
            ref = arrays[g[0]]
            if ref.shape == arr.shape and np.allclose(ref, arr, rtol=rtol, atol=atol,
                                                      equal_nan=True):
                g.append(label)
                break
        else:
            groups.append([label])
    return groups


def new_figure(figsize) -> Figure:
    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def percent_panels(n_rows: int, n_cols: int) -> tuple:
    """``(fig, axes)``: a grid of ``n_rows`` x ``n_cols`` panels (at least 1 x 1) sharing their
    axes, 3.4 x 2.3 inches each, every panel of a non-empty grid with a grid and a 0-100%
    y range (a percentage per panel: the suite's eps curves, the title question across eps)."""
    rows, cols = max(n_rows, 1), max(n_cols, 1)
    fig = new_figure((3.4 * cols + 1.2, 2.3 * rows + 1.3))
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    if n_rows and n_cols:
        for ax in axes.flat:
            ax.grid(True, alpha=0.3)
            ax.set_ylim(-2.0, 102.0)
    return fig, axes


def missing_panel(ax) -> None:
    """Say in the panel that its network is not in the summary."""
    ax.text(0.5, 0.5, "not in this summary", transform=ax.transAxes, ha="center", va="center",
            fontsize=8, color="gray")


def _png_bytes(fig: Figure) -> bytes:
    """``fig`` as PNG bytes, palette-quantized (256 colours) with Pillow to keep files small."""
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
    """Render ``fig`` to a (small) PNG in memory and write it atomically to ``path``; a title
    line too long for the figure's width is wrapped first (:func:`wrap_title`)."""
    path = Path(path)
    wrap_title(fig)
    atomic_write_bytes(path, _png_bytes(fig))
    return path


def wrap_title(fig: Figure) -> None:
    """Wrap each line of ``fig``'s suptitle at "; " or ", " to fit its width (a character taken
    as 0.6 of the font size: a long attack-settings caption would be cut off at both edges)."""
    title = getattr(fig, "_suptitle", None)
    if title is None or not title.get_text():
        return
    width = int(fig.get_figwidth() * 72 / (0.6 * title.get_fontsize()))
    lines = []
    for line in title.get_text().split("\n"):
        while len(line) > width:
            cut = max(line.rfind("; ", 0, width), line.rfind(", ", 0, width))
            if cut <= 0:
                break
            lines.append(line[:cut + 1])
            line = line[cut + 2:]
        lines.append(line)
    title.set_text("\n".join(lines))
