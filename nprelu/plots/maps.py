"""The sensitivity map drawer (Figure 11): one map per max value on one colour scale."""
from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from ..experiments import Output
from ..runner.summary import beta_key
from .common import Extras, dig, draws, floats, new_figure


def panel_title(beta, total, mean, zero, iv) -> str:
    """Two lines: "β=0.1: sum 3.9 [-6.07, 13.9]" and "test mean 2.6; 45% zero gradient"."""
    sum_text = f"{float(total):.3g}" + (f" [{iv[0]:.3g}, {iv[1]:.3g}]"
                                        if isinstance(iv, list) and iv[1] > iv[0] else "")
    second = f"test mean {float(mean):.3g}"
    if zero is not None:
        second += f"; {100 * float(zero):.0f}% zero gradient"
    return f"β={beta_key(beta)}: sum {sum_text}\n{second}"


@draws("sensitivity")
def plot_sensitivity(output: Output, block: dict, extras: Extras = Extras()) -> Figure:
    """Sensitivity map of one digit per max value, on a shared colour scale (Figure 11).

    Every map uses ``vmin=0, vmax=max over all maps`` (the paper paints a reference pixel
    instead), with the digit's outline (its 0.5 contour) drawn over it. Panel titles give beta,
    the sum of the map (with its interval over seeds), the test mean, and the share of test
    images whose gradient is exactly zero (``zero_fraction``): a zero map is masking, not
    robustness, and says so.
    """
    maps = [floats(m) for m in block["maps"]]
    zero = block.get("zero_fraction") or [None] * len(maps)
    panels = list(zip(block["betas"], maps, block["sums"], block["mean_sum_test"], zero,
                      strict=True))
    fig = new_figure((2.6 * (len(panels) + 1) + 0.9, 3.7))
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
        if not np.any(np.nan_to_num(m) > 0):
            ax.text(0.5, 0.5, "zero gradient:\nmasking,\nnot robustness", ha="center",
                    va="center", transform=ax.transAxes, fontsize=8, color="tab:blue")
        ax.set_title(panel_title(b, total, mean, z, dig(extras.iv, "sums", i)), fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if im is not None:
        fig.colorbar(im, ax=list(axes[1:]), shrink=0.8, label="sensitivity (one scale)")
    fig.suptitle(f"{output.title} of a digit {block['label']}\nred: more sensitive; blue: "
                 "the digit's outline", fontsize=9)
    return fig
