"""Section 6, Figures 8-10: how far from the clean image does PGD find a zero gradient?

For the networks of Figures 4-6 and the same evaluation caps, zero-gradient PGD keeps stepping
(also after the prediction flips) until the loss gradient with respect to the input is exactly
zero, or a step cap is reached. The paper averages the Euclidean distance over the samples where
a zero gradient was found and does not report how many those were; we report both.
"""
from __future__ import annotations

from ..attacks import zero_gradient_pgd
from .config import EVAL_BETAS, caps_for
from .summary import beta_key
from .sweeps import CAPPED, INITIAL_BETAS, NETWORKS, specs

#: Each zero-gradient figure reuses the networks of a PGD figure.
PGD_FIGURE = {"fig08": "fig04", "fig09": "fig05", "fig10": "fig06"}


def runner(figure):
    """``run(ctx)`` for one of Figures 8-10."""
    def run(ctx):
        network, sizes = NETWORKS[PGD_FIGURE[figure]]
        x, y = ctx.test(ctx.profile.n_zero)
        max_steps = ctx.profile.zero_max_steps
        curves = {}
        for name, beta0, spec in specs(sizes, ctx.seed):
            net = ctx.model(spec)
            out = {"distance": [], "found_fraction": [], "mean_steps": []}
            for beta in EVAL_BETAS:
                res = zero_gradient_pgd(net.with_caps(caps_for(CAPPED[name], beta, 2)), x, y,
                                        max_steps=max_steps)
                found = res.found
                n_found = int(found.sum())
                out["found_fraction"].append(n_found / len(y))
                out["distance"].append(float(res.distance[found].mean()) if n_found else None)
                out["mean_steps"].append(float(res.steps[found].mean()) if n_found else None)
            curves.setdefault(name, {})[beta_key(beta0)] = out
        result = {"network": network, "sizes": list(sizes), "betas_eval": list(EVAL_BETAS),
                  "initial_betas": list(INITIAL_BETAS), "capped_layers": list(CAPPED),
                  "curves": curves, "n_test": int(len(y)), "max_steps": max_steps}
        return {figure: result}, {"max_steps": max_steps, "attack": zero_gradient_pgd.__module__}
    return run
