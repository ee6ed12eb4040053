r"""One harness for every evaluation: a suite of attacks from the registry
(:mod:`nprelu.attacks.registry`), each with its budget, run on one network, and per image the
clean outcome, each attack's outcome and the worst case. The entry point is :func:`evaluate`.

A suite is data, a tuple of :class:`Run`: a registry name, its budget (the entry's budget
fields; a value may be a function of eps, such as a step of eps / 10), its seed stream and
whether it runs only on a network with caps. The standard suite (:func:`standard_suite`) is the
registry's standard entries with one :class:`SuiteBudget`, so every network gets the same
attacks with the same restarts, steps and queries, capped or not. At L-infinity radius eps
(every attack untargeted, in [0, 1]; names as :func:`standard_attacks` gives them)::

    apgd_ce, apgd_dlr                    APGD (Croce & Hein 2020) on CE / DLR, true gradient
    apgd_{ce,dlr}_{relu,identity,softplus}   the same with a BPDA surrogate in capped layers
                                         (:mod:`nprelu.activations`); each restarts x steps
    margin_pgd                           PGD on the logit margin, margin_restarts x margin_steps,
                                         step eps / 10 (OUR choice)
    square                               Square Attack, square_queries queries, p_init
                                         :data:`~nprelu.attacks.registry.P_INIT`
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

from dataclasses import asdict, dataclass, field
from types import MappingProxyType

import numpy as np

from . import random_keys
from .attacks._common import prepare
from .attacks.registry import REGISTRY
from .checks import check_int, check_real
from .measures import correct
from .outcomes import Outcome

MARGIN_STEP = 0.1     # margin PGD's step, a fraction of eps (OUR choice)
ZERO_EPS_STEP = 0.01  # a PGD step at eps = 0, where the ball is one point and no step matters
#: Left out of the reduced suite of the eps curves and Figure 14 (1 restart, ``curve_queries``):
#: margin PGD, the twin's transfer, and APGD-T through a surrogate (9 targets each: three
#: quarters of the reduced suite's cost; APGD-T with the true gradient stays). OUR choice, for
#: cost: the suite at eps 0.1 runs them all.
NOT_IN_CURVES = ("margin_pgd", "transfer_twin", "apgd_t_relu", "apgd_t_identity",
                 "apgd_t_softplus")


def standard_attacks() -> tuple:
    """The standard suite's attack names: the registry's standard entries, in its order."""
    return tuple(name for name, a in REGISTRY.items() if a.standard)


def curve_attacks() -> tuple:
    """The reduced suite of the curves: the standard one without :data:`NOT_IN_CURVES`."""
    return tuple(a for a in standard_attacks() if a not in NOT_IN_CURVES)


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

    def fields(self) -> dict:
        """The budget fields the registry's entries take, margin PGD's step eps / 10 among them."""
        return {**asdict(self), "margin_step": pgd_step}


#: The standard suite's budget of the paper profile, and :func:`evaluate`'s default.
STANDARD_BUDGET = SuiteBudget(restarts=3, steps=100, margin_steps=20, margin_restarts=5,
                              square_queries=5000)


@dataclass(frozen=True)
class Run:
    """One attack of a suite: the registry entry ``attack`` with ``budget``, exactly its budget
    fields (a value, or a function of eps). Seeded ``attack_seed(seed, stream)``, or with the
    evaluation's seed itself when ``stream`` is None; ``capped_only``: skipped on a network
    without caps. ValueError for an unknown attack or budget fields other than the entry's."""

    attack: str
    budget: MappingProxyType = field(default_factory=dict)
    stream: int | None = None
    capped_only: bool = False

    def __post_init__(self):
        if self.attack not in REGISTRY:
            raise ValueError(f"unknown attack {self.attack!r}: choose from {', '.join(REGISTRY)}")
        want, got = set(REGISTRY[self.attack].budget), set(self.budget)
        if want != got:
            raise ValueError(f"attack {self.attack!r} takes the budget fields {sorted(want)}, "
                             f"got {sorted(got)}")
        object.__setattr__(self, "budget", MappingProxyType(dict(self.budget)))

    def settings(self, eps) -> dict:
        """The budget at ``eps``."""
        return {k: v(eps) if callable(v) else v for k, v in self.budget.items()}


