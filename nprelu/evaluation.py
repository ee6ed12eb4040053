r"""One attack suite, one budget: every network gets the same attacks with the same numbers of
restarts, steps and queries, capped or not, and the per-sample worst case over them.

The suite at L-infinity radius eps (every attack untargeted, in [0, 1], seeded from the unit's
seed, :func:`attack_seed`; names as in :data:`ATTACKS`)::

    apgd_ce, apgd_dlr                    APGD (Croce & Hein 2020) on CE / DLR, true gradient
    apgd_{ce,dlr}_{relu,identity,softplus}   the same with a BPDA surrogate in capped layers
                                         (:mod:`nprelu.activations`); each restarts x steps
    margin_pgd                           PGD on the logit margin, margin_restarts x margin_steps,
                                         step eps / 10 (OUR choice)
    square                               Square Attack, square_queries queries, p_init 0.3
    transfer_uncapped                    APGD-CE (1 restart, steps) made on the uncapped twin
    transfer_twin                        BPDA-APGD-CE (relu surrogate, 1 restart, steps) made on
                                         an independently trained network of the same spec

A surrogate changes nothing on an uncapped network, but its runs still happen, with their own
seeds, so that every network spends the same budget (:func:`budget_words`). The worst case of
a sample (:func:`worst_case`) is 1 iff it is classified correctly clean AND under every attack::

    worst_n = 1[argmax Z(x_n) = y_n] * prod_a 1[argmax Z(x_adv^a_n) = y_n]

so worst-case robust accuracy is at most the clean accuracy and every attack's.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .attacks import apgd, margin_pgd, square_linf, transfer
from .attacks._common import prepare
from .checks import check_int, check_real
from .measures import correct

LOSSES = ("ce", "dlr")
APGD_SURROGATES = (None, "relu", "identity", "softplus")
APGD_RUNS = tuple(f"apgd_{loss}" + (f"_{s}" if s else "") for loss in LOSSES
                  for s in APGD_SURROGATES)
ATTACKS = (*APGD_RUNS, "margin_pgd", "square", "transfer_uncapped", "transfer_twin")
#: The reduced suite of the eps curves and Figure 14 (1 restart, ``curve_queries``).
CURVE_ATTACKS = (*APGD_RUNS, "square", "transfer_uncapped")
P_INIT = 0.3          # Square's initial square fraction, as the adaptive experiment
MARGIN_STEP = 0.1     # margin PGD's step, a fraction of eps (OUR choice)
ZERO_EPS_STEP = 0.01  # a PGD step at eps = 0, where the ball is one point and no step matters


@dataclass(frozen=True)
class SuiteBudget:
    """The suite's budget per sample: APGD ``restarts`` x ``steps``, margin PGD
    ``margin_restarts`` x ``margin_steps``, Square ``square_queries`` queries."""

    restarts: int
    steps: int
    margin_steps: int
    margin_restarts: int
    square_queries: int

    def __post_init__(self):
        for name, value in asdict(self).items():
            check_int(name, value)

    def reduced(self, queries: int) -> "SuiteBudget":
        """The curves' budget: 1 restart of ``steps``, Square with ``queries``."""
        return SuiteBudget(1, self.steps, self.margin_steps, 1, queries)


def pgd_step(eps: float) -> float:
    """A PGD step of eps / 10 (Table 1's ratio); at eps = 0 any step gives x back."""
    return eps * MARGIN_STEP if eps > 0 else ZERO_EPS_STEP


def attack_seed(seed: int, *parts) -> int:
    """A seed for one attack of one unit: distinct for distinct (``seed``, ``parts``), with
    ``parts`` the attack's index and, for the curves, the eps or cap index."""
    key = [check_int("seed", seed, 0), *(int(p) for p in parts)]
    return int(np.random.SeedSequence(key).generate_state(1)[0] >> 1)


