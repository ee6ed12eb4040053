"""How series are told apart and named: colours, markers and line styles that differ also in
grey print, the one table of attack names, legends outside the data, and notes of the series
that coincide in a panel (found from the data with :func:`.common.coinciding`)."""
from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from ..runner.summary import beta_key
from .common import band, coinciding, dig, floats

LAYER_COLORS = {"HL1": "tab:blue", "HL2": "tab:orange", "HL3": "tab:green",
                "HL12": "tab:red", "HL123": "tab:red"}
#: One marker per capped layer: the lines stay apart in grey print.
LAYER_MARKERS = {"HL1": "o", "HL2": "s", "HL3": "^", "HL12": "D", "HL123": "D"}
LAYER_LABELS = {"HL12": "HL12 (both)", "HL123": "HL123 (all)"}
#: Markers and line styles handed out in order to series without a fixed style.
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":")
#: The attacks' names as the report spells them (settings keys and the first word of one).
ATTACK_NAMES = {"pgd": "PGD", "fgsm": "FGSM", "cw": "CW-L2", "bpda": "BPDA-PGD",
                "margin_pgd": "Margin PGD", "square": "Square", "transfer": "Transfer",
                "apgd": "APGD", "apgd_ce": "APGD-CE", "apgd_dlr": "APGD-DLR",
                "worst_case": "Worst case"}
#: Two series "coincide" in a panel when they differ nowhere by more than this share of the
#: panel's data range (on a log axis: of its range in decades): one line hides the other.
COINCIDE_SHARE = 0.02


def attack_name(key: str) -> str:
    """``margin_pgd`` -> "Margin PGD", ``pgd_on_uncapped`` -> "PGD on uncapped": the report's
    name of the whole key, or of its first word with the rest in words."""
    if key in ATTACK_NAMES:
        return ATTACK_NAMES[key]
    first, *rest = key.split("_")
    return " ".join([ATTACK_NAMES.get(first, first)] + rest)


def beta_colors(betas) -> dict:
    """One colour per beta key, ordered from small (dark) to large (light)."""
    cmap = matplotlib.colormaps["viridis"]
    ordered = sorted(betas)
    n = max(len(ordered) - 1, 1)
    return {beta_key(b): cmap(0.85 * i / n) for i, b in enumerate(ordered)}


def beta_markers(betas) -> dict:
    """One marker per beta key, in the order of :func:`beta_colors`."""
    return {beta_key(b): MARKERS[i % len(MARKERS)] for i, b in enumerate(sorted(betas))}


def layer_label(layer: str) -> str:
    """``capped HL12 (both)``: a legend label for the network capped at ``layer``."""
    return f"capped {LAYER_LABELS.get(layer, layer)}"


def layer_style(layer: str) -> dict:
    return dict(color=LAYER_COLORS.get(layer), marker=LAYER_MARKERS.get(layer, "o"), ms=4,
                lw=1.3, mfc="white" if layer in ("HL2", "HL3") else None)


def layer_lines(ax, block: dict, b0, key: str, extras, scale: float = 1.0) -> dict:
    """On ``ax``: ``curves[layer][b0][key]`` against the evaluation beta, one line per layer,
    with its 95% band when the intervals have one; returns each layer's values."""
    x = floats(block["betas_eval"])
    drawn = {}
    for layer in block["capped_layers"]:
        y = scale * floats(block["curves"][layer][beta_key(b0)].get(key, [np.nan] * len(x)))
        ax.plot(x, y, label=layer_label(layer), **layer_style(layer))
        band(ax, x, dig(extras.iv, "curves", layer, beta_key(b0), key),
             LAYER_COLORS.get(layer), scale)
        drawn[layer] = y
    return drawn


def legend_below(fig: Figure, ax, ncol: int | None = None, fontsize: float = 8,
                 one_row: bool = False) -> None:
    """One figure legend of the labelled series of ``ax`` (one axes or several: each label
    once, its first handle), below the panels (outside the data); ``one_row``: every entry in
    one row, else ``ncol`` (default: up to 4) columns."""
    found: dict = {}
    for a in ([ax] if hasattr(ax, "get_legend_handles_labels") else ax):
        for h, label in zip(*a.get_legend_handles_labels()):
            found.setdefault(label, h)
    if found:
        fig.legend(list(found.values()), list(found), loc="outside lower center",
                   fontsize=fontsize, frameon=False,
                   ncol=len(found) if one_row else ncol or min(len(found), 4))


def legend_right(ax, fontsize: float = 8, **kw) -> None:
    """``ax``'s legend to the right of its data area (the layout makes room for it)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                  fontsize=fontsize, frameon=False, **kw)


def span(values, log: bool = False) -> float:
    """The range of the finite ``values`` (of their log10 when ``log``); 1.0 when flat."""
    v = np.asarray(values, dtype=float).ravel()
    if log:
        v = np.log10(v[v > 0])
    v = v[np.isfinite(v)]
    width = float(v.max() - v.min()) if v.size else 0.0
    return width if width > 0 else 1.0


def close_groups(series: dict, width: float, log: bool = False) -> list[list[str]]:
    """Groups (of two or more) of ``series`` labels whose values coincide within
    :data:`COINCIDE_SHARE` of ``width`` (the panel's range, in decades when ``log``)."""
    data = {}
    for label, y in series.items():
        y = np.asarray(y, dtype=float)
        if log:
            y = np.where(y > 0, y, np.nan)
            y = np.log10(y, where=np.isfinite(y), out=np.full(y.shape, np.nan))
        data[label] = y
    return [g for g in coinciding(data, rtol=0.0, atol=COINCIDE_SHARE * width) if len(g) > 1]


def coincide_note(groups: list[list[str]], short=lambda s: s) -> str:
    """"HL1 ≈ HL12; β=10 ≈ β=100": the groups that coincide, each label shortened by
    ``short``; "" when none do."""
    return "; ".join(" ≈ ".join(short(label) for label in g) for g in groups)


def title_with_note(ax, title: str, note: str, fontsize: float = 10) -> None:
    """``ax``'s title, with the coincidence note (if any) as its second line, smaller."""
    if note:
        ax.set_title(f"{title}\n{note}" if title else note, fontsize=fontsize - 1)
    elif title:
        ax.set_title(title, fontsize=fontsize)
