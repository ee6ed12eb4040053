"""Beyond the paper: one attack suite, one budget, for every network of Table 1 (issue 14).

The adaptive experiment runs its surrogate attacks only on capped networks; here every network,
capped or not, gets the same suite (:mod:`nprelu.evaluation`: APGD-CE, APGD-DLR and APGD-T with
the true gradient and the BPDA surrogates relu, identity and softplus, margin PGD, Square,
transfer from the uncapped twin and from an independently trained twin of the same spec,
seed + 1) with the same restarts, steps and queries, and we report per network the per-sample
worst case at Table 1's eps = 0.1 (block ``suite``; ``worst_case_common``: the same over only the
attacks that are the same on both twins, :func:`~nprelu.attacks.registry.common_to_twins`), robust accuracy against eps under Table 1's PGD and under
a reduced suite (``fig13``), and Figure 12's curves under the reduced suite (``fig14``).

Every worst case runs the suite as a cascade (:func:`~nprelu.evaluation.evaluate`, AutoAttack's
way): each attack only on the images that the attacks before it left correct, which gives the
worst case of every attack on every image. The row's per-attack accuracies (``attacks``) need
every attack on every image, so they come from a full run on a smaller subset, the first
``n_attacks`` = n / :data:`ATTACKS_SHARE` images drawn at random from the row's n (labelled so in
the row).

One unit per Table 1 network (its row and its eps curve) and one per Figure 12 network. The
budgets are fixed below (:data:`SUITE`, :data:`CURVE_QUERIES`), before any result; the profile's
``n_adaptive`` and ``n_fig12`` give the test subsets.
"""
from __future__ import annotations

from dataclasses import asdict, replace

from ..activations import SOFTPLUS_K
from ..attacks import pgd
import numpy as np

from ..attacks.registry import P_INIT, common_to_twins
from ..evaluation import CASCADE_ORDER, MARGIN_STEP, STANDARD_BUDGET, SuiteBudget, \
    attack_seed, budget_words, correct_mask, curve_attacks, evaluate, pgd_step, \
    standard_attacks, standard_suite
from ..measures import accuracy_outcome
from ..outcomes import Outcome
from .adaptive import curve_block, test_images
from ..runner.config import EVAL_BETAS, GENERAL
from ..runner.store import ModelSpec
from ..runner.summary import beta_key
from .sweeps import INITIAL_BETAS
from .table1 import PGD, models
from ..runner.units import Split, network_units, unit_id

EPS = PGD["eps"]   # Table 1's budget
EPS_GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
#: The suite's budget per profile ("full" falls back to "paper").
SUITE = {"quick": SuiteBudget(restarts=1, steps=5, margin_steps=5, margin_restarts=1,
                              square_queries=100),
         "paper": STANDARD_BUDGET}
#: Square's queries in the reduced suite of the curves (Figures 13 and 14).
CURVE_QUERIES = {"quick": 50, "paper": 1000}
TWIN_SEED_OFFSET = 1   # the independently trained twin: the same spec with seed + 1
# Seed streams of one unit (evaluation.attack_seed): the row's suite uses ctx.seed itself.
_CURVE_PGD, _CURVE_SUITE = 100, 200
#: The per-attack accuracies' subset: n / ATTACKS_SHARE images drawn at random from the row's n
#: (:func:`attacks_subset`), with its own salt.
ATTACKS_SHARE, ATTACKS_SALT = 5, 20_261_202


def budget(profile) -> SuiteBudget:
    return SUITE.get(profile.name, SUITE["paper"])


def curve_budget(profile) -> SuiteBudget:
    return budget(profile).reduced(CURVE_QUERIES.get(profile.name, CURVE_QUERIES["paper"]))


def curve_suite(profile) -> tuple:
    """The reduced suite of the curves (:func:`~nprelu.evaluation.curve_attacks`) with
    :func:`curve_budget`."""
    return standard_suite(curve_budget(profile), curve_attacks())