def standard_suite(budget: SuiteBudget, attacks=None) -> tuple:
    """The standard suite with ``budget``: a :class:`Run` per standard registry entry, the k-th
    on seed stream k; ``attacks``: only these names (each keeps its stream). ValueError for a
    name not in the standard suite."""
    names = standard_attacks()
    unknown = [a for a in attacks or () if a not in names]
    if unknown:
        raise ValueError(f"unknown attacks {unknown}: choose from {', '.join(names)}")
    fields = budget.fields()
    lacking = {a: f for a in names for f in REGISTRY[a].budget if f not in fields}
    if lacking:
        raise ValueError(f"standard attacks take budget fields SuiteBudget lacks: {lacking}")
    return tuple(Run(a, {f: fields[f] for f in REGISTRY[a].budget}, stream=k)
                 for k, a in enumerate(names) if attacks is None or a in attacks)


def pgd_step(eps: float) -> float:
    """A PGD step of eps / 10 (Table 1's ratio); at eps = 0 any step gives x back."""
    return eps * MARGIN_STEP if eps > 0 else ZERO_EPS_STEP


def attack_seed(seed: int, *parts) -> int:
    """A seed for one attack of one unit: distinct for distinct (``seed``, ``parts``), with
    ``parts`` the attack's index and, for the curves, the eps or cap index."""
    key = [check_int("seed", seed, 0), *(int(p) for p in parts)]
    return int(np.random.SeedSequence(key).generate_state(1)[0] >> 1)


def budget_words(budget: SuiteBudget, attacks=None) -> dict:
    """The budget of the standard suite (only ``attacks``) in words and counts per sample
    (the same on every network)."""
    runs = standard_suite(budget, attacks)
    names = [r.attack for r in runs]

    def grads(on_source):
        return sum(REGISTRY[r.attack].grads(r.budget) for r in runs
                   if (REGISTRY[r.attack].source is not None) == on_source)
    n_apgd = sum(a.startswith("apgd_") and not REGISTRY[a].targeted for a in names)
    targeted = [REGISTRY[a].gradient for a in names if REGISTRY[a].targeted]
    out = {"apgd": f"{n_apgd} runs (CE, DLR x true, relu, identity, softplus gradient), "
                   f"each {budget.restarts} restart(s) x {budget.steps} steps",
           "gradient_evaluations_per_sample": {"attacked network": grads(False),
                                               "twins (transfer sources)": grads(True)},
           "square_queries_per_sample": budget.square_queries if "square" in names else 0}
    if targeted:
        out["apgd_t"] = (f"{len(targeted)} runs ({', '.join(targeted)} gradient), each per image "
                         f"up to 9 target classes x {budget.restarts} restart(s) x "
                         f"{budget.steps} steps, stopping at its first misclassified point")
    if "margin_pgd" in names:
        out["margin_pgd"] = (f"{budget.margin_restarts} restart(s) x {budget.margin_steps} steps, "
                             f"step eps * {MARGIN_STEP}")
    return out


#: The cascade's order (:func:`evaluate`): cheapest and strongest first, as AutoAttack runs
#: APGD-CE before the rest. APGD-CE with the true gradient, then with each BPDA surrogate (on a
#: capped network without adversarial training a surrogate APGD-CE alone breaks most images),
#: then APGD-DLR likewise, margin PGD, the transfers (one APGD run on a source network each)
#: and Square last (up to ``square_queries`` forward passes per image that no gradient attack
#: broke). Attacks not listed run after these, in the suite's order; the adaptive suite's
#: Table 1 attacks come first, FGSM (one gradient) before PGD.
CASCADE_ORDER = ("fgsm", "pgd", "bpda_relu", "bpda_identity",
                 "apgd_ce", "apgd_ce_relu", "apgd_ce_identity", "apgd_ce_softplus",
                 "apgd_dlr", "apgd_dlr_relu", "apgd_dlr_identity", "apgd_dlr_softplus",
                 "margin_pgd", "transfer", "transfer_uncapped", "transfer_twin", "square")
CORRECT, BROKEN, NOT_RUN = 1, 0, -1   # an image's outcome under one attack (int8)


def cascade_order(runs) -> list:
    """``runs`` (a suite's :class:`Run` s) in :data:`CASCADE_ORDER`, the unlisted after them in
    their own order."""
    rank = {a: k for k, a in enumerate(CASCADE_ORDER)}
    return sorted(runs, key=lambda r: rank.get(r.attack, len(rank)))


