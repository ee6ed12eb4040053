r"""Backward Pass Differentiable Approximation (BPDA; Athalye, Carlini & Wagner 2018, "Obfuscated
gradients give a false sense of security"), the straight-through form, for capped ReLU.

The forward pass is the real network, caps included. Only the backward pass changes: in each
CAPPED hidden layer the derivative of the activation, 1[0 < z < beta], is replaced by a
surrogate that does not vanish above the cap::

    true       a'(z, beta)  = 1[0 < z < beta]
    "relu"     s(z)         = 1[z > 0]          = 1[a > 0], since a = clip(z, 0, beta) > 0 iff z > 0
    "identity" s(z)         = 1                 (every unit passes its gradient)

so the backward recursion of :mod:`nprelu.network` becomes, for a capped layer i::

    delta_i = dJ/da_i * s(z_i)

Uncapped (plain ReLU) layers keep their true mask 1[z > 0], so on a network without caps BPDA is
exactly the true gradient. The relu surrogate is the derivative of the network with its caps
removed, evaluated at the capped network's activations: it is what an attacker gets by asking
"which way would the logits move if the cap were not there?" and it is non-zero wherever the
cap alone killed the gradient (Section 6 of Sooksatra et al.).

BPDA-PGD is :func:`~nprelu.attacks.pgd.pgd` with this gradient as its ``grad_fn``.
"""
from __future__ import annotations

from functools import partial

from ..losses import cross_entropy_per_sample
from .margin import margin_loss
from .pgd import pgd

SURROGATES = ("relu", "identity")
LOSSES = {"cross_entropy": cross_entropy_per_sample, "margin": margin_loss}


def bpda_caches(net, caches, surrogate="relu"):
    """The caches of ``net.forward`` with each capped hidden layer's mask replaced (module doc).

    ``caches[i] = (a_i, mask_i)``; the activation a_{i+1} of hidden layer i is the next layer's
    input ``caches[i + 1][0]``, so the relu surrogate is ``caches[i + 1][0] > 0``. The identity
    surrogate is the scalar 1.0 (``delta *= 1.0`` leaves it as it is). Nothing is copied for an
    uncapped layer; the input caches are not modified.
    """
    if surrogate not in SURROGATES:
        raise ValueError(f"unknown surrogate {surrogate!r}: choose one of {', '.join(SURROGATES)}")
    out = list(caches)
    for i, beta in enumerate(net.caps):
        if beta is None:
            continue
        a_in = caches[i][0]
        mask = caches[i + 1][0] > 0 if surrogate == "relu" else 1.0
        out[i] = (a_in, mask)
    return out


def bpda_grad(net, x, y, surrogate="relu", loss="cross_entropy"):
    """BPDA input gradient d loss_n / d x_n of each row, through the surrogate masks.

    ``surrogate``: "relu" (1[z > 0]) or "identity" (1), used in capped layers only.
    ``loss``: "cross_entropy" (softmax cross-entropy of the true label, as plain PGD) or
    "margin" (max_{i != y} Z_i - Z_y, see :mod:`~nprelu.attacks.margin`).
    One forward and one backward pass. As a PGD ``grad_fn``: :func:`bpda_grad_fn`.
    """
    try:
        loss_fn = LOSSES[loss]
    except KeyError:
        raise ValueError(f"unknown loss {loss!r}: choose one of {', '.join(LOSSES)}") from None
    logits, caches = net.forward(x)
    _, dlogits = loss_fn(logits, y)
    _, dx = net.backward(dlogits, bpda_caches(net, caches, surrogate), params=False, inputs=True)
    return dx


def bpda_grad_fn(surrogate="relu", loss="cross_entropy"):
    """``grad_fn(net, x, y) -> dx`` computing :func:`bpda_grad`, for PGD and zero-gradient PGD."""
    if surrogate not in SURROGATES:
        raise ValueError(f"unknown surrogate {surrogate!r}: choose one of {', '.join(SURROGATES)}")
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}: choose one of {', '.join(LOSSES)}")
    return partial(bpda_grad, surrogate=surrogate, loss=loss)


def bpda_pgd(net, x, y, eps, step, steps, surrogate="relu", loss="cross_entropy",
             random_start=False, seed=0, early_stop=False, batch_size=10000):
    """PGD (L-infinity, untargeted) whose gradient is the BPDA gradient of the capped network.

    Arguments as :func:`~nprelu.attacks.pgd.pgd`, plus ``surrogate`` and ``loss`` as
    :func:`bpda_grad`. The iterates, their projection and the returned ``x_adv`` are exactly
    PGD's: only the direction of each step differs. On a network without caps the result equals
    ``pgd(net, x, y, eps, step, steps, ...)`` bit for bit (with the same loss).

    Cost per sample: ``steps`` forward and backward passes (plus one forward per step with
    ``early_stop``).
    """
    return pgd(net, x, y, eps, step, steps, random_start=random_start, seed=seed,
               early_stop=early_stop, batch_size=batch_size,
               grad_fn=bpda_grad_fn(surrogate, loss))