def twin_spec(spec: ModelSpec) -> ModelSpec:
    """The same caps and adversarial training, trained from seed + 1."""
    return replace(spec, seed=spec.seed + TWIN_SEED_OFFSET)


def _rows(seed) -> dict:
    """``{unit id: ModelSpec}``: one unit per network of Table 1, in its row order."""
    return network_units("suite", seed, models(seed))


def _curves(seed) -> dict:
    """``{unit id: initial beta}``: one unit per trained network of Figure 12."""
    return {unit_id("suite", seed, f"fig14-{beta_key(beta0)}"): beta0 for beta0 in INITIAL_BETAS}


def run_unit(ctx, unit) -> dict:
    if unit in _curves(ctx.seed):
        return fig14_curve(ctx, _curves(ctx.seed)[unit])
    return row(ctx, _rows(ctx.seed)[unit])


def row(ctx, spec) -> dict:
    """One of Table 1's networks: the whole suite at eps 0.1, and its eps curve."""
    numbers, (net, sources) = at_eps(ctx, spec, per_attack=True)
    curve, n_curve = eps_curve(ctx, net, sources["uncapped"])
    head = {k: numbers[k] for k in ("beta", "adv_training")}
    return {"row": numbers, "curve": {**head, **curve}, "n_curve": n_curve}


def at_eps(ctx, spec, per_attack: bool = False) -> tuple:
    """``spec``'s network under the standard suite at :data:`EPS` on the ``n_adaptive`` test
    images, with its two transfer sources (the uncapped twin and the independently trained twin,
    :func:`twin_spec`): ``(numbers, (net, sources))``, ``numbers`` holding ``beta``,
    ``adv_training``, ``n`` and the Outcomes ``clean``, ``pgd_paper`` (Table 1's PGD),
    ``worst_case`` (the cascade over the whole suite) and ``worst_case_common`` (over the
    attacks common to both twins); with ``per_attack``, also ``n_attacks`` and ``attacks``
    (every attack on the :func:`attacks_subset`). A row of this block, and of the control
    experiment's."""
    p = ctx.profile
    x, y, index = test_images(ctx, p.n_adaptive)
    net = ctx.model(spec)
    sources = {"uncapped": ctx.model(spec.uncapped()), "twin": ctx.model(twin_spec(spec))}
    ev, full, common = evaluations(net, x, y, index, EPS, budget(p), ctx.seed, sources,
                                   per_attack)
    paper_pgd = pgd(net, x, y, seed=ctx.seed, index=index, **PGD)
    numbers = {"beta": spec.caps[1], "adv_training": spec.adv or "none", "n": int(len(y)),
               "clean": ev.outcome("clean"),
               "pgd_paper": accuracy_outcome(net, paper_pgd, y, index),
               "worst_case": ev.outcome("worst"), "worst_case_common": common.outcome("worst")}
    if per_attack:
        numbers.update(n_attacks=len(full.clean),
                       attacks={a: full.outcome(a) for a in full.outcomes})
    return numbers, (net, sources)


def evaluations(net, x, y, index, eps, suite_budget, seed, sources,
                per_attack: bool = True) -> tuple:
    """A row's three evaluations at ``eps`` (the standard suite with ``suite_budget``, seeded
    ``seed``): the cascade on every image (clean, worst case), the full run on the
    :func:`attacks_subset` (per-attack accuracies; None without ``per_attack``), and the cascade
    over the attacks common to both twins reusing the first one's outcomes.
    ``(ev, full, common)``."""
    suite = standard_suite(suite_budget)
    ev = evaluate(net, x, y, eps, suite, seed=seed, sources=sources, index=index)
    full = None
    if per_attack:
        _, pick = attacks_subset(seed, len(y))
        dev = net.backend.asarray(pick)
        full = evaluate(net, x[dev], y[dev], eps, suite, seed=seed, sources=sources,
                        index=index[pick], cascade=False)
    common = evaluate(net, x, y, eps, [r for r in suite if r.attack in common_to_twins()],
                      seed=seed, sources=sources, index=index, known=ev.outcomes)
    return ev, full, common


