r"""Softmax cross-entropy on logits, with its gradient.

For logits Z (N x K) and integer labels y, with p = softmax(Z)::

    loss_n = -log p[n, y_n] = logsumexp(Z_n) - Z[n, y_n]
    mean   = (1/N) sum_n loss_n

    d loss_n / d Z[n, k] = p[n, k] - 1[k = y_n]
    d mean   / d Z[n, k] = (p[n, k] - 1[k = y_n]) / N
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
