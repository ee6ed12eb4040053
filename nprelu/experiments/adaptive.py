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

from ..attacks import SURROGATES
from ..attacks.registry import P_INIT
from ..checklist import format_checklist, run_checklist
from ..evaluation import Run, craft, evaluate
from ..measures import zero_gradient_mask
from ..outcomes import Outcome
from ..runner.config import EVAL_BETAS, GENERAL
from ..runner.context import subset_indices
from ..runner.store import ModelSpec
from ..runner.summary import beta_key
from .sweeps import INITIAL_BETAS
from .table1 import FGSM, PGD, models
from ..runner.units import Split, network_units, unit_id

EPS = PGD["eps"]   # Table 1's budget (FGSM's eps too)
MARGIN_PGD = {"eps": EPS, "step": 0.01, "steps": 20, "restarts": 5}
_PGD_BUDGET = {k: PGD[k] for k in ("step", "steps", "random_start")}
#: Table 1's PGD crafted on the uncapped twin (one batch may serve several networks).
TRANSFER = Run("transfer", _PGD_BUDGET)

# The test subsets and Square's query budgets are the profile's (config.Profile: n_adaptive,
# adaptive_queries, n_checklist, checklist_steps, checklist_eps_steps, n_fig12, fig12_queries).


def suite(queries) -> tuple:
    """The adaptive suite at eps 0.1 (module doc), every attack seeded with the unit's seed:
    Table 1's PGD and FGSM, BPDA-PGD with each surrogate (capped networks only), transfer,
    Square with ``queries`` and margin PGD (:data:`MARGIN_PGD`)."""
    return (Run("pgd", _PGD_BUDGET), Run("fgsm"),
            *(Run(f"bpda_{s}", _PGD_BUDGET, capped_only=True) for s in SURROGATES),
            TRANSFER, Run("square", {"square_queries": queries}),
            Run("margin_pgd", {"margin_step": MARGIN_PGD["step"],
                               "margin_steps": MARGIN_PGD["steps"],
                               "margin_restarts": MARGIN_PGD["restarts"]}))


def test_images(ctx, n) -> tuple:
    """``(x, y, index)``: ``ctx.test(n)`` and the test-image index of each of its rows
    (:func:`~nprelu.runner.context.subset_indices`), which keys the attacks' random draws
    per image."""
    x, y = ctx.test(n)
    return x, y, subset_indices(ctx.seed, n, len(ctx.data[3]))


def row_numbers(ev) -> dict:
    """A row's accuracies from the full :class:`~nprelu.evaluation.Evaluation` of :func:`suite`
    (every attack on every image: the row reports each attack's accuracy). Its worst case is
    correct clean and under every attack; Square returns a misclassified image unchanged, so it
    is also the AND over the attacks alone, as "over every attack"."""
    acc = {k: ev.outcome(k) for k in ev.outcomes}     # per-image Outcomes
    bpda = [acc[k] for k in acc if k.startswith("bpda_")]
    return {"clean": ev.outcome("clean"), "pgd": acc["pgd"], "fgsm": acc["fgsm"],
            # the weaker BPDA's images (the first at a tie); uncapped: BPDA-PGD is plain PGD
            "bpda": min(bpda, key=lambda o: o.value) if bpda else acc["pgd"],
            "bpda_relu": acc.get("bpda_relu"), "bpda_identity": acc.get("bpda_identity"),
            "transfer": acc["transfer"], "square": acc["square"], "margin_pgd": acc["margin_pgd"],
            "worst_case": ev.outcome("worst")}


def _rows(seed) -> dict:
    """``{unit id: ModelSpec}``: one unit per network of Table 1, in its row order."""
    return network_units("adaptive", seed, models(seed))


def _curves(seed) -> dict:
    """``{unit id: initial beta}``: one unit per trained network of Figure 12."""
    return {unit_id("adaptive", seed, f"fig12-{beta_key(beta0)}"): beta0
            for beta0 in INITIAL_BETAS}


