"""Small helpers shared by the attacks: inputs on the network's device and in its dtype."""
from __future__ import annotations

from ..backend import array_module


def prepare(net, x, y):
    """``(x, y, xp)``: ``x`` as a float array of the backend's dtype, ``y`` as integer labels."""
    be = net.backend
    x = be.asarray(x)
    y = be.xp.asarray(y).astype("int64", copy=False)
    if x.ndim != 2:
        raise ValueError(f"x must be a batch of flat inputs (N, d), got shape {x.shape}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must hold one label per row of x ({x.shape[0]}), got shape {y.shape}")
    return x, y, be.xp


def cross_entropy_grad(net, x, y):
    """d loss_n / d x_n for the softmax cross-entropy of each row (the default PGD loss)."""
    return net.input_grad(x, y)[1]


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
