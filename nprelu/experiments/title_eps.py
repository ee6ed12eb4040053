"""Beyond the paper: the title question at more than one eps (issue 24 item 3).

The suite experiment (:mod:`.suite`) answers "does capping help?" at Table 1's eps = 0.1 alone.
Here the same twelve Table 1 networks face the same full standard suite, with the same budget
(the profile's :func:`.suite.budget`), the same cascade, the same transfer sources (the uncapped
twin and the independently trained twin, seed + 1) and the same per-attack subset, on the same
``n_adaptive`` test images, at each eps of :data:`EPS_LIST`: 0.05, 0.15 and 0.2 (the quick
profile, a smoke test, runs 0.2 alone: :data:`QUICK_EPS`). Eps 0.1 is the suite's own rows,
which the report reads from the ``suite`` block (not computed again).

Per network and eps (block ``title_eps``, one row each, per-image outcomes): the clean
accuracy, the worst case (correct clean and under every attack), the worst case over the
attacks common to both twins (``worst_case_common``) and every attack's accuracy on the
per-attack subset (``attacks``; the strongest single attack is their minimum), exactly the
suite row's measures (:func:`.suite.evaluations`), so that the report judges each eps with the
title question's rules (:mod:`nprelu.report.title`). The step sizes that scale with eps scale:
APGD's is a fraction of eps, margin PGD's is eps / 10 (:func:`nprelu.evaluation.pgd_step`),
and every attack draws with the row's seed, as the suite's row does at eps 0.1.

One unit per (network, eps): 12 x 3 per seed (12 on the quick profile).
"""
from __future__ import annotations

from dataclasses import asdict

from ..attacks.registry import common_to_twins
from ..evaluation import MARGIN_STEP, budget_words, standard_attacks
from ..runner.store import ModelSpec
from ..runner.units import Split, network_units
from .adaptive import test_images
from .suite import ATTACKS_SHARE, EPS, TWIN_SEED_OFFSET, budget, evaluations, twin_spec
from .table1 import models

KEY = "title_eps"
#: The eps this experiment adds to the suite's 0.1 (OUR choice, issue 24: Figure 13's reduced
#: suite reaches its verdicts on these).
EPS_LIST = (0.05, 0.15, 0.2)
#: The quick profile's eps (OUR choice, for the test run's time: one eps exercises every path).
QUICK_EPS = (0.2,)


def eps_list(profile) -> tuple:
    """The eps a profile runs: :data:`QUICK_EPS` on "quick", :data:`EPS_LIST` otherwise."""
    return QUICK_EPS if getattr(profile, "name", None) == "quick" else EPS_LIST


def _units(seed, profile=None) -> dict:
    """``{unit id: (ModelSpec, eps)}``: per eps of :func:`eps_list` (``profile`` None: every eps
    of :data:`EPS_LIST`), one unit per Table 1 network in its row order
    ("title_eps/s0/none-0.1-eps0.05")."""
    nets = network_units(KEY, seed, models(seed))
    return {f"{u}-eps{eps:g}": (spec, eps) for eps in eps_list(profile)
            for u, spec in nets.items()}


def run_unit(ctx, unit) -> dict:
    """One network at one eps: the suite row's measures, each a per-image Outcome."""
    spec, eps = _units(ctx.seed)[unit]
    x, y, index = test_images(ctx, ctx.profile.n_adaptive)
    net = ctx.model(spec)
    sources = {"uncapped": ctx.model(spec.uncapped()), "twin": ctx.model(twin_spec(spec))}
    ev, full, common = evaluations(net, x, y, index, eps, budget(ctx.profile), ctx.seed,
                                   sources)
    return {"eps": eps, "beta": spec.caps[1], "adv_training": spec.adv or "none",
            "n": int(len(y)), "clean": ev.outcome("clean"), "worst_case": ev.outcome("worst"),
            "worst_case_common": common.outcome("worst"), "n_attacks": int(len(full.clean)),
            "attacks": {a: full.outcome(a) for a in full.outcomes}}


def combine(ctx, partials) -> tuple:
    rows = [partials[u] for u in _units(ctx.seed, ctx.profile)]
    return ({KEY: {"eps": list(eps_list(ctx.profile)), "attacks": list(standard_attacks()), "rows": rows}},
            settings(ctx.profile))


def networks(ctx, unit) -> list[ModelSpec]:
    """A unit's network, its uncapped twin and its independently trained twin (as the suite's
    row)."""
    spec, _ = _units(ctx.seed)[unit]
    return [spec, spec.uncapped(), twin_spec(spec)]


SPLIT = Split(lambda ctx: list(_units(ctx.seed, ctx.profile)), run_unit, combine, networks)


def settings(p) -> dict:
    b = budget(p)
    return {"eps": list(eps_list(p)), "eps 0.1": f"the suite experiment's rows (eps {EPS:g})",
            "attacks": list(standard_attacks()), "suite_budget": asdict(b),
            "budget_in_words": budget_words(b),
            "same as the suite": "standard suite, budget, cascade, transfer sources "
                                 f"(uncapped twin; twin of seed + {TWIN_SEED_OFFSET}), "
                                 "per-attack subset and test images of the suite's rows",
            "margin_pgd_step": f"eps * {MARGIN_STEP}", "apgd_step": "2 eps at the start",
            "worst_case_common": ", ".join(common_to_twins()),
            "attacks (per-attack accuracies)": f"every attack on every image of n / "
                                               f"{ATTACKS_SHARE} images drawn at random from "
                                               "the row's n (the suite's subset)",
            "random draws": "per image, with the row's seed at every eps (as the suite's row)",
            "subsets": {"n": p.n_adaptive}}
