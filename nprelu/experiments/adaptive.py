"""Beyond the paper: adaptive attacks on Table 1's networks, to tell robustness from masking.

A capped ReLU is flat outside (0, beta), so its derivative is zero there, and attacks that follow
the gradient (FGSM, PGD, CW) can fail because the gradient carries no information, not because
the network is robust (Athalye, Carlini & Wagner 2018; Carlini et al. 2019). For each of Table
1's twelve networks, at Table 1's eps = 0.1, we run besides PGD and FGSM:

- BPDA-PGD: the real forward pass, with each capped layer's derivative replaced in the backward
  pass by plain ReLU's 1[z > 0] and, separately, by the identity (worst of the two reported);
- transfer: PGD examples made on the uncapped twin (same architecture, training and adversarial
  training, plain ReLU), evaluated on the capped network;
- the Square Attack (score-based, no gradient at all);
- PGD on the logit margin max_{i != y} Z_i - Z_y, with random restarts;

and report per row the worst case: a sample counts as robust only if every attack above fails
on it. The checklist of Carlini et al. 2019 is computed for every network on a smaller subset.
A second part re-caps the general network's HL2 over beta = 0.01 ... 0.15 (the networks of
Figure 4's HL2 row) and compares plain PGD with the worst case (``fig12``). One unit of work
per network of Table 1 and per network of Figure 12.

Nothing here is tuned toward an answer: the attack settings are fixed below, before any result.
"""
from __future__ import annotations

from ..attacks import SURROGATES, bpda_pgd, fgsm, margin_pgd, pgd, square_linf
from ..checklist import format_checklist, run_checklist
from ..measures import robust_accuracy, standard_accuracy, worst_case_robust_accuracy, \
    zero_gradient_fraction
from .config import EVAL_BETAS, GENERAL
from .store import ModelSpec
from .summary import beta_key
from .sweeps import INITIAL_BETAS
from .table1 import FGSM, PGD, models
from .units import Split, unit_id

EPS = PGD["eps"]   # Table 1's budget
MARGIN_PGD = {"eps": EPS, "step": 0.01, "steps": 20, "restarts": 5}
P_INIT = 0.3   # Square Attack's initial square fraction; the authors' general default is 0.05,
#                a larger first square suits 28x28 images (a 15x15 square at p = 0.3)

# The test subsets and Square's query budgets are the profile's (config.Profile: n_adaptive,
# adaptive_queries, n_checklist, checklist_steps, checklist_eps_steps, n_fig12, fig12_queries).


def adaptive_examples(net, source, x, y, seed, queries, transfer_adv=None):
    """Every attack's adversarial batch at eps 0.1, by name (see the module doc)."""
    advs = {"pgd": pgd(net, x, y, seed=seed, **PGD), "fgsm": fgsm(net, x, y, **FGSM)}
    if any(c is not None for c in net.caps):
        for s in SURROGATES:
            advs[f"bpda_{s}"] = bpda_pgd(net, x, y, surrogate=s, seed=seed, **PGD)
    advs["transfer"] = (transfer_adv if transfer_adv is not None
                        else pgd(source, x, y, seed=seed, **PGD))
    advs["square"] = square_linf(net, x, y, EPS, n_queries=queries, p_init=P_INIT, seed=seed).x_adv
    advs["margin_pgd"] = margin_pgd(net, x, y, seed=seed, **MARGIN_PGD)
    return advs


def row_numbers(net, advs, x, y) -> dict:
    acc = {k: robust_accuracy(net, a, y) for k, a in advs.items()}
    bpda = [acc[k] for k in acc if k.startswith("bpda_")]
    return {"clean": standard_accuracy(net, x, y), "pgd": acc["pgd"], "fgsm": acc["fgsm"],
            "bpda": min(bpda) if bpda else acc["pgd"],  # uncapped: BPDA-PGD is plain PGD
            "bpda_relu": acc.get("bpda_relu"), "bpda_identity": acc.get("bpda_identity"),
            "transfer": acc["transfer"], "square": acc["square"], "margin_pgd": acc["margin_pgd"],
            "worst_case": worst_case_robust_accuracy(net, list(advs.values()), y)}


def _rows(seed) -> dict:
    """``{unit id: ModelSpec}``: one unit per network of Table 1, in its row order."""
    return {unit_id("adaptive", seed, f"{spec.adv or 'none'}-{beta_key(spec.caps[1])}"): spec
            for spec in models(seed)}


def _curves(seed) -> dict:
    """``{unit id: initial beta}``: one unit per trained network of Figure 12."""
    return {unit_id("adaptive", seed, f"fig12-{beta_key(beta0)}"): beta0
            for beta0 in INITIAL_BETAS}


