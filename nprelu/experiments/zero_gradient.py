"""Section 6, Figures 8-10: how far from the clean image does PGD find a zero gradient?

For the networks of Figures 4-6 and the same evaluation caps, zero-gradient PGD keeps stepping
(also after the prediction flips) until the loss gradient with respect to the input is exactly
zero, or a step cap is reached. The paper averages the Euclidean distance over the samples where
a zero gradient was found and does not report how many those were; we report both.
"""
from __future__ import annotations

from ..attacks import zero_gradient_pgd
from .config import EVAL_BETAS, caps_for
from .sweeps import CAPPED, figure_block, networks
from .units import Split


def curve(ctx, name, spec, x, y) -> dict:
    """One trained network's zero-gradient distances over the evaluation caps."""
    net = ctx.model(spec)
    out = {"distance": [], "found_fraction": [], "mean_steps": []}
    for beta in EVAL_BETAS:
        res = zero_gradient_pgd(net.with_caps(caps_for(CAPPED[name], beta, 2)), x, y,
                                max_steps=ctx.profile.zero_max_steps)
        found = res.found
        n_found = int(found.sum())
        out["found_fraction"].append(n_found / len(y))
        out["distance"].append(float(res.distance[found].mean()) if n_found else None)
        out["mean_steps"].append(float(res.steps[found].mean()) if n_found else None)
    return out


def split(figure) -> Split:
    """One of Figures 8-10, one unit per trained network of its PGD figure
    (``sweeps.PGD_FIGURE``)."""
    def run_unit(ctx, unit):
        name, _, spec = networks(figure, ctx.seed)[unit]
        x, y = ctx.test(ctx.profile.n_zero)
        return {"curve": curve(ctx, name, spec, x, y), "n_test": int(len(y))}

    def combine(ctx, partials):
        max_steps = ctx.profile.zero_max_steps
        block = figure_block(figure, ctx, partials, {"max_steps": max_steps})
        return {figure: block}, {"max_steps": max_steps, "attack": zero_gradient_pgd.__module__}

    return Split(lambda ctx: list(networks(figure, ctx.seed)), run_unit, combine)
