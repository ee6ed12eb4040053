r"""Losses on logits, each with its gradient: ``loss(logits, y) -> (loss_n, d loss_n / d logits)``.

Softmax cross-entropy, for logits Z (N x K) and integer labels y, with p = softmax(Z)::

    loss_n = -log p[n, y_n] = logsumexp(Z_n) - Z[n, y_n]
    mean   = (1/N) sum_n loss_n

    d loss_n / d Z[n, k] = p[n, k] - 1[k = y_n]
    d mean   / d Z[n, k] = (p[n, k] - 1[k = y_n]) / N

The untargeted margin loss of Carlini & Wagner (2017), written so that the attacker maximizes
it (> 0: the sample is misclassified)::

    m_n = max_{i != y_n} Z[n, i] - Z[n, y_n],    o_n = argmax_{i != y_n} Z[n, i]  (ties: first)
    d m_n / d Z[n, k] = 1[k = o_n] - 1[k = y_n]

The other-class maximum is taken with the true class masked to -inf, never by zeroing it, so
it is right when every logit is negative.

A weighted sum of logits, for the gradient of one logit (one-hot weights) or of a sum of them::

    s_n = sum_k w[n, k] Z[n, k],      d s_n / d Z[n, k] = w[n, k]

:data:`LOSSES` names the per-sample losses that ``MLP.input_grad`` accepts by name.
"""
from __future__ import annotations

from .activations import log_softmax
from .backend import array_module


def cross_entropy_per_sample(logits, y):
    """(loss_n for each row, d loss_n / d logits): each row's gradient is of its own loss."""
    xp = array_module(logits)
    logp = log_softmax(logits)
    rows = xp.arange(logits.shape[0])
    loss = -logp[rows, y]
    grad = xp.exp(logp)
    grad[rows, y] -= 1
    return loss, grad


def cross_entropy(logits, y):
    """(mean loss as a 0-d array, d mean / d logits).

    The loss stays on the device (``float(loss)`` reads it), so a training loop on a GPU need
    not wait for every batch.
    """
    loss, grad = cross_entropy_per_sample(logits, y)
    n = logits.shape[0]
    grad *= 1.0 / n
    return loss.mean(), grad


def best_other_class(logits, y, rows=None, onehot=None):
    """``(other, o)``: the largest logit of a class other than ``y`` per row, and that class.

    The true class is masked to -inf, never to 0, so the maximum is right when every logit is
    negative; ties go to the first index. ``rows`` = arange(N) and ``onehot`` = (class == y), if
    the caller keeps them across iterations, save recomputing them. Shared by the CW hinge and
    the margin loss.
    """
    xp = array_module(logits)
    if rows is None:
        rows = xp.arange(logits.shape[0])
    if onehot is None:
        onehot = xp.arange(logits.shape[1])[None, :] == y[:, None]
    masked = xp.where(onehot, -xp.inf, logits)
    o = masked.argmax(axis=1)
    return masked[rows, o], o


def logit_margin(logits, y):
    """The margin m = max_{i != y} Z_i - Z_y of each row (no gradient)."""
    return _margin(logits, y)[0]


def margin_loss(logits, y):
    """``(m, dm/dZ)``: the margin max_{i != y} Z_i - Z_y of each row and its logit gradient."""
    m, o, rows = _margin(logits, y)
    grad = array_module(logits).zeros_like(logits)
    grad[rows, o] = 1.0
    grad[rows, y] -= 1.0
    return m, grad


def _margin(logits, y):
    """``(m, o, rows)``: the margin, the best other class o (first on ties), arange(N)."""
    rows = array_module(logits).arange(logits.shape[0])
    other, o = best_other_class(logits, y)
    return other - logits[rows, y], o, rows


def logit_sum(weights):
    """The loss s_n = sum_k weights[n, k] Z[n, k] as ``loss(logits, y) -> (s, weights)``.

    ``y`` is ignored; d s_n / d Z = ``weights`` itself, passed to the backward pass unchanged.
    """
    def loss(logits, y=None):
        return (logits * weights).sum(axis=1), weights
    return loss


LOSSES = {"cross_entropy": cross_entropy_per_sample, "margin": margin_loss}


