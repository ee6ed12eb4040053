"""Section 3.1, Figures 1 and 2: perturbations grow through ReLU layers; caps stop them.

A 784-392-196-98-10 network is trained with plain ReLU and attacked with PGD (eps 20/256, step
2/256, 20 steps). The same adversarial images are then fed to networks of the same architecture
trained with a cap on HL1, HL2, HL3 or all three, for beta in {0.01, 0.1, 1, 10, 100}. Figure 1
is the mean L-inf and L2 distance between clean and adversarial activations at each hidden layer;
Figure 2 is the clean test accuracy of those capped networks.
"""
from __future__ import annotations

from ..attacks import pgd
from ..measures import perturbation_growth, standard_accuracy
from .context import DEEP, ModelSpec, beta_key

BETAS = (0.01, 0.1, 1.0, 10.0, 100.0)
CAPPED = {"HL1": (0,), "HL2": (1,), "HL3": (2,), "HL123": (0, 1, 2)}
PGD = {"eps": 20 / 256, "step": 2 / 256, "steps": 20, "random_start": False}


def caps_for(layers, beta, n_hidden=3):
    return tuple(beta if i in layers else None for i in range(n_hidden))


def run(ctx) -> dict:
    x, y = ctx.test(ctx.profile.n_growth)
    plain = ctx.model(ModelSpec(DEEP, (None, None, None), seed=ctx.seed))
    x_adv = pgd(plain, x, y, **PGD)
    fig1 = {"betas": list(BETAS), "capped_layers": list(CAPPED),
            "uncapped": perturbation_growth(plain, x, x_adv), "capped": {}}
    fig2 = {"betas": list(BETAS), "capped_layers": list(CAPPED),
            "uncapped": standard_accuracy(plain, x, y), "accuracy": {}}
    for name, layers in CAPPED.items():
        fig1["capped"][name], fig2["accuracy"][name] = {}, {}
        for beta in BETAS:
            net = ctx.model(ModelSpec(DEEP, caps_for(layers, beta), seed=ctx.seed))
            fig1["capped"][name][beta_key(beta)] = perturbation_growth(net, x, x_adv)
            fig2["accuracy"][name][beta_key(beta)] = standard_accuracy(net, x, y)
    settings = {"network": list(DEEP), "pgd_on_uncapped": PGD, "betas": list(BETAS),
                "note": "adversarial images are made once on the uncapped network and reused "
                        "for every capped network (the paper's procedure)"}
    return {"fig01": fig1, "fig02": fig2}, settings


def models(seed):
    yield ModelSpec(DEEP, (None, None, None), seed=seed)
    for layers in CAPPED.values():
        for beta in BETAS:
            yield ModelSpec(DEEP, caps_for(layers, beta), seed=seed)
