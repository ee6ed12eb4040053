"""What every figure shares: the drawer registry, colours, bands, captions, PNG output."""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..checkpoint import atomic_write_bytes
from ..experiments.summary import beta_key

DPI = 85
BAND_ALPHA = 0.18
LAYER_COLORS = {"HL1": "tab:blue", "HL2": "tab:orange", "HL3": "tab:green",
                "HL12": "tab:red", "HL123": "tab:red"}
LAYER_LABELS = {"HL12": "HL12 (both)", "HL123": "HL123 (all)"}
ATTACK_NAMES = {"pgd": "PGD", "fgsm": "FGSM", "cw": "CW-L2"}


@dataclass(frozen=True)
class Extras:
    """What a drawer gets besides its block: ``iv``, the block's interval block (each number
    ``[lo, hi]``; None: no intervals), ``caption``, the attack settings in words, and
    ``method``, how the intervals were made."""

    iv: object = None
    caption: str = ""
    method: str = ""


#: The drawing function of each output kind: ``fn(output, block, path, extras) -> path``.
DRAWERS: dict[str, Callable] = {}


def draws(kind: str):
    """Register the decorated function as the one that draws blocks of ``kind``."""
    def register(fn):
        DRAWERS[kind] = fn
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


def coinciding(series: dict, rtol: float = 1e-6) -> list[list[str]]:
    """Groups of labels whose series are equal everywhere (NaN equal to NaN), in input order;
    each label in exactly one group."""
    groups: list[list[str]] = []
    arrays = {k: np.asarray(v, dtype=float) for k, v in series.items()}
    for label, arr in arrays.items():
        for g in groups:
            ref = arrays[g[0]]
            if ref.shape == arr.shape and np.allclose(ref, arr, rtol=rtol, atol=1e-12,
                                                      equal_nan=True):
                g.append(label)
                break
        else:
            groups.append([label])
    return groups


def attack_caption(settings) -> str:
    """The attack settings of an experiment's ``meta.settings`` (or of one output's scope of
    them) in words: "PGD eps 0.1, step 0.01, 10 steps, random start"; a budget recorded in
    words (``budget_in_words``: its textual and numeric entries) and a PGD step given in words
    (``pgd_step``) are quoted as recorded; "" when it records none."""
    if not isinstance(settings, dict):
        return ""
    parts = []
    for key, v in settings.items():
        if isinstance(v, dict) and ("eps" in v or "steps" in v) and key != "budget":
            words = key.split("_")
            name = " ".join([ATTACK_NAMES.get(words[0], words[0])] + words[1:])
            bits = [f"eps {v['eps']:.4g}" if "eps" in v else None,
                    f"step {v['step']:.4g}" if "step" in v else None,
                    f"{v['steps']} steps" if "steps" in v else None,
                    f"{v['restarts']} restarts" if "restarts" in v else None,
                    {True: "random start", False: "start at the clean image"}.get(
                        v.get("random_start"))]
            parts.append(f"{name} " + ", ".join(b for b in bits if b))
    if isinstance(settings.get("pgd_step"), str):
        parts.append(f"PGD step {settings['pgd_step']}")
    stated = settings.get("budget_in_words")
    if isinstance(stated, dict) and not any(p.startswith("suite budget") for p in parts):
        parts.append("suite: " + "; ".join(f"{k.replace('_', ' ')} {v}"
                                           for k, v in stated.items()
                                           if isinstance(v, (str, int, float))))
    if "max_steps" in settings:
        parts.append(f"zero-gradient search: at most {settings['max_steps']} steps")
    return "; ".join(parts)


def beta_colors(betas) -> dict:
    """One colour per beta key, ordered from small (dark) to large (light)."""
    cmap = matplotlib.colormaps["viridis"]
    ordered = sorted(betas)
    n = max(len(ordered) - 1, 1)
    return {beta_key(b): cmap(0.85 * i / n) for i, b in enumerate(ordered)}


def layer_label(layer: str) -> str:
    """``capped HL12 (both)``: a legend label for the network capped at ``layer``."""
    return f"capped {LAYER_LABELS.get(layer, layer)}"


def new_figure(figsize) -> Figure:
    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


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


def sweep_details(block: dict, extras: Extras) -> str:
    """The network's layer sizes, test samples, attack settings and intervals, for a caption."""
    text = (f"layer sizes {'-'.join(str(s) for s in block['sizes'])}, "
            f"{block['n_test']} test samples")
    return text + (f"; {extras.caption}" if extras.caption else "") + interval_note(extras)


def interval_note(extras: Extras) -> str:
    return f"\nbands: {extras.method}" if extras.iv is not None and extras.method else ""


def layer_lines(ax, block: dict, b0, key: str, extras: Extras, scale: float = 1.0) -> None:
    """On ``ax``: ``curves[layer][b0][key]`` against the evaluation beta, one line per layer,
    with its 95% band when the intervals have one."""
    x = floats(block["betas_eval"])
    for layer in block["capped_layers"]:
        y = scale * floats(block["curves"][layer][beta_key(b0)].get(key, [np.nan] * len(x)))
        color = LAYER_COLORS.get(layer)
        ax.plot(x, y, marker="o", ms=3, lw=1.3, color=color, label=layer_label(layer))
        band(ax, x, dig(extras.iv, "curves", layer, beta_key(b0), key), color, scale)


def layer_legend(fig: Figure, layers) -> None:
    handles = [Line2D([], [], color=LAYER_COLORS.get(l), marker="o", ms=3,
                      label=layer_label(l)) for l in layers]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=9,
                   frameon=False)
