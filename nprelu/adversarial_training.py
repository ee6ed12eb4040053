r"""Adversarial training (Goodfellow et al. 2014 with FGSM; Madry et al. 2017 with PGD).

The min-max problem of Madry et al., approximated batch by batch::

    min_theta  E_(x, y) [ max_{||delta||_inf <= eps} loss(Z(x + delta; theta), y) ]

Each training batch is replaced by its adversarial examples, crafted against the current
weights, before the Adam step: :func:`adversarial_hook` is a ``batch_hook`` for
:func:`nprelu.train.train`. The paper (Section 8) gives eps 0.1 and 10 epochs; it does not say
whether clean and adversarial examples are mixed (we train on the adversarial ones alone, as
Madry et al. do) nor how PGD is run (we use Table 1's evaluation PGD, eps 0.1, step 0.01, 10
steps, from a random point of the eps-ball, as Madry et al.'s training does).

The examples climb the TRUE input gradient by default. A capped unit's derivative,
1[0 < z < beta], is 0 wherever the unit is saturated, so on a small cap that gradient is mostly
0 and FGSM / PGD barely move the batch: such training is nearly clean training. With a
``surrogate`` (the control experiment, ``experiments/control.py``) the examples climb the BPDA
gradient instead (:mod:`nprelu.attacks.bpda`: "relu" passes the gradient straight through the
cap, 1[z > 0]), while the forward pass, and so the loss the weights are trained on, stays the
true capped network's. On a network without caps both give the same batches.
"""
from __future__ import annotations

from .activations import check_surrogate
from .attacks import fgsm, input_grad_fn, pgd

KINDS = ("fgsm", "pgd")


def adversarial_hook(kind: str, eps: float, seed: int, step: float = 0.01, steps: int = 10,
                     surrogate: str | None = None):
    """A ``batch_hook(net, x, y) -> x_adv`` replacing each batch by its FGSM or PGD examples.

    ``kind``: "fgsm" or "pgd". ``eps``: L-infinity radius. ``step``, ``steps``: PGD's. PGD's
    random start of batch k is seeded with ``seed * 1_000_003 + k`` (k = 1, 2, ...), so one
    ``seed`` fixes every start of a training run. ``surrogate``: None (the true gradient) or
    the BPDA surrogate of the capped layers the examples' gradient follows ("relu",
    "identity", "softplus"; the module doc): FGSM's ``surrogate`` and PGD's ``grad_fn``, the
    attacks' own code paths.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown adversarial training {kind!r}: use one of {', '.join(KINDS)}")
    check_surrogate(surrogate)
    grad_fn = input_grad_fn("cross_entropy", surrogate)
    counter = [0]

    def hook(net, xb, yb):
        counter[0] += 1
        if kind == "fgsm":
            return fgsm(net, xb, yb, eps=eps, surrogate=surrogate)
        return pgd(net, xb, yb, eps=eps, step=step, steps=steps, random_start=True,
                   seed=seed * 1_000_003 + counter[0], grad_fn=grad_fn)

    return hook