def run_unit(ctx, unit) -> dict:
    if unit in _curves(ctx.seed):
        x, y, index = test_images(ctx, ctx.profile.n_fig12)
        return {"curve": curve(ctx, _curves(ctx.seed)[unit], x, y, index), "n_test": int(len(y))}
    return row(ctx, _rows(ctx.seed)[unit])


def row(ctx, spec) -> dict:
    """One of Table 1's networks under every attack, and its checklist."""
    p = ctx.profile
    x, y, index = test_images(ctx, p.n_adaptive)
    xc, yc = ctx.test(p.n_checklist)
    net, source = ctx.model(spec), ctx.model(spec.uncapped())  # twins are among Table 1's
    ev = evaluate(net, x, y, EPS, suite(p.adaptive_queries), seed=ctx.seed,
                  sources={"uncapped": source}, index=index, cascade=False)
    numbers = {"beta": spec.caps[1], "adv_training": spec.adv or "none", "n": int(len(y)),
               **row_numbers(ev),
               "zero_gradient_fraction": Outcome(zero_gradient_mask(net, x, y), index)}
    records = run_checklist(net, xc, yc, EPS, steps=p.checklist_steps,
                            eps_steps=p.checklist_eps_steps, n_queries=p.adaptive_queries,
                            p_init=P_INIT, seed=ctx.seed)
    checks = {"beta": numbers["beta"], "adv_training": numbers["adv_training"],
              "n": int(len(yc)), "checks": [r.as_dict() for r in records],
              "lines": format_checklist(records)}
    return {"row": numbers, "checklist": checks}


def curve(ctx, beta0, x, y, index=None) -> dict:
    """Figure 12, one trained network (HL2 trained at ``beta0``): robust accuracy against the
    evaluation cap, plain PGD and the worst case."""
    net = ctx.model(ModelSpec(GENERAL, (None, beta0), seed=ctx.seed))
    source = ctx.model(ModelSpec(GENERAL, (None, None), seed=ctx.seed))
    sources = {"uncapped": source}
    made = {"transfer": craft(net, x, y, EPS, TRANSFER, ctx.seed, sources, index)}  # every beta
    out = {"pgd": [], "worst_case": [], "standard": []}
    for k, beta in enumerate(EVAL_BETAS):
        capped = net.with_caps((None, beta))
        ev = evaluate(capped, x, y, EPS, suite(ctx.profile.fig12_queries),
                      seed=ctx.seed * 1000 + k, sources=sources, made=made, index=index,
                      cascade=False)
        nums = row_numbers(ev)
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
def networks(ctx, unit) -> list:
    """The networks ``unit`` asks the store for: a row's network and its uncapped twin (the
    transfer source); a Figure 12 unit's HL2 network trained at its beta and the uncapped one."""
    if unit in _curves(ctx.seed):
        return [ModelSpec(GENERAL, (None, _curves(ctx.seed)[unit]), seed=ctx.seed),
                ModelSpec(GENERAL, (None, None), seed=ctx.seed)]
    spec = _rows(ctx.seed)[unit]
    return [spec, spec.uncapped()]


SPLIT = Split(lambda ctx: [*_rows(ctx.seed), *_curves(ctx.seed)], run_unit, combine, networks)


def settings(p) -> dict:
    return {"eps": EPS, "pgd": PGD, "fgsm": FGSM, "bpda": {**PGD, "surrogates": list(SURROGATES)},
            "transfer": "PGD (Table 1's settings) on the uncapped twin",
            "square": {"n_queries": p.adaptive_queries, "p_init": P_INIT, "loss": "logit margin"},
            "margin_pgd": MARGIN_PGD, "worst_case": "per sample, over every attack above",
            "checklist": {"n": p.n_checklist, "pgd_steps": list(p.checklist_steps),
                          "eps_steps": p.checklist_eps_steps},
            "fig12": {"n": p.n_fig12, "square_queries": p.fig12_queries},
            "subsets": {"n": p.n_adaptive, "n_check": p.n_checklist, "n_curve": p.n_fig12}}