def attacks_subset(seed: int, n: int) -> tuple:
    """``(m, rows)``: the full run for the per-attack accuracies takes m = n / ATTACKS_SHARE of a
    row's n images, the ``rows`` (sorted) drawn uniformly without replacement by
    ``numpy.random.default_rng([ATTACKS_SALT, seed, n])``: a random sample, the same for every
    network of a seed, never the first m."""
    m = max(1, n // ATTACKS_SHARE) if n else 0
    rows = np.sort(np.random.default_rng([ATTACKS_SALT, int(seed), int(n)]).choice(
        n, size=m, replace=False)) if m else np.zeros(0, dtype=np.int64)
    return m, rows


def eps_curve(ctx, net, uncapped) -> tuple:
    """Robust accuracy over :data:`EPS_GRID` on the ``n_fig12`` subset: Table 1's PGD with
    step eps / 10, and the reduced suite's worst case (at eps = 0 both are the clean accuracy,
    not attacked). ``(curve, n)``."""
    p = ctx.profile
    x, y, index = test_images(ctx, p.n_fig12)
    clean = Outcome(correct_mask(net, x, y), index)
    out = {"pgd_paper": [], "worst_case": []}
    for j, eps in enumerate(EPS_GRID):
        if eps == 0:            # every attack returns x itself: both curves start at clean
            out["pgd_paper"].append(clean)
            out["worst_case"].append(clean)
            continue
        adv = pgd(net, x, y, **{**PGD, "eps": eps, "step": pgd_step(eps)},
                  seed=attack_seed(ctx.seed, _CURVE_PGD, j), index=index)
        out["pgd_paper"].append(Outcome(correct_mask(net, adv, y), index))
        ev = evaluate(net, x, y, eps, curve_suite(p), seed=attack_seed(ctx.seed, _CURVE_SUITE, j),
                      sources={"uncapped": uncapped}, index=index)
        out["worst_case"].append(ev.outcome("worst"))
    return out, int(len(y))


def fig14_curve(ctx, beta0) -> dict:
    """Figure 12's network trained at ``beta0``, re-capped over EVAL_BETAS: clean accuracy,
    Table 1's PGD and the reduced suite's worst case at eps 0.1."""
    x, y, index = test_images(ctx, ctx.profile.n_fig12)
    net = ctx.model(ModelSpec(GENERAL, (None, beta0), seed=ctx.seed))
    source = ctx.model(ModelSpec(GENERAL, (None, None), seed=ctx.seed))
    out = {"pgd": [], "worst_case": [], "standard": []}
    for k, beta in enumerate(EVAL_BETAS):
        capped = net.with_caps((None, beta))
        adv = pgd(capped, x, y, **{**PGD, "seed": attack_seed(ctx.seed, _CURVE_PGD, 1000 + k)},
                  index=index)
        ev = evaluate(capped, x, y, EPS, curve_suite(ctx.profile),
                      seed=attack_seed(ctx.seed, _CURVE_SUITE, 1000 + k),
                      sources={"uncapped": source}, index=index)
        out["standard"].append(ev.outcome("clean"))
        out["pgd"].append(Outcome(correct_mask(capped, adv, y), index))
        out["worst_case"].append(ev.outcome("worst"))
    return {"curve": out, "n_test": int(len(y))}


def combine(ctx, partials) -> tuple:
    rows = [partials[u] for u in _rows(ctx.seed)]
    suite = {"eps": EPS, "attacks": list(standard_attacks()), "rows": [r["row"] for r in rows]}
    fig13 = {"eps": list(EPS_GRID), "n": rows[-1]["n_curve"],
             "networks": [r["curve"] for r in rows]}
    fig14 = curve_block(_curves(ctx.seed), partials)
    return {"suite": suite, "fig13": fig13, "fig14": fig14}, settings(ctx.profile)


#: One unit per network of Table 1 (suite and eps curve), then one per Figure 12 network.
def networks(ctx, unit) -> list:
    """The networks ``unit`` asks the store for: a row's network, its uncapped twin and its
    independently trained twin (the transfer sources); a Figure 14 unit's HL2 network trained at
    its beta and the uncapped one."""
    if unit in _curves(ctx.seed):
        return [ModelSpec(GENERAL, (None, _curves(ctx.seed)[unit]), seed=ctx.seed),
                ModelSpec(GENERAL, (None, None), seed=ctx.seed)]
    spec = _rows(ctx.seed)[unit]
    return [spec, spec.uncapped(), twin_spec(spec)]


SPLIT = Split(lambda ctx: [*_rows(ctx.seed), *_curves(ctx.seed)], run_unit, combine, networks)


def settings(p) -> dict:
    b, cb = budget(p), curve_budget(p)
    return {"eps": EPS, "attacks": list(standard_attacks()), "suite_budget": asdict(b),
            "budget_in_words": budget_words(b),
            "apgd": "Croce & Hein 2020 (rho 0.75, checkpoints as the authors' code)",
            "bpda_surrogates": ["relu", "identity", "softplus"],
            "softplus_k": SOFTPLUS_K, "margin_pgd_step": f"eps * {MARGIN_STEP}",
            "square": {"n_queries": b.square_queries, "p_init": P_INIT, "loss": "logit margin"},
            "transfer_uncapped": "APGD-CE (1 restart, same steps) on the uncapped twin "
                                 "(spec.uncapped(): same training, plain ReLU)",
            "transfer_twin": "BPDA-APGD-CE (relu surrogate, 1 restart, same steps) on an "
                             "independently trained network of the same spec",
            "transfer twin seed": f"seed + {TWIN_SEED_OFFSET}",
            "same budget on every network": "every attack runs on every network; a surrogate "
                                            "changes nothing on an uncapped one, its runs still "
                                            "happen with their own seeds",
            "worst_case": "per sample: correct clean and under every attack of the suite "
                          "(Table 1's PGD is reported beside it, not part of it), run as a "
                          "cascade: each attack on the images still correct, in the order "
                          + ", ".join(a for a in CASCADE_ORDER if a in standard_attacks()),
            "worst_case_common": "the same over the attacks that are the same on a capped "
                                 "network and its uncapped twin ("
                                 + ", ".join(common_to_twins()) + "): their own cascade, "
                                 "reusing every outcome the first one computed",
            "apgd_t": "Croce & Hein 2020: targeted DLR toward each of the top 9 other classes by "
                      "clean logit in turn, APGD's restarts x steps per target, per image the "
                      "first success",
            "attacks (per-attack accuracies)": f"every attack on every image of n / "
                                               f"{ATTACKS_SHARE} images (n_attacks) drawn at "
                                               "random from the row's n (seeded per seed)",
            "random draws": "per image, keyed by (seed, test-image index, attack, restart, "
                            "step) (nprelu.random_keys)",
            "pgd_paper": {**PGD, "note": "Table 1's PGD on the same images"},
            "attack seeds": "evaluation.attack_seed(seed, attack index[, curve stream, index])",
            "curves": {"eps_grid": list(EPS_GRID), "pgd_step": "eps / 10 (ours at eps != 0.1)",
                       "attacks": list(curve_attacks()), "budget": asdict(cb),
                       "budget_in_words": budget_words(cb, curve_attacks())},
            "fig14": {"at eps": EPS, "betas_eval": list(EVAL_BETAS),
                      "initial_betas": list(INITIAL_BETAS),
                      "transfer source": "the general network trained without caps"},
            "subsets": {"n": p.n_adaptive, "n_curve": p.n_fig12}}