def budget_words(budget: SuiteBudget, attacks=ATTACKS) -> dict:
    """The budget of the suite ``attacks`` in words and counts per sample (same on every net)."""
    apgd_evals = budget.restarts * (budget.steps + 1)
    out = {"apgd": f"{len(APGD_RUNS)} runs (CE, DLR x true, relu, identity, softplus gradient), "
                   f"each {budget.restarts} restart(s) x {budget.steps} steps",
           "gradient_evaluations_per_sample": {
               "attacked network": sum(apgd_evals for a in attacks if a in APGD_RUNS)
               + (budget.margin_restarts * budget.margin_steps if "margin_pgd" in attacks else 0),
               "twins (transfer sources)": (budget.steps + 1) * sum(
                   a in attacks for a in ("transfer_uncapped", "transfer_twin"))},
           "square_queries_per_sample": budget.square_queries if "square" in attacks else 0}
    if "margin_pgd" in attacks:
        out["margin_pgd"] = (f"{budget.margin_restarts} restart(s) x {budget.margin_steps} steps, "
                             f"step eps * {MARGIN_STEP}")
    return out


def run_suite(net, x, y, eps, budget: SuiteBudget, seed, sources, attacks=ATTACKS) -> dict:
    """``{attack name: correct mask}``: per sample (host bool (N,)), whether ``net`` still
    classifies the attack's example as ``y``. ``attacks``: names from :data:`ATTACKS`, run in
    that order, attack k seeded with ``attack_seed(seed, k)``. ``sources``: the transfer
    sources, ``{"uncapped": net, "twin": net}`` (only those the attacks named need).

    ValueError for an unknown attack, a missing source, eps < 0 or bad inputs.
    """
    x, y, _ = prepare(net, x, y)
    eps = check_real("eps", eps, 0.0)
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown:
        raise ValueError(f"unknown attacks {unknown}: choose from {', '.join(ATTACKS)}")
    for name, src in (("transfer_uncapped", "uncapped"), ("transfer_twin", "twin")):
        if name in attacks and src not in sources:
            raise ValueError(f"attack {name!r} needs the transfer source {src!r} in sources")
    b, out = budget, {}
    for a in attacks:
        s = attack_seed(seed, ATTACKS.index(a))
        if a in APGD_RUNS:
            loss, _, surrogate = a[len("apgd_"):].partition("_")
            adv = apgd(net, x, y, eps, steps=b.steps, loss=loss, restarts=b.restarts,
                       surrogate=surrogate or None, seed=s)
        elif a == "margin_pgd":
            adv = margin_pgd(net, x, y, eps, pgd_step(eps), b.margin_steps,
                             restarts=b.margin_restarts, seed=s)
        elif a == "square":
            adv = square_linf(net, x, y, eps, n_queries=b.square_queries, p_init=P_INIT,
                              seed=s).x_adv
        else:
            twin = a == "transfer_twin"
            attack = _apgd_ce(eps, b.steps, "relu" if twin else None, s)
            adv = transfer(sources["twin" if twin else "uncapped"], net, x, y, attack)
        out[a] = correct_mask(net, adv, y)
    return out


def _apgd_ce(eps, steps, surrogate, seed):
    def attack(source, x, y):
        return apgd(source, x, y, eps, steps=steps, loss="ce", restarts=1, surrogate=surrogate,
                    seed=seed)
    return attack


def correct_mask(net, x, y):
    """Per sample, whether ``net`` classifies ``x`` as ``y``: :func:`nprelu.measures.correct`
    brought to the host, bool (N,)."""
    return np.asarray(net.backend.to_host(correct(net, x, y)), dtype=bool)


def worst_case(clean, masks) -> np.ndarray:
    """Per sample: correct clean AND under every attack (host bool (N,)); ``clean`` a mask,
    ``masks`` a dict or sequence of masks of the same length."""
    out = np.asarray(clean, dtype=bool).copy()
    for m in (masks.values() if isinstance(masks, dict) else masks):
        m = np.asarray(m, dtype=bool)
        if m.shape != out.shape:
            raise ValueError(f"every mask must have the clean mask's shape {out.shape}, "
                             f"got {m.shape}")
        out &= m
    return out


def fraction(mask) -> float:
    """The mean of a bool mask as a Python float (nan for an empty one)."""
    mask = np.asarray(mask, dtype=bool)
    return float(mask.mean()) if mask.size else float("nan")
