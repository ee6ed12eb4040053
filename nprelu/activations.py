r"""The capped ReLU and its derivative, side by side, and the softmax.

ReLU and the paper's capped ReLU (Eq. 1)::

    relu(z)           = max(0, z)                 relu'(z)          = 1[z > 0]
    a(z, beta)        = max(0, min(z, beta))      a'(z, beta)       = 1[0 < z < beta]

Both derivatives are undefined at their kinks (z = 0, and z = beta for the cap). We use the
strict masks above, so the derivative is 0 *at* a kink, as Chainer's ``clipped_relu`` and
PyTorch's ``clamp`` do. A unit whose pre-activation sits at or beyond the cap therefore passes
no gradient back: this is the "zero gradient" region of Section 6 of the paper.

``beta=None`` (a "cap" of None) means plain ReLU throughout the package, a(z, None) =
max(0, z); a cap must be a finite number > 0.

The output a = a(z, beta) determines the mask as well as z does: 0 < z < beta iff
0 < a < beta, and z > 0 iff a > 0. The backward pass therefore reads the mask from the cached
output and needs no copy of z.

Backward Pass Differentiable Approximation (BPDA, :mod:`nprelu.attacks.bpda`) replaces the
derivative of a CAPPED unit by a surrogate that does not vanish above the cap (uncapped units
keep 1[z > 0])::

    "relu"     s(z) = 1[z > 0] = 1[a > 0]         the derivative with the cap removed
    "identity" s(z) = 1                           every unit passes its gradient
    "softplus" s(z) = s_k'(z)                     a smooth capped unit's derivative (below)

The smooth surrogate is the derivative of the smooth capped unit, with temperature k::

    s_k(z)  = (softplus(k z) - softplus(k (z - beta))) / k          -> a(z, beta) as k -> inf
    s_k'(z) = sigmoid(k z) - sigmoid(k (z - beta))
            = sigmoid(k z) * sigmoid(k (beta - z)) * (1 - exp(-k beta))

computed in the last form (a product of positive factors: no cancellation, never 0 in float32
for |k z| < ~80). It needs z itself, which the cached output no longer tells apart above the
cap, so the backward pass recomputes z = a_in W + b for capped layers when it is asked for.
OUR choice k = :data:`SOFTPLUS_K` = 1: a temperature on the scale of the pre-activations, not
of beta, so the surrogate carries signal far outside (0, beta); its overall scale (about
k beta / 4 near the slope) does not matter to sign-based attacks (PGD, APGD).

Softmax, computed stably by subtracting the row maximum::

    softmax(z)_k     = exp(z_k - m) / sum_j exp(z_j - m),  m = max_j z_j
    log_softmax(z)_k = z_k - m - log sum_j exp(z_j - m)
"""
from __future__ import annotations

import math

from .backend import array_module

SURROGATES = ("relu", "identity")        # BPDA's straight-through surrogates (bpda_pgd)
SMOOTH_SURROGATES = ("softplus",)        # surrogates that need z: the backward pass recomputes it
SOFTPLUS_K = 1.0                         # OUR choice of the temperature k (module doc)


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


def check_surrogate(surrogate):
    """``surrogate`` unchanged when it is None (the true derivative) or one of :data:`SURROGATES`
    or :data:`SMOOTH_SURROGATES`."""
    if surrogate is not None and surrogate not in SURROGATES + SMOOTH_SURROGATES:
        raise ValueError(f"unknown surrogate {surrogate!r}: choose None or one of "
                         f"{', '.join(SURROGATES + SMOOTH_SURROGATES)}")
    return surrogate


def capped_relu(z, beta, out=None):
    """a(z, beta) = max(0, min(z, beta)) = clip(z, 0, beta) (Eq. 1); ``beta=None``: max(0, z).

    ReLU is computed as clip(z, 0, inf): NumPy's clip with scalar bounds runs about twice as
    fast as maximum(z, 0), with the same result. ``out=z`` computes it in place.
    """
    upper = math.inf if beta is None else beta
    return array_module(z).clip(z, 0.0, upper, out=out)


def capped_relu_mask(z, beta):
    """a'(z, beta) = 1[0 < z < beta], boolean; 0 at both kinks. ``beta=None``: 1[z > 0].

    The same test on the output a = a(z, beta) gives the same mask (module doc).
    """
    if beta is None:
        return z > 0
    return (z > 0) & (z < beta)


def smooth_cap_derivative(z, beta, k=SOFTPLUS_K):
    """s_k'(z) = sigmoid(k z) * sigmoid(k (beta - z)) * (1 - exp(-k beta)) (module doc), in the
    dtype of ``z``; sigmoid(t) = exp(-log(1 + exp(-t))), stable for large |t|."""
    xp = array_module(z)
    beta, k = check_cap(beta), float(k)
    if beta is None or not (k > 0.0 and math.isfinite(k)):
        raise ValueError(f"the smooth capped unit needs a cap > 0 and a finite k > 0, "
                         f"got beta={beta!r}, k={k!r}")
    scale = -math.expm1(-k * beta)          # 1 - exp(-k beta), a Python float
    out = xp.exp(-xp.logaddexp(0.0, -k * z))                       # sigmoid(k z)
    out *= xp.exp(-xp.logaddexp(0.0, k * (z - beta)))             # sigmoid(k (beta - z))
    out *= scale
    return out


def backward_mask(a, beta, surrogate=None, z=None):
    """The mask the backward pass multiplies by, from the activation output ``a``.

    ``surrogate`` None: the true derivative a'(z, beta), as :func:`capped_relu_mask`.
    "relu": 1[a > 0]; "identity": None, meaning all ones (nothing to multiply); "softplus":
    s_k'(z) of the pre-activation ``z`` (:func:`smooth_cap_derivative`; ValueError without it).
    A surrogate only replaces the derivative of a capped unit: with ``beta=None`` the mask is
    always 1[a > 0].
    """
    if beta is None or surrogate is None:
        return capped_relu_mask(a, beta)
    if surrogate == "relu":
        return a > 0
    if surrogate == "identity":
        return None
    if surrogate == "softplus":
        if z is None:
            raise ValueError("the 'softplus' surrogate needs the pre-activation z of the layer")
        return smooth_cap_derivative(z, beta)
    check_surrogate(surrogate)


def capped_relu_backward(dout, mask, out=None):
    """dJ/dz = dJ/da * a'(z, beta) = ``dout * mask``; ``mask=None`` (all ones) returns ``dout``.

    ``out=dout`` multiplies in place.
    """
    if mask is None:
        return dout
    return array_module(dout).multiply(dout, mask, out=out)


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
