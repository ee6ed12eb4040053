"""The equal-budget suite's figure: robust accuracy against eps (Figure 13, ours)."""
from __future__ import annotations

from pathlib import Path

from matplotlib.lines import Line2D

from ..experiments import Output
from ..experiments.summary import beta_key
from .common import Extras, band, beta_colors, dig, draws, floats, interval_note, new_figure, \
    save_figure

#: Adversarial trainings, one panel each, in Table 1's order.
ADV_PANELS = (("none", "no adversarial training"), ("fgsm", "FGSM adversarial training"),
              ("pgd", "PGD adversarial training"))
UNCAPPED_COLOR = "black"
#: How each measure is drawn: PGD as the paper ran it dashed, the suite's worst case solid.
MEASURES = (("pgd_paper", dict(ls="--", marker="x", ms=3.5, lw=1.2), "PGD as the paper ran it"),
            ("worst_case", dict(ls="-", marker="o", ms=3.5, lw=1.5), "worst case (reduced suite)"))


def _label(beta) -> str:
    return "uncapped ReLU" if beta is None else f"β={beta_key(beta)}"


def panels(block: dict) -> list[tuple[str, str]]:
    """The adversarial trainings the block has, in Table 1's order (unknown ones last)."""
    present = list(dict.fromkeys(n["adv_training"] for n in block["networks"]))
    known = [p for p in ADV_PANELS if p[0] in present]
    return known + [(a, f"{a} adversarial training") for a in present
                    if a not in dict(ADV_PANELS)]


@draws("eps_curve")
def plot_eps_curve(output: Output, block: dict, path, extras: Extras = Extras()) -> Path:
    """Robust accuracy (%) against eps, one panel per adversarial training (shared y-axis).

    One colour per cap β (black: uncapped); dashed = PGD as the paper ran it, solid = the
    per-sample worst case over the reduced suite (the caption gives its budget), each with its
    95% band when the summary has intervals. A dashed curve that stays high where the solid one
    falls is a masked gradient: PGD fails where another attack of the same budget succeeds.
    """
    x = floats(block["eps"])
    advs = panels(block)
    colors = beta_colors([n["beta"] for n in block["networks"] if n["beta"] is not None])
    fig = new_figure((3.7 * max(len(advs), 1) + 0.6, 4.2))
    axes = fig.subplots(1, max(len(advs), 1), squeeze=False, sharey=True)[0]
    handles = {}
    for ax, (adv, title) in zip(axes, advs):
        for i, net in enumerate(block["networks"]):
            if net["adv_training"] != adv:
                continue
            color = (UNCAPPED_COLOR if net["beta"] is None
                     else colors[beta_key(net["beta"])])
            for key, style, _ in MEASURES:
                ax.plot(x, 100.0 * floats(net[key]), color=color, **style)
                band(ax, x, dig(extras.iv, "networks", i, key), color, 100.0)
            handles.setdefault(_label(net["beta"]), Line2D([], [], color=color, lw=2))
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("eps (L∞)")
        ax.set_ylim(-2.0, 102.0)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("robust accuracy (%)")
    for _, style, label in MEASURES:
        handles[label] = Line2D([], [], color="gray", **style)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center",
               ncol=min(len(handles), 6), fontsize=8, frameon=False)
    caption = f"\n{extras.caption}" if extras.caption else ""
    fig.suptitle(f"{output.title}: {block['n']} test samples per seed; dashed = PGD as the "
                 f"paper ran it, solid = worst case over the suite{caption}"
                 f"{interval_note(extras)}", fontsize=9)
    return save_figure(fig, path)

