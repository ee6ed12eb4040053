"""The control (issue 24): adversarial training that sees through the cap.

Table 1's adversarial training crafts its FGSM / PGD examples with the TRUE input gradient
(:func:`~nprelu.adversarial_training.adversarial_hook`). On a capped network that gradient
passes a capped unit only where 0 < z < beta: at a small cap it is mostly 0, the examples
barely move, and the "adversarial" training is close to clean training. So Table 1 cannot say
whether a small cap fails under adversarial training because of the activation or because of
that recipe.

Here the same capped networks (GENERAL 392-196, HL2 capped at beta = 1, 0.1, 0.01) are
adversarially trained with FGSM and with PGD whose examples follow the BPDA gradient
(:data:`SURROGATE` "relu": straight through the cap, 1[z > 0]) while the forward pass, and so
the loss the weights descend, stays the capped network's (``ModelSpec.adv_surrogate``).
Everything else is Table 1's: the clean twin it starts from, eps 0.1, the epochs, the PGD.

Each network is evaluated exactly as a row of the ``suite`` block
(:func:`~nprelu.experiments.suite.at_eps`: the standard suite at eps 0.1 on the
``n_adaptive`` test images of the seed, as a cascade, the profile's suite budget, the same
attack seeds, the uncapped twin and an independently trained twin of the same spec, seed + 1,
as transfer sources), with Table 1's PGD beside it. The networks it is compared with, the
uncapped adversarially trained twins and the true-gradient adversarially trained capped
networks, are rows of the ``suite`` block of the same seed: the same images under the same
suite, so the report compares them image by image and seed by seed, without recomputing them.

One unit of work per network.
"""
from __future__ import annotations

from .. import paper
from ..runner.config import GENERAL
from ..runner.store import ModelSpec
from ..runner.units import Split, network_units
from . import suite

#: The gradient the control's adversarial examples follow through the capped layer.
SURROGATE = "relu"
#: The caps: Table 1's, without plain ReLU (there the surrogate is the true gradient).
BETAS = tuple(b for b in paper.SECTION8["betas"] if b is not None)
#: The training attacks: Table 1's.
ADV = tuple(a for a in paper.SECTION8["adv_trainings"] if a != "none")


def models(seed):
    """The six networks, by training attack then cap (Table 1's row order)."""
    for adv in ADV:
        for beta in BETAS:
            yield ModelSpec(GENERAL, (None, beta), seed=seed, adv=adv, adv_surrogate=SURROGATE)


def units(seed) -> dict:
    """``{unit id: ModelSpec}``: one unit per network ("control/s0/pgd-0.01")."""
    return network_units("control", seed, models(seed))


def run_unit(ctx, unit) -> dict:
    """One network under the suite's row evaluation (its Outcomes) and how it was trained."""
    spec = units(ctx.seed)[unit]
    numbers, _ = suite.at_eps(ctx, spec)
    return {**numbers, "adv_gradient": f"bpda-{spec.adv_surrogate}"}


def combine(ctx, partials) -> tuple:
    rows = [partials[u] for u in units(ctx.seed)]
    return {"control": {"eps": suite.EPS, "surrogate": SURROGATE, "rows": rows}}, \
        settings(ctx.profile)


def networks(ctx, unit) -> list:
    """A unit's network, its uncapped twin (the suite's uncapped adversarially trained network)
    and its independently trained twin (seed + 1, trained through the cap too)."""
    spec = units(ctx.seed)[unit]
    return [spec, spec.uncapped(), suite.twin_spec(spec)]


SPLIT = Split(lambda ctx: list(units(ctx.seed)), run_unit, combine, networks)


def settings(p) -> dict:
    s = suite.settings(p)
    return {"adv_training": f"Table 1's (FGSM or PGD, eps {paper.SECTION8['adv_eps']}, "
                            f"{p.adv_epochs} epochs from the clean twin), each example made "
                            f"with the BPDA gradient (surrogate {SURROGATE!r}: 1[z > 0] in the "
                            "capped layer) on the true capped forward pass",
            "betas": list(BETAS), "adv_trainings": list(ADV),
            "evaluation": "the suite block's row evaluation (same images, suite, budget, "
                          "seeds and transfer sources)",
            "compared with": "the suite block's rows of the same seed: the true-gradient "
                             "adversarially trained capped networks and the uncapped "
                             "adversarially trained twins",
            **{k: s[k] for k in ("eps", "attacks", "suite_budget", "budget_in_words",
                                 "transfer_uncapped", "transfer_twin", "transfer twin seed",
                                 "worst_case", "worst_case_common", "pgd_paper")},
            "subsets": {"n": p.n_adaptive}}
