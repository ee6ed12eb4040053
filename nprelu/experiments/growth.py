"""Section 3.1, Figures 1 and 2: perturbations grow through ReLU layers; caps stop them.

A 784-392-196-98-10 network is trained with plain ReLU and attacked with PGD (eps 20/256, step
2/256, 20 steps). The same adversarial images are then fed to networks of the same architecture
trained with a cap on HL1, HL2, HL3 or all three, for beta in {0.01, 0.1, 1, 10, 100}. Figure 1
is the mean L-inf and L2 distance between clean and adversarial activations at each hidden layer;
Figure 2 is the clean test accuracy of those capped networks.
"""
from __future__ import annotations

from .. import paper
from ..attacks import pgd
from ..measures import perturbation_growth, standard_accuracy
from .config import DEEP, caps_for
from .store import ModelSpec
from .summary import beta_key

BETAS = paper.FIG1["betas"]
CAPPED = paper.FIG1["capped"]
PGD = {**paper.FIG1["pgd"], "random_start": False}   # the start is ours (paper.OPEN_SETTINGS)
N_HIDDEN = len(DEEP) - 2


def run(ctx) -> tuple:
    x, y = ctx.test(ctx.profile.n_growth)
    plain = ctx.model(ModelSpec(DEEP, caps_for((), None, N_HIDDEN), seed=ctx.seed))
    x_adv = pgd(plain, x, y, **PGD)
    fig1 = {"betas": list(BETAS), "capped_layers": list(CAPPED),
            "uncapped": perturbation_growth(plain, x, x_adv), "capped": {}}
    fig2 = {"betas": list(BETAS), "capped_layers": list(CAPPED),
            "uncapped": standard_accuracy(plain, x, y), "accuracy": {}}
    for name, layers in CAPPED.items():
        fig1["capped"][name], fig2["accuracy"][name] = {}, {}
        for beta in BETAS:
            net = ctx.model(ModelSpec(DEEP, caps_for(layers, beta, N_HIDDEN), seed=ctx.seed))
            fig1["capped"][name][beta_key(beta)] = perturbation_growth(net, x, x_adv)
            fig2["accuracy"][name][beta_key(beta)] = standard_accuracy(net, x, y)
    settings = {"network": list(DEEP), "pgd_on_uncapped": PGD, "betas": list(BETAS),
                "note": "adversarial images are made once on the uncapped network and reused "
                        "for every capped network (the paper's procedure)"}
    return {"fig01": fig1, "fig02": fig2}, settings
