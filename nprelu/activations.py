r"""Activations and their derivatives, side by side.

ReLU and the paper's capped ReLU (Eq. 1)::

    relu(z)           = max(0, z)                 relu'(z)          = 1[z > 0]
    a(z, beta)        = max(0, min(z, beta))      a'(z, beta)       = 1[0 < z < beta]

Both derivatives are undefined at their kinks (z = 0, and z = beta for the cap). We use the
strict masks above, so the derivative is 0 *at* a kink, as Chainer's ``clipped_relu`` and
PyTorch's ``clamp`` do. A unit whose pre-activation sits at or beyond the cap therefore passes
no gradient back: this is the "zero gradient" region of Section 6 of the paper.

``cap=None`` means plain ReLU throughout the package; a cap must be a finite number > 0.

Softmax, computed stably by subtracting the row maximum::

    softmax(z)_k     = exp(z_k - m) / sum_j exp(z_j - m),  m = max_j z_j
    log_softmax(z)_k = z_k - m - log sum_j exp(z_j - m)
"""
from __future__ import annotations

import math

from .backend import array_module


def check_cap(cap):
    """``cap`` as a Python float (or None for plain ReLU); raises ValueError when it is not > 0."""
    if cap is None:
        return None
    try:
        beta = float(cap)
    except (TypeError, ValueError):
        raise ValueError(f"cap must be a number > 0 or None, got {cap!r}") from None
    if not (beta > 0.0 and math.isfinite(beta)):
        raise ValueError(f"cap must be a finite number > 0 (or None for plain ReLU), got {cap!r}")
    return beta


def relu(z):
    """max(0, z)."""
    return array_module(z).maximum(z, 0)


def relu_mask(z):
    """relu'(z) = 1[z > 0], as a boolean array (0 at the kink z = 0)."""
    return z > 0


def capped_relu(z, beta):
    """a(z, beta) = max(0, min(z, beta)) (Eq. 1 of the paper); ``beta=None`` gives plain ReLU."""
    if beta is None:
        return relu(z)
    return array_module(z).clip(z, 0, beta)


def capped_relu_mask(z, beta):
    """a'(z, beta) = 1[0 < z < beta], boolean; 0 at both kinks. ``beta=None`` gives 1[z > 0]."""
    if beta is None:
        return relu_mask(z)
    return (z > 0) & (z < beta)


def log_softmax(z):
    """log softmax over the last axis, stable for large logits."""
    xp = array_module(z)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(z):
    """softmax over the last axis, stable for large logits."""
    xp = array_module(z)
    e = xp.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