def get_loss(loss):
    """The per-sample loss ``loss`` names in :data:`LOSSES`, or ``loss`` itself if callable."""
    if callable(loss):
        return loss
    try:
        return LOSSES[loss]
    except (KeyError, TypeError):
        raise ValueError(f"unknown loss {loss!r}: choose one of {', '.join(LOSSES)} or pass "
                         "a callable (logits, y) -> (loss_n, dloss/dlogits)") from None


def dlr_loss(logits, y):
    r"""``(L, dL/dZ)``: the untargeted DLR loss of Croce & Hein (2020), to MAXIMIZE, per row.

    With Z sorted descending as Z_pi1 >= Z_pi2 >= Z_pi3 >= ..., o = argmax_{i != y} Z_i (the
    true class masked to -inf; ties: the first index) and D = Z_pi1 - Z_pi3 + 1e-12::

        L = -(Z_y - Z_o) / D
        dL/dZ_y   = -1/D,        dL/dZ_o   = +1/D           (the numerator)
        dL/dZ_pi1 += (Z_y - Z_o) / D^2,  dL/dZ_pi3 -= (Z_y - Z_o) / D^2   (the denominator)

    Invariant to a shift of the logits and (up to the 1e-12) to a positive scale, so a
    saturated softmax cannot hide the gradient. Needs at least 3 classes. Where logits tie the
    loss has a kink and this is one of its one-sided gradients.
    """
    xp = array_module(logits)
    n, k = logits.shape
    if k < 3:
        raise ValueError(f"the DLR loss needs at least 3 classes (Z_pi3), got {k}")
    rows = xp.arange(n)
    other, o = best_other_class(logits, y, rows)
    order = xp.argsort(-logits, axis=1)
    i1, i3 = order[:, 0], order[:, 2]
    d = logits[rows, i1] - logits[rows, i3] + 1e-12
    num = logits[rows, y] - other
    grad = xp.zeros_like(logits)
    grad[rows, y] -= 1.0 / d
    grad[rows, o] += 1.0 / d
    r = num / (d * d)
    grad[rows, i1] += r
    grad[rows, i3] -= r
    return -num / d, grad


def targeted_dlr_loss(logits, y, target):
    r"""``(L, dL/dZ)``: the targeted DLR loss of Croce & Hein (2020), to MAXIMIZE, per row.

    With Z sorted descending as Z_pi1 >= Z_pi2 >= Z_pi3 >= Z_pi4 >= ..., the target class
    t = ``target`` (one per row, never the true class y) and
    D = Z_pi1 - (Z_pi3 + Z_pi4) / 2 + 1e-12::

        L = -(Z_y - Z_t) / D                                     (> 0: t is above y)
        dL/dZ_y   = -1/D,        dL/dZ_t   = +1/D                (the numerator)
        dL/dZ_pi1 += (Z_y - Z_t) / D^2                           (the denominator)
        dL/dZ_pi3 -= (Z_y - Z_t) / (2 D^2),   dL/dZ_pi4 -= (Z_y - Z_t) / (2 D^2)

    Like :func:`dlr_loss`, invariant to a shift of the logits and (up to the 1e-12) to a
    positive scale. Needs at least 4 classes. Where logits tie the loss has a kink and this is
    one of its one-sided gradients. To pass it to ``MLP.input_grad``, bind the target:
    ``loss=lambda z, y: targeted_dlr_loss(z, y, t)``.
    """
    xp = array_module(logits)
    n, k = logits.shape
    if k < 4:
        raise ValueError(f"the targeted DLR loss needs at least 4 classes (Z_pi4), got {k}")
    target = xp.asarray(target)
    if target.shape != (n,):
        raise ValueError(f"target should hold one class per row, shape ({n},), got "
                         f"{tuple(target.shape)}")
    if bool((target == y).any()):
        raise ValueError("target equals the true class y in some row: a targeted loss needs "
                         "another class")
    rows = xp.arange(n)
    order = xp.argsort(-logits, axis=1)
    i1, i3, i4 = order[:, 0], order[:, 2], order[:, 3]
    d = logits[rows, i1] - 0.5 * (logits[rows, i3] + logits[rows, i4]) + 1e-12
    num = logits[rows, y] - logits[rows, target]
    grad = xp.zeros_like(logits)
    grad[rows, y] -= 1.0 / d
    grad[rows, target] += 1.0 / d
    r = num / (d * d)
    grad[rows, i1] += r
    grad[rows, i3] -= 0.5 * r
    grad[rows, i4] -= 0.5 * r
    return -num / d, grad