@dataclass(frozen=True)
class Evaluation:
    """Per image (host arrays (N,)): ``clean`` (bool), whether the network classifies it
    correctly; ``outcomes[attack]`` (int8, in the order the attacks ran): :data:`CORRECT` (1)
    still correct under that attack, :data:`BROKEN` (0) misclassified, :data:`NOT_RUN` (-1) not
    attacked (in a cascade: misclassified clean or by an earlier attack); ``worst`` (bool),
    correct clean and under every attack (:func:`worst_case`); ``first`` (int16), the position
    in ``order`` of the first attack that misclassified it (-1: none, or misclassified clean);
    ``cascade``: whether the attacks ran as a cascade (else each on every image); ``images``:
    the test-image index of each image (what :meth:`outcome` names them by)."""

    clean: np.ndarray
    outcomes: dict
    worst: np.ndarray
    order: tuple = ()
    first: np.ndarray | None = None
    cascade: bool = False
    images: np.ndarray | None = None

    def outcome(self, what: str) -> Outcome:
        """The per-image :class:`~nprelu.outcomes.Outcome` of ``what``: "clean", "worst" (the
        worst case) or an attack (a full run only, as :meth:`accuracy`); its value is the
        accuracy."""
        images = np.arange(len(self.clean)) if self.images is None else self.images
        if what == "clean":
            return Outcome(self.clean, images)
        if what == "worst":
            return Outcome(self.worst, images)
        self.accuracy(what)                 # ValueError where the attack did not run on all
        return Outcome(self.outcomes[what] == CORRECT, images)

    def accuracy(self, attack) -> float:
        """Robust accuracy under ``attack`` alone over every image (a full run only)."""
        out = self.outcomes[attack]
        if (out == NOT_RUN).any():
            raise ValueError(f"attack {attack!r} did not run on every image (a cascade): its "
                             "accuracy is not known; evaluate with cascade=False")
        return fraction(out == CORRECT)

    def broke_first(self) -> dict:
        """``{attack: fraction of the images it broke first}``, in ``order``."""
        n = max(len(self.clean), 1)
        return {a: float((self.first == k).sum()) / n if len(self.clean) else float("nan")
                for k, a in enumerate(self.order)}


