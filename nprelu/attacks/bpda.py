r"""Backward Pass Differentiable Approximation (BPDA; Athalye, Carlini & Wagner 2018, "Obfuscated
gradients give a false sense of security"), the straight-through form, for capped ReLU.

The forward pass is the real network, caps included. Only the backward pass changes: in each
CAPPED hidden layer the derivative of the activation, 1[0 < z < beta], is replaced by a
surrogate that does not vanish above the cap::

    true       a'(z, beta)  = 1[0 < z < beta]
    "relu"     s(z)         = 1[z > 0]          = 1[a > 0], since a = clip(z, 0, beta) > 0 iff z > 0
    "identity" s(z)         = 1                 (every unit passes its gradient)

so the backward pass of :mod:`nprelu.network` becomes, for a capped layer i::

    delta_i = dJ/da_i * s(z_i)

Uncapped (plain ReLU) layers keep their true mask 1[z > 0], so on a network without caps BPDA is
exactly the true gradient. The relu surrogate is the derivative of the network with its caps
removed, evaluated at the capped network's activations: it is what an attacker gets by asking
"which way would the logits move if the cap were not there?" and it is non-zero wherever the
cap alone killed the gradient (Section 6 of Sooksatra et al.).

The surrogates are defined with the capped ReLU (:mod:`nprelu.activations`, where each layer's
backward pass applies them); the BPDA gradient is ``net.input_grad(x, y, loss, surrogate)``,
and BPDA-PGD is :func:`~nprelu.attacks.pgd.pgd` with it as its ``grad_fn``.
"""
from __future__ import annotations

from ..activations import SURROGATES
from ._common import input_grad_fn
from .pgd import pgd

__all__ = ["SURROGATES", "bpda_pgd"]


def bpda_pgd(net, x, y, eps, step, steps, surrogate="relu", loss="cross_entropy",
             random_start=False, seed=0, early_stop=False, batch_size=10000, index=None):
    """PGD (L-infinity, untargeted) whose gradient is the BPDA gradient of the capped network.

    Arguments as :func:`~nprelu.attacks.pgd.pgd` (``index`` among them), plus ``surrogate`` ("relu": 1[z > 0], or
    "identity": 1, used in capped layers only) and ``loss`` ("cross_entropy", the softmax
    cross-entropy of the true label as plain PGD, or "margin": max_{i != y} Z_i - Z_y, see
    :mod:`~nprelu.attacks.margin`). The iterates, their projection and the returned ``x_adv``
    are exactly PGD's: only the direction of each step differs. On a network without caps the
    result equals ``pgd(net, x, y, eps, step, steps, ...)`` bit for bit (with the same loss).

    Cost per sample: ``steps`` forward and backward passes (plus one forward per step with
    ``early_stop``). Inputs and settings are checked as :func:`~nprelu.attacks.pgd.pgd` does.
    """
    if surrogate not in SURROGATES:
        raise ValueError(f"unknown surrogate {surrogate!r}: choose one of {', '.join(SURROGATES)}")
    return pgd(net, x, y, eps, step, steps, random_start=random_start, seed=seed,
               early_stop=early_stop, batch_size=batch_size,
               grad_fn=input_grad_fn(loss, surrogate), index=index)
