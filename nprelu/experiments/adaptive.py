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
Figure 4's HL2 row) and compares plain PGD with the worst case (``fig12``).

Nothing here is tuned toward an answer: the attack settings are fixed below, before any result.
"""
from __future__ import annotations

from dataclasses import replace

from ..attacks import bpda_pgd, fgsm, margin_pgd, pgd, square_linf
from ..checklist import format_checklist, run_checklist
from ..measures import robust_accuracy, standard_accuracy, worst_case_robust_accuracy, \
    zero_gradient_fraction
from .context import EVAL_BETAS, GENERAL, ModelSpec
from .table1 import FGSM, PGD, models as table1_models
from .sweeps import INITIAL_BETAS

EPS = 0.1
MARGIN_PGD = {"eps": EPS, "step": 0.01, "steps": 20, "restarts": 5}
SURROGATES = ("relu", "identity")
P_INIT = 0.3   # Square Attack's initial square fraction; the authors' general default is 0.05,
#                a larger first square suits 28x28 images (a 15x15 square at p = 0.3)

# Test images attacked per profile (first N of the test set), Square's query budget, and the
# checklist's subset and PGD step counts. Kept apart from Profile so that adding this experiment
# did not change the settings (and invalidate the summaries) of runs made before it existed.
SIZES = {
    "quick": {"n": 200, "queries": 200, "n_check": 50, "check_steps": (10, 30, 100),
              "eps_steps": 20, "n_curve": 100, "curve_queries": 100},
    "paper": {"n": 1000, "queries": 1000, "n_check": 200, "check_steps": (10, 100, 1000),
              "eps_steps": 100, "n_curve": 500, "curve_queries": 300},
    "full": {"n": None, "queries": 1000, "n_check": 1000, "check_steps": (10, 100, 1000),
             "eps_steps": 100, "n_curve": None, "curve_queries": 1000},
}


def models(seed):
    yield from table1_models(seed)  # their uncapped twins are among them


def twin(spec: ModelSpec) -> ModelSpec:
    """The same network with plain ReLU everywhere: the transfer attack's source."""
    return replace(spec, caps=tuple(None for _ in spec.caps))


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


def run(ctx):
    size = SIZES.get(ctx.profile.name, SIZES["paper"])
    x, y = ctx.test(size["n"])
    xc, yc = ctx.test(size["n_check"])
    rows, checks = [], []
    for spec in models(ctx.seed):
        net, source = ctx.model(spec), ctx.model(twin(spec))
        advs = adaptive_examples(net, source, x, y, ctx.seed, size["queries"])
        row = {"beta": spec.caps[1], "adv_training": spec.adv or "none", "n": int(len(y)),
               **row_numbers(net, advs, x, y),
               "zero_gradient_fraction": zero_gradient_fraction(net, x, y)}
        rows.append(row)
        records = run_checklist(net, xc, yc, EPS, steps=size["check_steps"],
                                eps_steps=size["eps_steps"], n_queries=size["queries"],
                                p_init=P_INIT, seed=ctx.seed)
        checks.append({"beta": row["beta"], "adv_training": row["adv_training"],
                       "n": int(len(yc)), "checks": [r.as_dict() for r in records],
                       "lines": format_checklist(records)})
    result = {"eps": EPS, "rows": rows, "checklist": checks}
    return {"adaptive": result, "fig12": curve(ctx, size)}, settings(size)


def curve(ctx, size) -> dict:
    """Figure 12: robust accuracy against the evaluation cap, plain PGD and the worst case."""
    x, y = ctx.test(size["n_curve"])
    source = ctx.model(ModelSpec(GENERAL, (None, None), seed=ctx.seed))
    transfer_adv = pgd(source, x, y, seed=ctx.seed, **PGD)  # one batch serves every beta
    curves = {}
    for beta0 in INITIAL_BETAS:
        net = ctx.model(ModelSpec(GENERAL, (None, beta0), seed=ctx.seed))
        out = {"pgd": [], "worst_case": [], "standard": []}
        for k, beta in enumerate(EVAL_BETAS):
            capped = net.with_caps((None, beta))
            advs = adaptive_examples(capped, source, x, y, ctx.seed * 1000 + k,
                                     size["curve_queries"], transfer_adv)
            nums = row_numbers(capped, advs, x, y)
            for key in out:
                out[key].append(nums["clean" if key == "standard" else key])
        curves[format(beta0, "g")] = out
    return {"network": "general", "sizes": list(GENERAL), "capped_layer": "HL2",
            "betas_eval": list(EVAL_BETAS), "initial_betas": list(INITIAL_BETAS),
            "curves": curves, "n_test": int(len(y)), "eps": EPS}


def settings(size) -> dict:
    return {"eps": EPS, "pgd": PGD, "fgsm": FGSM, "bpda": {**PGD, "surrogates": list(SURROGATES)},
            "transfer": "PGD (Table 1's settings) on the uncapped twin",
            "square": {"n_queries": size["queries"], "p_init": P_INIT, "loss": "logit margin"},
            "margin_pgd": MARGIN_PGD, "worst_case": "per sample, over every attack above",
            "checklist": {"n": size["n_check"], "pgd_steps": list(size["check_steps"]),
                          "eps_steps": size["eps_steps"]},
            "fig12": {"n": size["n_curve"], "square_queries": size["curve_queries"]},
            "subsets": {k: size[k] for k in ("n", "n_check", "n_curve")}}