def evaluate(net, x, y, eps, suite=None, *, seed=0, sources=None, made=None, index=None,
             cascade=True, known=None) -> Evaluation:
    """Run ``suite`` (a sequence of :class:`Run`; default: the standard suite with
    :data:`STANDARD_BUDGET`) on ``net`` at L-infinity radius ``eps``: per image the clean
    outcome, each attack's and the worst case.

    ``cascade`` (default): the attacks run in :func:`cascade_order`, each only on the images
    still correct (clean and under every earlier attack), as AutoAttack runs its attacks. Each
    attack draws its random numbers per image (:mod:`nprelu.random_keys`, keyed by ``index``),
    so an image's outcome does not depend on which images share its batch and the worst case is
    that of running every attack on every image (up to the last-bit rounding of the matrix
    products, which a BLAS does differently for a row at another place in a batch). Off: every
    attack on every image, in the suite's order (per-attack accuracies).

    ``seed``: the attacks' seeds derive from it (:class:`Run`). ``sources``: the transfer
    attacks' source networks by the registry's name (``{"uncapped": net, "twin": net}``, those
    the suite needs). ``made``: adversarial batches already made for these images, by attack
    name, used instead of running that attack (a transfer batch that serves several networks).
    ``index``: the test-image index of each row of ``x`` (default ``arange(N)``). ``known``:
    outcomes of an earlier evaluation of the same images, seed and runs (``Evaluation.outcomes``),
    reused wherever an attack already ran on an image, so that a cascade over a sub-suite (the
    attacks common to two networks, say) only runs what the first cascade skipped: per-image
    draws make a reused outcome the one a new run would give.

    ValueError for a missing source, eps < 0, a bad seed or bad inputs.
    """
    x, y, _ = prepare(net, x, y)
    eps = check_real("eps", eps, 0.0)
    check_int("seed", seed, 0)
    index = random_keys.indices(index, len(x))
    suite = standard_suite(STANDARD_BUDGET) if suite is None else tuple(suite)
    wrong = [r for r in suite if not isinstance(r, Run)]
    if wrong:
        raise ValueError(f"suite must hold evaluation.Run items, got {wrong[0]!r}")
    sources, made = sources or {}, made or {}
    capped = any(c is not None for c in net.caps)
    runs = [r for r in suite if capped or not r.capped_only]
    for r in runs:
        src = REGISTRY[r.attack].source
        if r.attack not in made and src is not None and src not in sources:
            raise ValueError(f"attack {r.attack!r} needs the transfer source {src!r} in sources")
    if cascade:
        runs = cascade_order(runs)
    clean = correct_mask(net, x, y)
    n = len(clean)
    alive = clean.copy()                       # correct clean and under every attack so far
    first = np.full(n, -1, dtype=np.int16)
    outcomes = {}
    known = known or {}
    for k, r in enumerate(runs):
        out = np.full(n, NOT_RUN, dtype=np.int8)
        rows = np.flatnonzero(alive) if cascade else np.arange(n)
        if r.attack in known:                  # outcomes already known: reuse, run the rest
            prior = np.asarray(known[r.attack], dtype=np.int8)
            done = rows[prior[rows] != NOT_RUN]
            out[done] = prior[done]
            rows = rows[prior[rows] == NOT_RUN]
        if len(rows):
            dev = net.backend.asarray(rows)
            xs, ys = (x, y) if len(rows) == n else (x[dev], y[dev])
            if r.attack in made:
                adv = made[r.attack] if len(rows) == n else made[r.attack][dev]
            else:
                adv = craft(net, xs, ys, eps, r, seed, sources, index[rows])
            out[rows] = correct_mask(net, adv, ys)
        outcomes[r.attack] = out
        broke = alive & (out == BROKEN)
        first[broke] = k
        alive &= out != BROKEN
    return Evaluation(clean, outcomes, alive, tuple(r.attack for r in runs), first, cascade,
                      index)


def craft(net, x, y, eps, run: Run, seed=0, sources=None, index=None):
    """The adversarial batch of one :class:`Run` against ``net`` (its seed derived from
    ``seed`` as the run says; a transfer attack crafts on ``sources[entry.source]``; ``index``:
    the test-image index of each row)."""
    entry = REGISTRY[run.attack]
    s = seed if run.stream is None else attack_seed(seed, run.stream)
    extra = {"source": sources[entry.source]} if entry.source is not None else {}
    return entry.run(net, x, y, eps, seed=s, index=index, **extra, **run.settings(eps))


def run_suite(net, x, y, eps, budget: SuiteBudget, seed, sources, attacks=None,
              index=None) -> dict:
    """``{attack name: correct mask}`` (bool) of the standard suite with ``budget`` (only
    ``attacks``, in the suite's order), every attack on every image: :func:`evaluate`'s full
    run. ValueError for a name not in the standard suite, a missing source, eps < 0 or bad
    inputs."""
    ev = evaluate(net, x, y, eps, standard_suite(budget, attacks), seed=seed, sources=sources,
                  index=index, cascade=False)
    return {a: out == CORRECT for a, out in ev.outcomes.items()}


def correct_mask(net, x, y):
    """Per sample, whether ``net`` classifies ``x`` as ``y``: :func:`nprelu.measures.correct`
    brought to the host, bool (N,)."""
    return np.asarray(net.backend.to_host(correct(net, x, y)), dtype=bool)


def worst_case(clean, masks) -> np.ndarray:
    """Per sample: correct clean AND under every attack (host bool (N,)); ``clean`` a mask,
    ``masks`` a dict or sequence of masks of the same length."""
    out = np.asarray(clean, dtype=bool).copy()
    for m in (masks.values() if isinstance(masks, dict) else masks):
        m = np.asarray(m)
        m = m == CORRECT if m.dtype != bool else m      # an int8 outcome: 1 correct
        if m.shape != out.shape:
            raise ValueError(f"every mask must have the clean mask's shape {out.shape}, "
                             f"got {m.shape}")
        out &= m
    return out


def fraction(mask) -> float:
    """The mean of a bool mask as a Python float (nan for an empty one)."""
    mask = np.asarray(mask, dtype=bool)
    return float(mask.mean()) if mask.size else float("nan")
