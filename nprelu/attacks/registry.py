r"""The attack registry: every attack an evaluation runs, by name, and what it is.

An entry (:class:`Attack`) of :data:`REGISTRY` says

- ``run(net, x, y, eps, seed=, index=, **budget) -> x_adv``: the attack with its fixed settings
  bound (a transfer attack also takes ``source=``, the network it crafts on; an attack function
  whose keywords are ``seed``, ``index`` and its budget fields is its own ``run``); ``index``: the
  test-image index of each row of x (None: ``arange(N)``), which keys its random draws per image
  (:mod:`nprelu.random_keys`), so an image's result does not depend on its batch;
- ``loss``: the loss it climbs ("cross_entropy", "dlr", "dlr_targeted", "margin");
- ``gradient``: "true", the BPDA surrogate of the capped layers it follows ("relu",
  "identity", "softplus", :mod:`nprelu.activations`), or "none" (logits only);
- ``targeted``: whether it aims at chosen classes (APGD-T: each of the top 9 other classes in
  turn; it still counts any misclassification as success);
- ``budget``: the budget fields it takes, the keyword arguments of ``run``, named in one
  vocabulary (the standard suite reads them from :class:`nprelu.evaluation.SuiteBudget`):
  ``restarts``, ``steps`` (APGD, and the transfer attacks' APGD on their source),
  ``margin_restarts``, ``margin_steps``, ``margin_step`` (margin PGD), ``square_queries``,
  and ``step``, ``steps``, ``random_start`` for Table 1's PGD and BPDA-PGD;
- ``grads(budget)``: input-gradient evaluations per sample (0: none);
- ``source``: the network a transfer attack crafts on ("uncapped": the uncapped twin; "twin":
  an independently trained network of the same spec), None for an attack on the network itself;
- ``standard``: whether it is in the standard suite (:func:`nprelu.evaluation.standard_suite`).
  The standard suite runs its entries in registry order and seeds the k-th with stream k, so a
  new entry goes at the end: the others keep their seeds.

:func:`common_to_twins` names the standard entries that are the same attack on a capped network
and on its uncapped twin: those with the true gradient or none (a surrogate gradient is the true
one again on an uncapped network, so its runs add restarts there and diversity on a capped one).

Every attack here works in the L-infinity ball of radius eps, in [0, 1], and succeeds on any
misclassification. Adding one: its module in ``nprelu/attacks/``, one line below, its test.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..activations import SURROGATES
from .apgd import apgd
from .apgd_t import N_TARGETS, apgd_t
from .bpda import bpda_pgd
from .fgsm import fgsm
from .margin import margin_pgd
from .pgd import pgd
from .square import square_linf
from .transfer import transfer

#: Square's initial square fraction, everywhere it runs, for every network: 0.8, the L-infinity
#: value of AutoAttack and of the Square Attack paper's MNIST runs (a 25 x 25 first square on
#: 28 x 28 images; the authors' general default, 0.05, is for larger images).
P_INIT = 0.8


@dataclass(frozen=True)
class Attack:
    """One registry entry (module doc)."""

    run: Callable
    loss: str
    gradient: str
    targeted: bool
    budget: tuple
    grads: Callable
    source: str | None = None
    standard: bool = False


def _apgd(loss, surrogate=None):
    def run(net, x, y, eps, seed, *, restarts, steps, index=None):
        return apgd(net, x, y, eps, steps=steps, loss=loss, restarts=restarts,
                    surrogate=surrogate, seed=seed, index=index)
    return run


def _apgd_t(surrogate=None):
    def run(net, x, y, eps, seed, *, restarts, steps, index=None):
        return apgd_t(net, x, y, eps, steps=steps, restarts=restarts, surrogate=surrogate,
                      seed=seed, index=index)
    return run


def _transfer_apgd(surrogate):
    """APGD-CE, 1 restart, made on ``source`` (its ``surrogate``), evaluated on ``net``."""
    def run(net, x, y, eps, seed, *, source, steps, index=None):
        def attack(src, xs, ys):
            return apgd(src, xs, ys, eps, steps=steps, loss="ce", restarts=1,
                        surrogate=surrogate, seed=seed, index=index)
        return transfer(source, net, x, y, attack)
    return run


def _pgd(net, x, y, eps, seed, *, step, steps, random_start, index=None):
    return pgd(net, x, y, eps, step, steps, random_start=random_start, seed=seed, index=index)


def _bpda(surrogate):
    def run(net, x, y, eps, seed, *, step, steps, random_start, index=None):
        return bpda_pgd(net, x, y, eps, step, steps, surrogate=surrogate,
                        random_start=random_start, seed=seed, index=index)
    return run


def _transfer_pgd(net, x, y, eps, seed, *, source, step, steps, random_start, index=None):
    return transfer(source, net, x, y, lambda src, xs, ys: _pgd(
        src, xs, ys, eps, seed, step=step, steps=steps, random_start=random_start, index=index))


def _fgsm(net, x, y, eps, seed, index=None):
    return fgsm(net, x, y, eps)


def _margin(net, x, y, eps, seed, *, margin_step, margin_steps, margin_restarts, index=None):
    return margin_pgd(net, x, y, eps, margin_step, margin_steps, restarts=margin_restarts,
                      seed=seed, index=index)


def _square(net, x, y, eps, seed, *, square_queries, index=None):
    return square_linf(net, x, y, eps, n_queries=square_queries, p_init=P_INIT, seed=seed,
                       index=index).x_adv


APGD_BUDGET, PGD_BUDGET = ("restarts", "steps"), ("step", "steps", "random_start")
MARGIN_BUDGET = ("margin_step", "margin_steps", "margin_restarts")


def _apgd_grads(b):
    return b["restarts"] * (b["steps"] + 1)


def _apgd_t_grads(b):
    """At most: an image broken by an earlier target stops (:mod:`~nprelu.attacks.apgd_t`)."""
    return N_TARGETS * _apgd_grads(b)


def _pgd_grads(b):
    return b["steps"]


#: Every attack by name. Standard entries first, in the standard suite's (seed) order.
REGISTRY = {
    **{f"apgd_{loss}" + (f"_{s}" if s else ""):
       Attack(_apgd(loss, s), {"ce": "cross_entropy"}.get(loss, loss), s or "true", False,
              APGD_BUDGET, _apgd_grads, standard=True)
       for loss in ("ce", "dlr") for s in (None, "relu", "identity", "softplus")},
    "margin_pgd": Attack(_margin, "margin", "true", False, MARGIN_BUDGET,
                         lambda b: b["margin_restarts"] * b["margin_steps"], standard=True),
    "square": Attack(_square, "margin", "none", False, ("square_queries",), lambda b: 0,
                     standard=True),
    "transfer_uncapped": Attack(_transfer_apgd(None), "cross_entropy", "true", False, ("steps",),
                                lambda b: b["steps"] + 1, source="uncapped", standard=True),
    "transfer_twin": Attack(_transfer_apgd("relu"), "cross_entropy", "relu", False, ("steps",),
                            lambda b: b["steps"] + 1, source="twin", standard=True),
    **{"apgd_t" + (f"_{s}" if s else ""):
       Attack(_apgd_t(s), "dlr_targeted", s or "true", True, APGD_BUDGET, _apgd_t_grads,
              standard=True)
       for s in (None, "relu", "identity", "softplus")},
    # Table 1's attacks and the adaptive experiment's (nprelu.experiments.adaptive.SUITE).
    "pgd": Attack(_pgd, "cross_entropy", "true", False, PGD_BUDGET, _pgd_grads),
    "fgsm": Attack(_fgsm, "cross_entropy", "true", False, (), lambda b: 1),
    **{f"bpda_{s}": Attack(_bpda(s), "cross_entropy", s, False, PGD_BUDGET, _pgd_grads)
       for s in SURROGATES},
    "transfer": Attack(_transfer_pgd, "cross_entropy", "true", False, PGD_BUDGET, _pgd_grads,
                       source="uncapped"),
}


def common_to_twins() -> tuple:
    """The standard entries that are the same attack on a capped network and on its uncapped
    twin (module doc): the true gradient or none, in registry order."""
    return tuple(n for n, a in REGISTRY.items() if a.standard and a.gradient in ("true", "none"))
