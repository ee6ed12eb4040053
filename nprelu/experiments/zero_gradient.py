"""Section 6, Figures 8-10: how far from the clean image does PGD find a zero gradient?

For the networks of Figures 4-6 and the same evaluation caps, zero-gradient PGD keeps stepping
(also after the prediction flips) until the loss gradient with respect to the input is exactly
zero, or a step cap is reached. The paper averages the Euclidean distance over the samples where
a zero gradient was found and does not report how many those were; we report that fraction, and,
because the fraction ranges widely across configurations (a survivorship bias: a configuration
that finds few zero gradients averages over its easiest samples), two distances that do not
depend on which samples survived. Per curve point (initial beta, eval beta):

- ``distance``: the paper's, mean over the samples where a zero gradient was found;
- ``distance_censored``: mean over ALL samples, a sample without a zero gradient counted at the
  distance where the step cap stopped it. A *lower bound* on the mean distance to a zero
  gradient (a not-found sample's true distance, if it has one, is larger);
- ``distance_common`` over ``n_common`` samples: mean over the samples where a zero gradient
  was found in every capped-layer configuration (HL1, HL2, HL12) of the same initial and eval
  beta, so the three configurations are compared on the same samples (None when there is none).

The three configurations are different units of work, so each unit's partial keeps, per eval
beta, the found samples (their indices in the test subset) and every sample's distance; the
common samples are found in ``combine``.
"""
from __future__ import annotations

from ..attacks import zero_gradient_pgd
from ..outcomes import Outcome
from ..runner.config import EVAL_BETAS, caps_for
from .sweeps import CAPPED, figure_block, networks
from ..runner.units import Split


def curve(ctx, name, spec, x, y, images) -> tuple:
    """One trained network's zero-gradient distances over the evaluation caps: ``(curve,
    samples)``, ``samples`` per eval beta ``{"found": [index], "distance": [every sample's]}``."""
    be = ctx.backend
    net = ctx.model(spec)
    out = {"distance": [], "found_fraction": [], "mean_steps": [], "distance_censored": []}
    samples = []
    for beta in EVAL_BETAS:
        res = zero_gradient_pgd(net.with_caps(caps_for(CAPPED[name], beta, 2)), x, y,
                                max_steps=ctx.profile.zero_max_steps)
        found, distance = be.to_host(res.found), be.to_host(res.distance)
        n_found = int(found.sum())
        out["found_fraction"].append(Outcome(found, images))
        out["distance"].append(float(distance[found].mean()) if n_found else None)
        out["mean_steps"].append(float(be.to_host(res.steps)[found].mean()) if n_found else None)
        out["distance_censored"].append(float(distance.mean()) if len(y) else None)
        samples.append({"found": [int(i) for i in found.nonzero()[0]],
                        "distance": [float(d) for d in distance]})
    return out, samples


def common_distances(samples: dict) -> dict:
    """``{config: (distance_common, n_common)}`` for one (initial beta, eval beta) point from
    ``samples`` = {config: {"found": [index], "distance": [per sample]}}, one entry per capped
    layer(s): each configuration's mean distance over the samples found in every one of them
    (None, 0 when there is none)."""
    common = set.intersection(*(set(s["found"]) for s in samples.values()))
    rows = sorted(common)
    return {name: ((sum(s["distance"][i] for i in rows) / len(rows)) if rows else None, len(rows))
            for name, s in samples.items()}


def split(figure) -> Split:
    """One of Figures 8-10, one unit per trained network of its PGD figure
    (``sweeps.PGD_FIGURE``)."""
    def run_unit(ctx, unit):
        name, _, spec = networks(figure, ctx.seed)[unit]
        x, y = ctx.test(ctx.profile.n_zero)
        out, samples = curve(ctx, name, spec, x, y, ctx.indices(ctx.profile.n_zero))
        return {"curve": out, "samples": samples, "n_test": int(len(y))}

    def combine(ctx, partials):
        max_steps = ctx.profile.zero_max_steps
        units = networks(figure, ctx.seed)
        common = {u: {"distance_common": [], "n_common": []} for u in units}
        for beta0 in dict.fromkeys(b for _, b, _ in units.values()):
            mine = [u for u, (_, b, _) in units.items() if b == beta0]
            for k in range(len(EVAL_BETAS)):
                point = common_distances({u: partials[u]["samples"][k] for u in mine})
                for u, (dist, n) in point.items():
                    common[u]["distance_common"].append(dist)
                    common[u]["n_common"].append(n)
        curves = {u: {"curve": {**partials[u]["curve"], **common[u]},
                      "n_test": partials[u]["n_test"]} for u in units}
        block = figure_block(figure, ctx, curves, {"max_steps": max_steps})
        return {figure: block}, {
            "max_steps": max_steps, "attack": zero_gradient_pgd.__module__,
            "distance_censored": "mean over all samples, a not-found one at its distance when the "
                                 "step cap stopped it (a lower bound)",
            "distance_common": "mean over the samples found for every capped layer (HL1, HL2, "
                               "HL12) at the same initial and eval beta"}

    return Split(lambda ctx: list(networks(figure, ctx.seed)), run_unit, combine,
                 lambda ctx, unit: [networks(figure, ctx.seed)[unit][2]])
