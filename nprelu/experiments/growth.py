"""Section 3.1, Figures 1 and 2: perturbations grow through ReLU layers; caps stop them.

A 784-392-196-98-10 network is trained with plain ReLU and attacked with PGD (eps 20/256, step
2/256, 20 steps). The same adversarial images are then fed to networks of the same architecture
trained with a cap on HL1, HL2, HL3 or all three, for beta in {0.01, 0.1, 1, 10, 100}. Figure 1
is the mean L-inf and L2 distance between clean and adversarial activations at each hidden layer;
Figure 2 is the clean test accuracy of those capped networks. One unit of work per network; the
adversarial images are computed once and shared (``Context.shared``).
"""
from __future__ import annotations

from .. import paper
from ..attacks import pgd
from ..measures import accuracy_outcome, perturbation_growth
from ..runner.config import DEEP, caps_for
from ..runner.context import subset_key
from ..runner.store import ModelSpec
from ..runner.summary import beta_key
from ..runner.units import Split, unit_id

BETAS = paper.FIG1["betas"]
CAPPED = paper.FIG1["capped"]
PGD = {**paper.FIG1["pgd"], "random_start": False}   # the start is ours (paper.OPEN_SETTINGS)
N_HIDDEN = len(DEEP) - 2


def _networks(seed) -> dict:
    """``{unit id: (capped layers' name, beta)}``, the uncapped network first (name None)."""
    units = {unit_id("fig01-02", seed, "uncapped"): (None, None)}
    for name in CAPPED:
        for beta in BETAS:
            units[unit_id("fig01-02", seed, f"{name}-{beta_key(beta)}")] = (name, beta)
    return units


def _spec(name, beta, seed) -> ModelSpec:
    return ModelSpec(DEEP, caps_for(CAPPED[name] if name else (), beta, N_HIDDEN), seed=seed)


def adversarial_images(ctx, x, y):
    """PGD on the uncapped network, made once per output directory and shared by every unit."""
    plain = _spec(None, None, ctx.seed)
    config = {"model": ctx.store.config(plain), "pgd": PGD, "n_test": int(len(y)),
              "subset": ctx.drawn()[str(ctx.seed)][subset_key(ctx.profile.n_growth)]}
    return ctx.shared(f"fig01_pgd_{plain.name}", config,
                      lambda: pgd(ctx.model(plain), x, y, **PGD))


def run_unit(ctx, unit) -> dict:
    """One network's perturbation growth and accuracy (the uncapped one, or a capped one)."""
    name, beta = _networks(ctx.seed)[unit]
    x, y = ctx.test(ctx.profile.n_growth)
    net = ctx.model(_spec(name, beta, ctx.seed))   # its own network first, then the shared PGD
    x_adv = adversarial_images(ctx, x, y)
    return {"growth": perturbation_growth(net, x, x_adv),
            "accuracy": accuracy_outcome(net, x, y, ctx.indices(ctx.profile.n_growth)),
            "n_test": int(len(y))}


def combine(ctx, partials) -> tuple:
    fig1 = {"betas": list(BETAS), "capped_layers": list(CAPPED), "capped": {}}
    fig2 = {"betas": list(BETAS), "capped_layers": list(CAPPED), "accuracy": {}}
    n_test = None
    for unit, (name, beta) in _networks(ctx.seed).items():
        part = partials[unit]
        if name is None:
            fig1["uncapped"], fig2["uncapped"] = part["growth"], part["accuracy"]
            n_test = part.get("n_test")
        else:
            fig1["capped"].setdefault(name, {})[beta_key(beta)] = part["growth"]
            fig2["accuracy"].setdefault(name, {})[beta_key(beta)] = part["accuracy"]
    settings = {"network": list(DEEP), "pgd_on_uncapped": PGD, "betas": list(BETAS),
                "note": "adversarial images are made once on the uncapped network and reused "
                        "for every capped network (the paper's procedure)"}
    fig2["n_test"] = n_test
    return {"fig01": fig1, "fig02": fig2}, settings


#: One unit per network: the uncapped one, then each capped layer(s) x beta; each needs its own
#: network and the uncapped one (the shared adversarial images).
SPLIT = Split(lambda ctx: list(_networks(ctx.seed)), run_unit, combine,
              lambda ctx, unit: list(dict.fromkeys(
                  [_spec(*_networks(ctx.seed)[unit], ctx.seed), _spec(None, None, ctx.seed)])))
