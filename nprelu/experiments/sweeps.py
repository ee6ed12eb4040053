"""Sections 4-5, Figures 4-6: which layer to cap, by its size and its depth, under PGD.

Three two-hidden-layer networks: general (392-196), reversed (196-392) and equal (784-784). Each
is trained with a cap on HL1, on HL2 or on both, at an initial beta of 0.01, 0.1 or 1; each
trained network is then evaluated with beta = 0.01, 0.02, ..., 0.15 at the same layer(s):
standard accuracy, robust accuracy and PGD success rate. One unit of work per trained network.

The paper does not give the PGD settings of these sections; we use those it gives for Table 1
(eps 0.1, step 0.01, 10 steps) with a random start, the common PGD of Madry et al.
"""
from __future__ import annotations

from .. import paper
from ..attacks import pgd
from ..measures import accuracy_outcome, success_outcome
from ..runner.config import EVAL_BETAS, caps_for
from ..runner.store import ModelSpec
from ..runner.summary import beta_key
from ..runner.units import Split, unit_id

NETWORKS = paper.SWEEPS["networks"]
INITIAL_BETAS = paper.SWEEPS["initial_betas"]
CAPPED = paper.SWEEPS["capped"]
PGD = {**paper.SECTION8["pgd"], "random_start": True}   # ours for Figs 4-6 (paper.OPEN_SETTINGS)
#: Each zero-gradient figure (Figures 8-10, ``zero_gradient``) reuses the networks of a PGD figure.
PGD_FIGURE = {"fig08": "fig04", "fig09": "fig05", "fig10": "fig06"}


def specs(sizes, seed):
    """``(capped layers' name, initial beta, ModelSpec)`` of every network of one figure."""
    for name, layers in CAPPED.items():
        for beta0 in INITIAL_BETAS:
            yield name, beta0, ModelSpec(sizes, caps_for(layers, beta0, 2), seed=seed)


def networks(figure, seed) -> dict:
    """``{unit id: (capped layers' name, initial beta, ModelSpec)}``: one unit per trained
    network of one of Figures 4-6 (or of Figures 8-10, ``figure`` naming them, on the same
    networks)."""
    sizes = NETWORKS[PGD_FIGURE.get(figure, figure)][1]
    return {unit_id(figure, seed, f"{name}-{beta_key(beta0)}"): (name, beta0, spec)
            for name, beta0, spec in specs(sizes, seed)}


def curve(ctx, name, spec, x, y, images) -> dict:
    """One trained network's curves over the evaluation caps at its capped layer(s), each point
    a per-image :class:`~nprelu.outcomes.Outcome` on the test images ``images``."""
    net = ctx.model(spec)
    out = {"standard": [], "robust": [], "success": []}
    for k, beta in enumerate(EVAL_BETAS):
        capped = net.with_caps(caps_for(CAPPED[name], beta, 2))
        x_adv = pgd(capped, x, y, seed=ctx.seed * 1000 + k, **PGD)
        out["standard"].append(accuracy_outcome(capped, x, y, images))
        out["robust"].append(accuracy_outcome(capped, x_adv, y, images))
        out["success"].append(success_outcome(capped, x, x_adv, y, images))
    return out


def figure_block(figure, ctx, partials, extra=None) -> dict:
    """A Figures 4-6 or 8-10 block from its units' partials ``{"curve", "n_test"}``."""
    network, sizes = NETWORKS[PGD_FIGURE.get(figure, figure)]
    curves, n_test = {}, 0
    for unit, (name, beta0, _) in networks(figure, ctx.seed).items():
        curves.setdefault(name, {})[beta_key(beta0)] = partials[unit]["curve"]
        n_test = partials[unit]["n_test"]
    return {"network": network, "sizes": list(sizes), "betas_eval": list(EVAL_BETAS),
            "initial_betas": list(INITIAL_BETAS), "capped_layers": list(CAPPED), "curves": curves,
            "n_test": n_test, **(extra or {})}


def split(figure) -> Split:
    """One of Figures 4-6, one unit per trained network (capped layers x initial beta)."""
    def run_unit(ctx, unit):
        name, _, spec = networks(figure, ctx.seed)[unit]
        x, y = ctx.test(ctx.profile.n_sweep)
        return {"curve": curve(ctx, name, spec, x, y, ctx.indices(ctx.profile.n_sweep)),
                "n_test": int(len(y))}

    def combine(ctx, partials):
        return {figure: figure_block(figure, ctx, partials)}, {
            "pgd": PGD, "network": NETWORKS[figure][0], "initial_betas": list(INITIAL_BETAS),
            "eval_betas": "0.01 to 0.15 in steps of 0.01"}

    return Split(lambda ctx: list(networks(figure, ctx.seed)), run_unit, combine,
                 lambda ctx, unit: [networks(figure, ctx.seed)[unit][2]])
