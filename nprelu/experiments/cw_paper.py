"""Beyond the paper: CW-L2 at the paper's budget (issue 24 item 5). Is the CW gap the budget?

The CW-L2 gap (:mod:`.cw_gap`) runs its CW variants at a reduced budget (6 search steps x
1,000 iterations in the paper profile), so the gap between our CW-L2 accuracy and the paper's
Table 1 number on the capped networks might be that budget. Here each capped network of Table 1
without adversarial training (GENERAL 392-196, cap beta on HL2, beta 1, 0.1, 0.01; the same
ModelSpecs as ``table1.models``) is attacked by CW-L2 at the paper's budget
(``paper.SECTION8["cw"]``: 9 binary-search steps x 10,000 Adam iterations, lr 0.01, c_init
0.001; :data:`BUDGETS_PER_PROFILE`), on the ``n_adaptive`` test images of the seed (the same
images as ``cw_gap`` and the suite, so the report can compare image by image), with

- ``cw``: the true gradient (Table 1's attack, the paper's budget);
- ``cw_bpda_relu``: the capped layer's derivative replaced in the backward pass by ReLU's
  1[z > 0] (BPDA, ``cw_l2(surrogate="relu")``), as ``cw_gap``'s variant of that name.

The gradient names are ``cw_gap``'s variant names, so a row's ``variants.cw`` here and in
``cw_gap`` are the same attack at two budgets. Measures per network and gradient
(:func:`.cw_gap.cw_measures`): the accuracy on CW's output (Table 1's measure, an Outcome), the
accuracy at ``cw_gap.BUDGETS`` (Outcomes) and the L2 quartiles of the successful examples.
One unit per network, gradient and seed ("cw_paper/s0/none-0.1-cw"): at 9 x 10,000 on 1,000
images one unit is long, and the two gradients of a network run on two workers.
"""
from __future__ import annotations

from .. import paper
from ..attacks import cw_l2
from ..runner.config import GENERAL
from ..runner.summary import beta_key
from ..runner.units import Split, unit_id
from .cw_gap import BUDGETS, cw_measures, paper_cw
from .table1 import CW, models

#: Binary-search steps and Adam iterations per step, per profile (``full`` and others fall back
#: to ``paper``): the paper's own budget in the paper profile; a small one in ``quick`` (a smoke
#: run of the code path, not a measurement), still above ``cw_gap``'s quick budget (3 x 50), as
#: the paper's is above cw_gap's paper budget.
BUDGETS_PER_PROFILE = {
    "quick": {"search_steps": 4, "max_iter": 100},
    "paper": {"search_steps": paper.SECTION8["cw"]["search_steps"],
              "max_iter": paper.SECTION8["cw"]["max_iter"]},
}
#: The gradients CW follows: ``cw_l2``'s options beyond Table 1's settings (cw_gap's names).
GRADIENTS = {"cw": {}, "cw_bpda_relu": {"surrogate": "relu"}}
#: The adversarial training of the networks (Table 1's "none": no adversarial training).
TRAINING = "none"


def search_budget(profile_name: str) -> dict:
    """``{"search_steps", "max_iter"}`` of a profile (``full`` and others: ``paper``'s)."""
    return dict(BUDGETS_PER_PROFILE.get(profile_name, BUDGETS_PER_PROFILE["paper"]))


def networks(seed) -> list:
    """Table 1's capped networks without adversarial training, in row order (its ModelSpecs)."""
    return [s for s in models(seed) if s.adv is None and s.caps[1] is not None]


def _units(seed) -> dict:
    """``{unit id: (ModelSpec, gradient)}``: per network (row order), each gradient."""
    return {unit_id("cw_paper", seed, f"{TRAINING}-{beta_key(spec.caps[1])}-{g}"): (spec, g)
            for spec in networks(seed) for g in GRADIENTS}


def run_unit(ctx, unit) -> dict:
    """One network under CW-L2 with one gradient, at the profile's budget."""
    spec, gradient = _units(ctx.seed)[unit]
    n = ctx.profile.n_adaptive
    x, y = ctx.test(n)
    net = ctx.model(spec)
    result = cw_l2(net, x, y, **CW, **search_budget(ctx.profile.name), **GRADIENTS[gradient])
    return {"measures": cw_measures(net, x, y, result, ctx.backend.to_host, ctx.indices(n)),
            "n": int(len(y))}


def settings(p) -> dict:
    return {"network": list(GENERAL), "capped_layer": "HL2", "adv_training": TRAINING,
            "cw": {**CW, "abort_early": True}, **search_budget(p.name),
            "paper_budget": {k: paper.SECTION8["cw"][k] for k in ("search_steps", "max_iter")},
            "gradients": {k: dict(v) for k, v in GRADIENTS.items()}, "budgets": list(BUDGETS),
            "n": p.n_adaptive, "images": "the n_adaptive test images of the seed (those of "
                                         "cw_gap and the suite)",
            "l2_distribution": "successful examples on clean-correct samples (ours)"}


def combine(ctx, partials) -> tuple:
    """One row per network, its gradients' measures under ``variants`` (cw_gap's row shape)."""
    rows, n = [], None
    for spec in networks(ctx.seed):
        beta = spec.caps[1]
        variants = {}
        for g in GRADIENTS:
            part = partials[unit_id("cw_paper", ctx.seed, f"{TRAINING}-{beta_key(beta)}-{g}")]
            variants[g] = dict(part["measures"])
            n = part["n"] if n is None else n
        rows.append({"beta": beta, "adv_training": TRAINING,
                     "paper_cw": paper_cw(beta, TRAINING), "variants": variants})
    block = {"n": int(n), **search_budget(ctx.profile.name), "budgets": list(BUDGETS),
             "variants": list(GRADIENTS), "rows": rows}
    return {"cw_paper": block}, settings(ctx.profile)


#: One unit per (capped network without adversarial training, gradient) and seed.
SPLIT = Split(lambda ctx: list(_units(ctx.seed)), run_unit, combine,
              networks=lambda ctx, unit: [_units(ctx.seed)[unit][0]])