def run_unit(ctx, unit) -> dict:
    if unit in _curves(ctx.seed):
        x, y = ctx.test(ctx.profile.n_fig12)
        return {"curve": curve(ctx, _curves(ctx.seed)[unit], x, y), "n_test": int(len(y))}
    return row(ctx, _rows(ctx.seed)[unit])


def row(ctx, spec) -> dict:
    """One of Table 1's networks under every attack, and its checklist."""
    p = ctx.profile
    x, y = ctx.test(p.n_adaptive)
    xc, yc = ctx.test(p.n_checklist)
    net, source = ctx.model(spec), ctx.model(spec.uncapped())  # twins are among Table 1's
    advs = adaptive_examples(net, source, x, y, ctx.seed, p.adaptive_queries)
    numbers = {"beta": spec.caps[1], "adv_training": spec.adv or "none", "n": int(len(y)),
               **row_numbers(net, advs, x, y),
               "zero_gradient_fraction": zero_gradient_fraction(net, x, y)}
    records = run_checklist(net, xc, yc, EPS, steps=p.checklist_steps,
                            eps_steps=p.checklist_eps_steps, n_queries=p.adaptive_queries,
                            p_init=P_INIT, seed=ctx.seed)
    checks = {"beta": numbers["beta"], "adv_training": numbers["adv_training"],
              "n": int(len(yc)), "checks": [r.as_dict() for r in records],
              "lines": format_checklist(records)}
    return {"row": numbers, "checklist": checks}


def curve(ctx, beta0, x, y) -> dict:
    """Figure 12, one trained network (HL2 trained at ``beta0``): robust accuracy against the
    evaluation cap, plain PGD and the worst case."""
    net = ctx.model(ModelSpec(GENERAL, (None, beta0), seed=ctx.seed))
    source = ctx.model(ModelSpec(GENERAL, (None, None), seed=ctx.seed))
    transfer_adv = pgd(source, x, y, seed=ctx.seed, **PGD)  # one batch serves every beta
    out = {"pgd": [], "worst_case": [], "standard": []}
    for k, beta in enumerate(EVAL_BETAS):
        capped = net.with_caps((None, beta))
        advs = adaptive_examples(capped, source, x, y, ctx.seed * 1000 + k,
                                 ctx.profile.fig12_queries, transfer_adv)
        nums = row_numbers(capped, advs, x, y)
        for key in out:
            out[key].append(nums["clean" if key == "standard" else key])
    return out


def curve_block(units: dict, partials: dict) -> dict:
    """Figure 12's block (an ``adaptive_curve``; Figure 14's too) from its curve units
    ``{unit id: initial beta}`` and their results ``{unit id: {"curve", "n_test"}}``."""
    return {"network": "general", "sizes": list(GENERAL), "capped_layer": "HL2",
            "betas_eval": list(EVAL_BETAS), "initial_betas": list(INITIAL_BETAS),
            "curves": {beta_key(b): partials[u]["curve"] for u, b in units.items()},
            "n_test": partials[list(units)[-1]]["n_test"], "eps": EPS}


def combine(ctx, partials) -> tuple:
    rows = [partials[u] for u in _rows(ctx.seed)]
    result = {"eps": EPS, "rows": [r["row"] for r in rows],
              "checklist": [r["checklist"] for r in rows]}
    fig12 = curve_block(_curves(ctx.seed), partials)
    return {"adaptive": result, "fig12": fig12}, settings(ctx.profile)


#: One unit per network of Table 1 (attacks and checklist), then one per Figure 12 network.
SPLIT = Split(lambda ctx: [*_rows(ctx.seed), *_curves(ctx.seed)], run_unit, combine)


def settings(p) -> dict:
    return {"eps": EPS, "pgd": PGD, "fgsm": FGSM, "bpda": {**PGD, "surrogates": list(SURROGATES)},
            "transfer": "PGD (Table 1's settings) on the uncapped twin",
            "square": {"n_queries": p.adaptive_queries, "p_init": P_INIT, "loss": "logit margin"},
            "margin_pgd": MARGIN_PGD, "worst_case": "per sample, over every attack above",
            "checklist": {"n": p.n_checklist, "pgd_steps": list(p.checklist_steps),
                          "eps_steps": p.checklist_eps_steps},
            "fig12": {"n": p.n_fig12, "square_queries": p.fig12_queries},
            "subsets": {"n": p.n_adaptive, "n_check": p.n_checklist, "n_curve": p.n_fig12}}
