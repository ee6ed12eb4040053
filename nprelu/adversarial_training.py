r"""Adversarial training (Goodfellow et al. 2014 with FGSM; Madry et al. 2017 with PGD).

The min-max problem of Madry et al., approximated batch by batch::

    min_theta  E_(x, y) [ max_{||delta||_inf <= eps} loss(Z(x + delta; theta), y) ]

Each training batch is replaced by its adversarial examples, crafted against the current
weights, before the Adam step: :func:`adversarial_hook` is a ``batch_hook`` for
:func:`nprelu.train.train`. The paper (Section 8) gives eps 0.1 and 10 epochs; it does not say
whether clean and adversarial examples are mixed (we train on the adversarial ones alone, as
Madry et al. do) nor how PGD is run (we use Table 1's evaluation PGD, eps 0.1, step 0.01, 10
steps, from a random point of the eps-ball, as Madry et al.'s training does).
"""
from __future__ import annotations

from .attacks import fgsm, pgd

KINDS = ("fgsm", "pgd")


def adversarial_hook(kind: str, eps: float, seed: int, step: float = 0.01, steps: int = 10):
    """A ``batch_hook(net, x, y) -> x_adv`` replacing each batch by its FGSM or PGD examples.

    ``kind``: "fgsm" or "pgd". ``eps``: L-infinity radius. ``step``, ``steps``: PGD's. PGD's
    random start of batch k is seeded with ``seed * 1_000_003 + k`` (k = 1, 2, ...), so one
    ``seed`` fixes every start of a training run.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown adversarial training {kind!r}: use one of {', '.join(KINDS)}")
    counter = [0]

    def hook(net, xb, yb):
        counter[0] += 1
        if kind == "fgsm":
            return fgsm(net, xb, yb, eps=eps)
        return pgd(net, xb, yb, eps=eps, step=step, steps=steps, random_start=True,
                   seed=seed * 1_000_003 + counter[0])

    return hook
